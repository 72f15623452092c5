#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# state-pidns.sh: captures in other PID namespaces share the state directory (a DaemonSet's
# pod and `kubectl debug` on one node, both with /run/iptrace from the host), and can't see
# each other's pids. A capture started in another PID namespace, and --cleanup and --list
# run there, take a running capture's state file for a live one (its lock): its rules and
# logger binding stay and it goes on tracing. Once it is killed (SIGKILL), --cleanup from
# the other PID namespace undoes it, and the namespace is as before.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save unshare jq
unshare -p -f --mount-proc true 2>/dev/null || skip "cannot create PID namespaces"
tmp=$(mktemp -d)
cleanup() {
	[ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null
	[ -n "${p1:-}" ] && pkill -9 -P "$p1" 2>/dev/null
	lab_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT
N="$NS_PREFIX-p"
legacy_ns "$N"
snapshot "$N" >"$tmp/before"
# other CMD...: CMD in a PID namespace of its own (as in another container), in $N.
other() {
	unshare -p -f --mount-proc ip netns exec "$N" "$@"
}
rules() {
	ip netns exec "$N" iptables-legacy-save -t raw | grep -c "iptrace:$pid"
}
binding() {
	ip netns exec "$N" cat /proc/sys/net/netfilter/nf_log/2
}

ip netns exec "$N" "$IPTRACE" --port 53 --format json -o "$tmp/a.json" 2>"$tmp/a.err" &
pid=$!
wait_ready "$tmp/a.err" "$pid"
n=$(rules)
[ "$n" -gt 0 ] || fail "no TRACE rules installed"
[ "$(binding)" = nfnetlink_log ] || fail "nf_log/2 not bound: $(binding)"

other "$IPTRACE" --backend nft --port 54 --duration 0.2 -o /dev/null 2>"$tmp/b.err" ||
	fail "a capture in another PID namespace: exit $?: $(cat "$tmp/b.err")"
[ "$(rules)" = "$n" ] && [ "$(binding)" = nfnetlink_log ] ||
	fail "a capture's start in another PID namespace undid live iptrace:$pid ($(rules) of $n \
rules, nf_log/2 $(binding)): $(cat "$tmp/b.err")"
pass "a capture's start in another PID namespace leaves a live capture alone"

other "$IPTRACE" --cleanup >/dev/null 2>"$tmp/c.err" || fail "--cleanup: $(cat "$tmp/c.err")"
[ "$(rules)" = "$n" ] && [ "$(binding)" = nfnetlink_log ] ||
	fail "--cleanup in another PID namespace undid live iptrace:$pid: $(cat "$tmp/c.err")"
other "$IPTRACE" --list >"$tmp/list" 2>"$tmp/l.err" || fail "--list: $(cat "$tmp/l.err")"
grep -Eq "^$pid +live " "$tmp/list" || fail "not listed as live: $(cat "$tmp/list")"
pass "--cleanup and --list in another PID namespace take it for live"

udp_send "$N" 127.0.0.1 53 still-traced
sleep 0.4
kill -9 "$pid"
wait "$pid" 2>/dev/null
grep -q '"type":"packet".*"dport":53' "$tmp/a.json" ||
	fail "the live capture stopped tracing: $(cat "$tmp/a.json" "$tmp/a.err")"
other "$IPTRACE" --cleanup >/dev/null 2>"$tmp/c.err" || fail "--cleanup: $(cat "$tmp/c.err")"
pid=
snapshot "$N" >"$tmp/after"
diff "$tmp/before" "$tmp/after" >&2 || fail "the killed capture was not undone"
ls "$IPTRACE_STATE_DIR"/*.state* >/dev/null 2>&1 && fail "a state file is left"
pass "killed, it is undone by --cleanup from another PID namespace"

# Two captures with one pid (two containers' first process) in one namespace, one state
# directory: the second refuses before it changes anything; with its own directory it runs.
unshare -p -f --mount-proc ip netns exec "$N" "$IPTRACE" --port 53 -o /dev/null \
	2>"$tmp/p1.err" &
p1=$!
wait_ready "$tmp/p1.err" -
grep -q 'rules tagged iptrace:1)' "$tmp/p1.err" || fail "not pid 1 there: $(cat "$tmp/p1.err")"
cp "$IPTRACE_STATE_DIR/1.state" "$tmp/1.state"
ip netns exec "$N" iptables-legacy-save -t raw >"$tmp/raw1"
other "$IPTRACE" --backend nft --port 54 --duration 0.2 -o /dev/null 2>"$tmp/p2.err"
rc=$?
[ $rc = 1 ] || fail "a second pid 1: exit $rc: $(cat "$tmp/p2.err")"
grep -q 'runs in another PID namespace.*its own IPTRACE_STATE_DIR' "$tmp/p2.err" ||
	fail "a second pid 1: $(cat "$tmp/p2.err")"
cmp -s "$IPTRACE_STATE_DIR/1.state" "$tmp/1.state" || fail "the first one's state file changed"
ip netns exec "$N" iptables-legacy-save -t raw | diff "$tmp/raw1" - >&2 ||
	fail "the first one's rules changed"
IPTRACE_STATE_DIR=$tmp/own other "$IPTRACE" --backend nft --port 54 --duration 0.2 \
	-o /dev/null 2>"$tmp/p3.err" || fail "with its own state directory: $(cat "$tmp/p3.err")"
cmp -s "$IPTRACE_STATE_DIR/1.state" "$tmp/1.state" || fail "the first one's state file changed"
pkill -INT -P "$p1"	# unshare's child: iptrace, pid 1 there
wait "$p1" || fail "the first pid 1: exit $?: $(cat "$tmp/p1.err")"
snapshot "$N" >"$tmp/after"
diff "$tmp/before" "$tmp/after" >&2 || fail "the namespace is not as before"
pass "a second capture with the same pid refuses to share the state directory, and runs with its own"
