#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# netns-reuse.sh: a dead capture's state is never applied to another namespace. Capture in
# namespace A, SIGKILL, delete A, create namespaces until one (B) gets A's nsfs inode number
# (the kernel reuses them) — or, when none does here, forge the state file to name B's inode
# with A's cookie. B binds nf_log/2 to nfnetlink_log itself and has a rule of its own with the
# dead capture's tag: neither `iptrace --netns B --cleanup` nor the one for every namespace may
# touch B (A's netns cookie, SO_NETNS_COOKIE, is not B's); the latter says why and drops
# the file (A, and all it had, is gone).
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
D=$IPTRACE_STATE_DIR
A="$NS_PREFIX-a"
legacy_ns "$A"
ip netns exec "$A" "$IPTRACE" --port 53 -o /dev/null 2>"$tmp/a.err" &
pid=$!
wait_ready "$tmp/a.err" "$pid"
kill -9 "$pid"
wait "$pid" 2>/dev/null
state=$D/$pid.state
[ -f "$state" ] || fail "the killed capture left no state file"
grep -q '^netns_cookie=[1-9]' "$state" || skip "no netns cookie recorded (SO_NETNS_COOKIE needs Linux 5.14)"
ino_a=$(stat -L -c %i "/run/netns/$A")
ip netns del "$A"

# Namespaces are freed in the background; a new one gets the lowest free inode number.
how="forged: no new namespace got A's inode number here"
B=
for i in $(seq 1 30); do
	ns_add "$NS_PREFIX-b$i"
	if [ "$(stat -L -c %i "/run/netns/$NS_PREFIX-b$i")" = "$ino_a" ]; then
		B="$NS_PREFIX-b$i"
		how="the kernel gave B A's inode number $ino_a"
		break
	fi
	sleep 0.05
done
if [ -z "$B" ]; then
	B="$NS_PREFIX-b1"
	ino_b=$(stat -L -c %i "/run/netns/$B")
	sed -i "s/^netns=\([0-9]*\):.*/netns=\1:$ino_b/" "$state"
fi
echo "note: $how"
ip netns exec "$B" iptables-legacy -w -t raw -A PREROUTING -p udp --dport 53 \
	-m comment --comment "iptrace:$pid" -j ACCEPT
ip netns exec "$B" sh -c 'echo nfnetlink_log >/proc/sys/net/netfilter/nf_log/2'
snapshot "$B" >"$tmp/b.before"
grep -q "iptrace:$pid" "$tmp/b.before" || fail "B's own tagged rule is missing"

# Only B's own captures (--netns): A's file is not B's.
"$IPTRACE" --netns "$B" --cleanup >/dev/null 2>"$tmp/here.err" ||
	fail "--cleanup --netns B: exit $?: $(cat "$tmp/here.err")"
grep -q "0 stale capture(s) cleaned up" "$tmp/here.err" || fail "$(cat "$tmp/here.err")"
[ -f "$state" ] || fail "--cleanup --netns B dropped A's state file"

"$IPTRACE" --cleanup >/dev/null 2>"$tmp/all.err" || fail "--cleanup: exit $?: $(cat "$tmp/all.err")"
grep -q "iptrace:$pid: net:\[[0-9]*\] is another namespace now (its cookie differs: the inode number was reused); the capture's namespace is gone, nothing to undo" \
	"$tmp/all.err" || fail "--cleanup did not say why it left B alone: $(cat "$tmp/all.err")"
grep -q "removed\|restored" "$tmp/all.err" && fail "--cleanup changed something: $(cat "$tmp/all.err")"
[ -f "$state" ] && fail "the dead capture's state file is left"
snapshot "$B" >"$tmp/b.after"
diff "$tmp/b.before" "$tmp/b.after" >&2 || fail "--cleanup changed namespace B"
pass "B ($how) left alone: its nfnetlink_log binding and its own iptrace:$pid rule stay"
