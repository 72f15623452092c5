#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# merge-fixture.sh: --merge of two nodes' recorded JSON outputs (tests/data/merge-node-*.json,
# from nodes.sh's VXLAN lab), in every format it prints, from files and from one stream
# with garbage in it; --node on --read output. No root needed.
set -u
source "$TESTS_LIB"
need_cmd jq
A=${TEST_DATA_DIR:-$SRCDIR/tests/data}/merge-node-a.json
B=${TEST_DATA_DIR:-$SRCDIR/tests/data}/merge-node-b.json
MSG=${TEST_DATA_DIR:-$SRCDIR/tests/data}/kube-dns-trace.messages
[ -r "$A" ] && [ -r "$B" ] && [ -r "$MSG" ] || fail "no fixtures in $(dirname "$A")"
WORK=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$WORK"' EXIT

# JSON: the query (node-a's 9 steps with the DNAT, node-b's 8), the reply (2 and 2).
"$IPTRACE" --merge "$A" "$B" --format json >"$WORK/json" 2>"$WORK/err" || fail "json: exit $?"
[ ! -s "$WORK/err" ] || fail "json: unexpected stderr: $(cat "$WORK/err")"
got=$(jq -r 'select(.type == "packet") | "\(.id) \(.node) \([.steps[].node] | group_by(.) |
	map("\(.[0])=\(length)") | join(","))"' "$WORK/json" | tr '\n' ';')
[ "$got" = "1 node-a node-a=9,node-b=8;2 node-b node-a=2,node-b=2;" ] || fail "json: '$got'"
jq -se '.[0].steps | (.[4].verdict == "DNAT") and (.[4].nat.dst == ["10.96.0.10:53",
	"10.244.2.5:53"]) and (.[8].node == "node-a") and (.[9].node == "node-b") and
	(.[9].in == "vxlan0") and (.[8].ttl == .[9].ttl) and (.[-1].out == "vpb")' "$WORK/json" \
	>/dev/null || fail "json: the query's path: $(head -n 1 "$WORK/json")"
tail -n 1 "$WORK/json" | jq -e '.type == "summary" and .packets == 2 and .records == 21 and
	.lost == 0 and (has("node") | not)' >/dev/null || fail "json: summary: $(tail -n 1 "$WORK/json")"
pass "json: 2 packets, node-a's steps then node-b's, DNAT on node-a, delivered on node-b"

# text: "nodes A → B" in the header, a node column.
"$IPTRACE" --merge "$A" "$B" --color never >"$WORK/text" 2>"$WORK/err" || fail "text: exit $?"
grep -q '^packet 1  udp 10.244.1.2:[0-9]* → 10.96.0.10:53  id [0-9]*  len [0-9]*  .*  nodes node-a → node-b$' \
	"$WORK/text" || fail "text: header: $(cat "$WORK/text")"
[ "$(grep -c '^  node-a ' "$WORK/text")" = 11 ] && [ "$(grep -c '^  node-b ' "$WORK/text")" = 10 ] ||
	fail "text: node column: $(cat "$WORK/text")"
grep -q '2 packets from 2 nodes: 2 seen on more than one' "$WORK/err" ||
	fail "text: summary line: $(cat "$WORK/err")"
pass "text: nodes in the header, a node column"

# --skew 0: the nodes' times differ by microseconds, so nothing joins.
"$IPTRACE" --merge "$A" "$B" --skew 0 --format json >"$WORK/skew" || fail "--skew 0: exit $?"
[ "$(jq -s '[.[] | select(.type == "packet")] | length' "$WORK/skew")" = 4 ] ||
	fail "--skew 0: want 4 packets: $(cat "$WORK/skew")"
# --count 1: the first packet only.
"$IPTRACE" --merge "$A" "$B" --format json --count 1 >"$WORK/count" || fail "--count: exit $?"
[ "$(jq -s '[.[] | select(.type == "packet")] | length' "$WORK/count")" = 1 ] ||
	fail "--count 1: $(cat "$WORK/count")"
pass "--skew 0 keeps the nodes apart, --count 1 stops after one"

# One stream: kubectl's prefixes, diagnostics, a truncated line and other garbage among
# the lines: the same packets, the garbage counted and said, exit 0.
{
	echo "[pod/iptrace-a1/iptrace] iptrace: tracing port 53 with the legacy marker"
	sed 's|^|[pod/iptrace-a1/iptrace] |' "$A"
	echo '[pod/iptrace-b2/iptrace] {"type":"packet","id":"7","steps":[{"backend":'
	sed 's|^|[pod/iptrace-b2/iptrace] |' "$B"
	echo '{"type":"packet","id":"8","family":"ipv4","proto":"udp","len":1,"steps":[]}'
	printf '\x01\xff{{{\n'
} >"$WORK/stream"
"$IPTRACE" --merge - --format json <"$WORK/stream" >"$WORK/sjson" 2>"$WORK/err" ||
	fail "stream: exit $?"
diff <(jq -c 'select(.type == "packet")' "$WORK/json") <(jq -c 'select(.type == "packet")' "$WORK/sjson") ||
	fail "stream: other packets than from the files"
tail -n 1 "$WORK/sjson" | jq -e '.malformed == 2' >/dev/null ||
	fail "stream: summary: $(tail -n 1 "$WORK/sjson")"
grep -q "warning: 2 lines that look like JSON but are not iptrace's were skipped (the first: stdin:5: not JSON)" \
	"$WORK/err" || fail "stream: warning: $(cat "$WORK/err")"
pass "stream: kubectl prefixes and garbage: same packets, 2 malformed lines said"

# journal needs a journal; a missing file is a runtime error.
"$IPTRACE" --merge "$A" "$WORK/no-such-file" >/dev/null 2>"$WORK/err"
[ $? = 1 ] && grep -q "cannot open '$WORK/no-such-file'" "$WORK/err" ||
	fail "missing input: $(cat "$WORK/err")"
pass "a missing input: exit 1, said"

# --node on --read: in the JSON always, in the text header with --node only.
"$IPTRACE" --read "$MSG" --node worker-7 --format json --count 1 >"$WORK/node" ||
	fail "--node: exit $?"
jq -se '.[0].node == "worker-7" and .[1].node == "worker-7" and
	([.[0].steps[] | has("node")] | any | not)' "$WORK/node" >/dev/null ||
	fail "--node json: $(cat "$WORK/node")"
"$IPTRACE" --read "$MSG" --format json --count 1 | jq -se '.[0] | has("node") | not' >/dev/null ||
	fail "--read without --node names a node"
"$IPTRACE" --read "$MSG" --node worker-7 --count 1 --color never | head -n 1 |
	grep -q '  node worker-7$' || fail "--node text header"
"$IPTRACE" --read "$MSG" --count 1 --color never | head -n 1 | grep -q 'node' &&
	fail "text names a node without --node"
"$IPTRACE" --read "$MSG" --node "$(printf 'a\001b')" >/dev/null 2>"$WORK/err"
[ $? = 2 ] && grep -q 'invalid node name' "$WORK/err" || fail "--node with a control byte"
pass "--node: JSON and text; none by default for --read; control bytes refused"
