#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# read-filter.sh: selectors filter --replay, --read and --merge. A packet shows when one of
# its steps matches (before or after NAT); the rest are counted ("filtered"). What each
# selector must keep is worked out with jq from the unfiltered output, step by step.
set -u
source "$TESTS_LIB"
need_cmd jq
DATA=${TEST_DATA_DIR:-$SRCDIR/tests/data}
WORK=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$WORK"' EXIT

# kernel-trace.nlrec: UDP with DNAT, TCP, ICMP over IPv4 and IPv6, forwarded if2 -> if3.
REC=$DATA/kernel-trace.nlrec
"$IPTRACE" --replay "$REC" --format json >"$WORK/all" || fail "replay: exit $?"
total=$(jq -s '[.[] | select(.type == "packet")] | length' "$WORK/all")
[ "$total" -ge 10 ] || fail "the recording gave $total packets"

# check NAME TEST SELECTOR...: the packets kept are those with a step for which the jq
# TEST holds ($p: the packet, .: the step), in order; the summary counts the others.
check() {
	local name=$1 test=$2 want got n
	shift 2
	want=$(jq -r "select(.type == \"packet\") | . as \$p | select(any(.steps[]; $test)) | .id" \
		"$WORK/all")
	[ -n "$want" ] || fail "$name: the recording has no packet for it"
	"$IPTRACE" --replay "$REC" --format json "$@" >"$WORK/out" || fail "$name: exit $?"
	got=$(jq -r 'select(.type == "packet") | .id' "$WORK/out")
	[ "$got" = "$want" ] || fail "$name: kept $(echo $got), want $(echo $want)"
	n=$(echo "$want" | wc -l)
	tail -n 1 "$WORK/out" | jq -e --argjson n "$n" --argjson t "$total" \
		'.type == "summary" and .packets == $n and (.filtered // 0) == $t - $n' >/dev/null ||
		fail "$name: summary $(tail -n 1 "$WORK/out")"
	pass "$name: $n of $total packets kept, the others counted as filtered"
}
check "--proto tcp" '$p.proto == "tcp"' --proto tcp
check "-6" '$p.family == "ipv6"' -6
check "--port 53" '.sport == 53 or .dport == 53' --port 53
check "--sport 9" '$p.proto == "tcp" and .sport == 9' --sport 9
check "--dest 10.0.2.7 (after DNAT too)" '.dst == "10.0.2.7"' --dest 10.0.2.7
check "--host 2001:db8:2::/64" '$p.family == "ipv6"' --host 2001:db8:2::/64
check "--src 10.0.2.7 --proto icmp" '.src == "10.0.2.7" and $p.proto == "icmp"' \
	--src 10.0.2.7 --proto icmp
check "--iface if3 -4" '$p.family == "ipv4" and (.in == "if3" or .out == "if3")' --iface if3 -4

# --count counts packets shown; --no-group filters records.
"$IPTRACE" --replay "$REC" --format json -6 --count 1 >"$WORK/out" || fail "--count: exit $?"
[ "$(jq -r 'select(.type == "packet") | .id' "$WORK/out")" = \
  "$(jq -r 'select(.type == "packet" and .family == "ipv6") | .id' "$WORK/all" | head -n 1)" ] ||
	fail "-6 --count 1: not the first IPv6 packet"
want=$(jq -s '[.[] | select(.type == "packet" and .proto == "icmpv6") | .steps[]] | length' "$WORK/all")
"$IPTRACE" --replay "$REC" --format json --no-group --proto icmpv6 >"$WORK/out" ||
	fail "--no-group: exit $?"
got=$(jq -s '[.[] | select(.type == "record")] | length' "$WORK/out")
[ "$got" = "$want" ] || fail "--no-group --proto icmpv6: $got records, want $want"
pass "--count counts the packets shown; --no-group keeps the $want matching records"

# --read of the kernel's lines: one of three DNS queries went to 10.32.0.7, not 10.44.0.47.
"$IPTRACE" --read "$DATA/kube-dns-trace.messages" --dest 10.44.0.47 >"$WORK/text" \
	2>"$WORK/err" || fail "--read: exit $?"
[ "$(grep -c '^packet ' "$WORK/text")" = 2 ] || fail "--read --dest: $(grep -c '^packet ' "$WORK/text") packets"
grep -q '10.96.0.10:53 → 10.44.0.47:53' "$WORK/text" || fail "--read --dest: no DNAT to it"
grep -q '10.32.0.7' "$WORK/text" && fail "--read --dest: the other endpoint's packet shown"
grep -q '^iptrace: 1 packet not matching the selectors left out$' "$WORK/err" ||
	fail "--read: text summary: $(cat "$WORK/err")"
pass "--read --dest keeps the 2 queries DNATed to it and says 1 was left out"

# --merge: the reply only.
"$IPTRACE" --merge "$DATA/merge-node-a.json" "$DATA/merge-node-b.json" --format json \
	--sport 53 >"$WORK/out" || fail "--merge: exit $?"
got=$(jq -r 'select(.type == "packet") | "\(.src):\(.sport)"' "$WORK/out")
[ "$got" = "10.244.2.5:53" ] || fail "--merge --sport 53: '$got'"
pass "--merge --sport 53 keeps the reply alone"

# What can't filter is still refused.
for a in "--read $DATA/kube-dns-trace.messages --limit 10/s" "--replay $REC --limit 10/s" \
	 "--merge $DATA/merge-node-a.json --limit 1/s" "--replay $REC -4 --dest 2001:db8::1"; do
	"$IPTRACE" $a >/dev/null 2>"$WORK/err"
	rc=$?
	[ $rc = 2 ] || fail "'$a': exit $rc, want 2"
	[ "$(wc -l <"$WORK/err")" = 1 ] || fail "'$a': $(cat "$WORK/err")"
done
pass "--limit with --read/--replay/--merge and -4 with an IPv6 address: usage errors"
