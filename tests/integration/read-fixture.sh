#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# read-fixture.sh: --read of kernel TRACE lines from the field, in every format and from stdin.
set -u
source "$TESTS_LIB"
need_cmd jq
FIXTURE=${TEST_DATA_DIR:-$SRCDIR/tests/data}/kube-dns-trace.messages
[ -r "$FIXTURE" ] || fail "no fixture $FIXTURE"
WORK=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$WORK"' EXIT

# JSON: 3 packet lines, then the summary, last.
"$IPTRACE" --read "$FIXTURE" --format json >"$WORK/json" 2>"$WORK/err" || fail "json: exit $?"
[ ! -s "$WORK/err" ] || { cat "$WORK/err" >&2; fail "json: unexpected stderr"; }
[ "$(wc -l <"$WORK/json")" = 4 ] || fail "json: $(wc -l <"$WORK/json") lines, want 4"
got=$(jq -r 'select(.type == "packet") | "\(.ipid):\(.steps | length)"' "$WORK/json" | tr '\n' ' ')
[ "$got" = "20539:22 20790:21 20808:22 " ] || fail "json packets: '$got'"
got=$(jq -r 'select(.type == "packet") | "\(.steps[0].dst) \(.steps[-1].dst)"' "$WORK/json" | tr '\n' ' ')
[ "$got" = "10.96.0.10 10.44.0.47 10.96.0.10 10.32.0.7 10.96.0.10 10.44.0.47 " ] ||
	fail "json: DNAT not visible: '$got'"
tail -n 1 "$WORK/json" | jq -e '.type == "summary" and .packets == 3 and .records == 65' \
	>/dev/null || fail "json: bad summary: $(tail -n 1 "$WORK/json")"
pass "json: 3 packets (22, 21, 22 steps), DNAT visible, summary last"

# log: the TRACE part of every line, with the trailing space syslog stripped; grouped per
# packet (this fixture lists its packets one after the other, so the order is the same).
sed 's/^.*TRACE: /TRACE: /; s/$/ /' "$FIXTURE" >"$WORK/want"
"$IPTRACE" --read "$FIXTURE" --format log >"$WORK/log" || fail "log: exit $?"
diff "$WORK/want" "$WORK/log" >&2 || fail "log: lines differ from the fixture"
"$IPTRACE" --read "$FIXTURE" --format log --no-group >"$WORK/log" || fail "log --no-group: exit $?"
diff "$WORK/want" "$WORK/log" >&2 || fail "log --no-group: lines differ from the fixture"
"$IPTRACE" --read "$FIXTURE" --format log --count 1 >"$WORK/log" || fail "log --count: exit $?"
diff <(head -n 22 "$WORK/want") "$WORK/log" >&2 || fail "log --count 1: not the first packet"
"$IPTRACE" --read "$FIXTURE" --format log --log-time --count 1 >"$WORK/log" ||
	fail "log --log-time: exit $?"
grep -qv '^Mar 30 19:33:2[78] TRACE: ' "$WORK/log" && fail "log --log-time: bad prefix"
pass "log: the fixture's TRACE lines come back, grouped, ungrouped, with --count and --log-time"

# stdin, and --read of our own --log-time output.
"$IPTRACE" --read - --format json <"$FIXTURE" >"$WORK/stdin" || fail "stdin: exit $?"
cmp -s "$WORK/json" "$WORK/stdin" || fail "--read - differs from --read FILE"
"$IPTRACE" --read "$FIXTURE" --format log --log-time | "$IPTRACE" --read - --format json \
	>"$WORK/again" || fail "re-read: exit $?"
got=$(jq -r 'select(.type == "packet") | "\(.ipid):\(.steps | length)"' "$WORK/again" | tr '\n' ' ')
[ "$got" = "20539:22 20790:21 20808:22 " ] || fail "re-read of --log-time output: '$got'"
pass "--read - works, and reads --format log output back"

# text: 3 packet blocks; the summary on stderr.
"$IPTRACE" --read "$FIXTURE" --format text --color never >"$WORK/text" 2>"$WORK/err" ||
	fail "text: exit $?"
[ "$(grep -c '^packet ' "$WORK/text")" = 3 ] || fail "text: $(grep -c '^packet ' "$WORK/text") blocks"
grep -q '^packet 1 .*udp 10.44.0.44:43834 .* 10.96.0.10:53 .*id 20539' "$WORK/text" ||
	fail "text: first packet header wrong"
grep -q 'dst 10.96.0.10:53 .* 10.44.0.47:53' "$WORK/text" || fail "text: DNAT not shown"
grep -q '3 packets, 65 records' "$WORK/err" || fail "text: summary: $(cat "$WORK/err")"
"$IPTRACE" --read "$FIXTURE" --format text --no-group --color never >"$WORK/text" 2>/dev/null ||
	fail "text --no-group: exit $?"
[ "$(wc -l <"$WORK/text")" = 65 ] || fail "text --no-group: $(wc -l <"$WORK/text") lines"
"$IPTRACE" --read "$FIXTURE" --format json --no-group >"$WORK/json" || fail "json --no-group"
got=$(jq -s -c '[(map(select(.type == "record")) | length), .[-1].type]' "$WORK/json")
[ "$got" = '[65,"summary"]' ] || fail "json --no-group: $got"
pass "text: 3 packet blocks with the DNAT; --no-group prints records in text and json"
