#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# marks-restored.sh: another program rewrites the raw table whole during a capture
# (iptables-restore of a save taken before it, as a firewall reload does): iptrace's TRACE
# rules are put back within a second and said on stderr, packets after that are traced
# again, and the end leaves the namespace as it was and says how many times they were put back.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save iptables-legacy-restore jq
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
lab_up
ip netns exec "$R" iptables-legacy -w -t filter -A FORWARD -p udp --dport 53 -j ACCEPT
ip netns exec "$R" iptables-legacy -w -t raw -A PREROUTING -p tcp --dport 9 -j ACCEPT
ip netns exec "$R" iptables-legacy-save -t raw >"$tmp/raw.save"
snapshot "$R" | strip_counters >"$tmp/before"
ours() { ip netns exec "$R" iptables-legacy-save -t raw | grep -c "iptrace:$pid"; }

ip netns exec "$R" "$IPTRACE" --port 53 --format json >"$tmp/out" 2>"$tmp/err" &
pid=$!
wait_ready "$tmp/err" "$pid"
n=$(ours)
[ "$n" -gt 0 ] || fail "no TRACE rules installed"
udp_send "$C" 10.0.2.7 53 before-the-reload
ip netns exec "$R" iptables-legacy-restore -w <"$tmp/raw.save" || fail "restore failed"
[ "$(ours)" = 0 ] || fail "the restore left our rules: not the case under test"
for i in $(seq 1 40); do
	[ "$(ours)" = "$n" ] && break
	sleep 0.1
done
[ "$(ours)" = "$n" ] || fail "the TRACE rules were not put back: $(ours) of $n"
udp_send "$C" 10.0.2.7 53 after-the-reload
# A second reload within the minute the warning is not repeated: the end says the total.
ip netns exec "$R" iptables-legacy-restore -w <"$tmp/raw.save" || fail "restore failed"
for i in $(seq 1 40); do
	[ "$(ours)" = "$n" ] && break
	sleep 0.1
done
[ "$(ours)" = "$n" ] || fail "the TRACE rules were not put back a second time: $(ours) of $n"
sleep 0.5
kill -INT "$pid"
wait "$pid" || fail "exit $?: $(cat "$tmp/err")"
grep -q "warning: another program rewrote the raw table and removed iptrace's TRACE rules" \
	"$tmp/err" || fail "not said: $(cat "$tmp/err")"
grep -q "warning: iptrace's TRACE rules were put back 2 times in all" "$tmp/err" ||
	fail "the second put-back is not in the total at the end: $(cat "$tmp/err")"
[ "$(jq -s '[.[] | select(.type == "packet" and .dport == 53)] | length' "$tmp/out")" = 2 ] ||
	fail "not both datagrams traced: $(cat "$tmp/out")"
snapshot "$R" | strip_counters >"$tmp/after"
diff "$tmp/before" "$tmp/after" >&2 || fail "the namespace is not as it was"
pass "raw table rewritten under a capture: TRACE rules put back and said, tracing goes on"
