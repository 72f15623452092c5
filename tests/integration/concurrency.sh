#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# concurrency.sh: a foreign writer adds and deletes raw rules with iptables-legacy (which takes
# the xtables lock) while captures start and stop in the same namespace. No foreign change
# may be lost, no iptrace rule may stay, and the table must stay sane. libiptc commits the
# whole table: without the lock, a commit racing the writer silently drops its edit.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save
tmp=$(mktemp -d)
trap 'kill "$writer" 2>/dev/null; lab_cleanup; rm -rf "$tmp"' EXIT
N="$NS_PREFIX-x"
legacy_ns "$N"
ip netns exec "$N" iptables-legacy -w -t raw -A OUTPUT -p tcp --dport 9 -j ACCEPT

# The writer: appends foreign-i to PREROUTING and OUTPUT, and deletes foreign-(i-1) from
# PREROUTING on odd i; it records what the table must hold at the end.
writer_loop() {
	local i=1 ipt="ip netns exec $N iptables-legacy -w -t raw"
	while [ ! -e "$tmp/stop" ]; do
		$ipt -A PREROUTING -p udp --dport $((1000 + i)) -m comment --comment "foreign-$i" -j ACCEPT
		$ipt -A OUTPUT -p udp --dport $((1000 + i)) -m comment --comment "foreign-$i" -j ACCEPT
		if [ $((i % 2)) = 1 ] && [ "$i" -gt 1 ]; then
			$ipt -D PREROUTING -p udp --dport $((999 + i)) -m comment \
				--comment "foreign-$((i - 1))" -j ACCEPT
		fi
		echo "$i" >"$tmp/last"
		i=$((i + 1))
	done
}
writer_loop &
writer=$!

runs=0
for i in $(seq 1 25); do
	ip netns exec "$N" "$IPTRACE" --port $((2000 + i)) --format json --duration 0.05 \
		>/dev/null 2>"$tmp/err" || fail "capture $i failed: $(cat "$tmp/err")"
	runs=$((runs + 1))
done
touch "$tmp/stop"
wait "$writer"
last=$(cat "$tmp/last")

# What the writer's edits must have left, in order.
want_pre=$(for i in $(seq 1 "$last"); do
	# foreign-j is deleted from PREROUTING when j+1 is odd and j+1 <= last.
	if [ $(((i + 1) % 2)) = 1 ] && [ $((i + 1)) -le "$last" ]; then continue; fi
	echo "foreign-$i"
done)
want_out=$(seq 1 "$last" | sed 's/^/foreign-/')
got_pre=$(ip netns exec "$N" iptables-legacy-save -t raw | grep -- '-A PREROUTING' | grep -o 'foreign-[0-9]*')
got_out=$(ip netns exec "$N" iptables-legacy-save -t raw | grep -- '-A OUTPUT' | grep -o 'foreign-[0-9]*')
[ "$got_pre" = "$want_pre" ] || fail "PREROUTING lost a foreign change: $(diff <(echo "$want_pre") <(echo "$got_pre") | head)"
[ "$got_out" = "$want_out" ] || fail "OUTPUT lost a foreign change: $(diff <(echo "$want_out") <(echo "$got_out") | head)"
ip netns exec "$N" iptables-legacy-save -t raw | grep -q 'iptrace:' && fail "iptrace rules left behind"
ip netns exec "$N" iptables-legacy-save -t raw | grep -q -- '--dport 9 -j ACCEPT' || fail "pre-existing rule gone"
echo "concurrency: $runs captures while the writer made $last rounds of edits; none lost"
pass "concurrent writer"
