#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# xtables-lock.sh: iptables' lock held by another program (flock(1) on $XTABLES_LOCKFILE, a
# file of this test's own: never the host's /run/xtables.lock). Set-up changes nothing while
# it waits, says after a second who holds the lock, ends at once on SIGINT (exit 0) and gives
# up after --wait (exit 1, iptables' words); a freed lock lets it go on. A teardown that can't
# get the lock leaves rules and logger binding as they were, says so and leaves the state
# file; --cleanup then undoes both; a second signal ends teardown's wait. A FIFO given as
# --output without a reader is waited for, said after a second, and a signal ends the wait.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save flock mkfifo pgrep
tmp=$(mktemp -d)
export XTABLES_LOCKFILE=$tmp/xtables.lock
holder=
trap 'release_lock; lab_cleanup; rm -rf "$tmp"' EXIT
N="$NS_PREFIX-l"
legacy_ns "$N"
snapshot "$N" >"$tmp/before"
grep -q '^## nf_log/2 nfnetlink_log' "$tmp/before" && fail "nf_log/2 is nfnetlink_log already"

# flock -o: the lock is flock(1)'s own, not its child's; releasing is killing both by pid.
hold_lock() {
	flock -o "$XTABLES_LOCKFILE" sleep 120 &
	holder=$!
	for _ in $(seq 1 100); do
		flock -n "$XTABLES_LOCKFILE" true || return 0
		sleep 0.02
	done
	fail "flock did not take $XTABLES_LOCKFILE"
}
release_lock() {
	local child
	[ -n "$holder" ] || return 0
	child=$(pgrep -P "$holder")
	kill "$holder" ${child:+"$child"} 2>/dev/null
	wait "$holder" 2>/dev/null
	holder=
}
# gone PID SECONDS: true when PID ends within SECONDS (a bound far below the waits at stake).
gone() {
	for _ in $(seq 1 $(($2 * 20))); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}
unchanged() {
	snapshot "$N" >"$tmp/now"
	diff "$tmp/before" "$tmp/now" >&2 || fail "$1: rules or bindings changed"
	ls "$IPTRACE_STATE_DIR"/*.state >/dev/null 2>&1 && fail "$1: a state file was written"
	return 0
}
# Not a function: "${capture[@]}" ... & must make $! iptrace's own pid.
capture=(ip netns exec "$N" "$IPTRACE" --port 53 --format json)
# begin K WAIT: capture K (output $tmp/outK, stderr $tmp/errK) with --wait WAIT, ready; $pid.
begin() {
	"${capture[@]}" --wait "$2" -o "$tmp/out$1" 2>"$tmp/err$1" &
	pid=$!
	wait_ready "$tmp/err$1" "$pid"
}

# 1. Set-up waits with everything as it was, says who holds the lock, and SIGINT ends it.
hold_lock
"${capture[@]}" --wait 60 -o "$tmp/out1" 2>"$tmp/err1" &
pid=$!
sleep 1.5
grep -q "waiting for the xtables lock ($XTABLES_LOCKFILE), held by PID $holder (flock), for up to 60 s (--wait)" \
	"$tmp/err1" || fail "no 'waiting for the xtables lock' line naming flock: $(cat "$tmp/err1")"
unchanged "while waiting for the lock"
kill -INT "$pid"
gone "$pid" 3 || fail "SIGINT did not end the wait for the xtables lock"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || fail "SIGINT during the wait: exit $rc, not 0: $(cat "$tmp/err1")"
grep -q "interrupted while waiting for the xtables lock ($XTABLES_LOCKFILE): nothing was changed" \
	"$tmp/err1" || fail "no interruption line: $(cat "$tmp/err1")"
unchanged "after SIGINT in the wait"
pass "set-up waits with nothing changed, names PID $holder (flock), SIGINT ends it (exit 0)"

# 2. --wait bounds it: exit 1, iptables' kind of message, nothing changed.
"${capture[@]}" --wait 1 -o "$tmp/out2" 2>"$tmp/err2"
rc=$?
[ "$rc" = 1 ] || fail "--wait 1 with the lock held: exit $rc, not 1"
grep -q "another app is currently holding the xtables lock ($XTABLES_LOCKFILE, PID $holder (flock)); stopped waiting after 1 s (--wait): nothing was changed" \
	"$tmp/err2" || fail "no iptables-like message: $(cat "$tmp/err2")"
unchanged "after --wait 1"
pass "--wait 1: exit 1 with iptables' kind of message, nothing changed"

# 3. The lock freed during the wait: the capture goes on, and ends restored.
"${capture[@]}" --wait 60 -o "$tmp/out3" 2>"$tmp/err3" &
pid=$!
sleep 1.2
release_lock
wait_ready "$tmp/err3" "$pid"
[ "$(ip netns exec "$N" cat /proc/sys/net/netfilter/nf_log/2)" = nfnetlink_log ] ||
	fail "not bound after the lock was freed"
kill -INT "$pid"
wait "$pid" || fail "capture after the wait: exit $?: $(cat "$tmp/err3")"
unchanged "after a capture that waited"
pass "a lock freed during the wait lets the capture go on"

# 4. Teardown can't get the lock within --wait: rules and binding stay, the state file says.
begin 4 1
hold_lock
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" = 1 ] || fail "teardown without the lock: exit $rc, not 1: $(cat "$tmp/err4")"
grep -q "cannot remove the trace rules: another app is currently holding the xtables lock" \
	"$tmp/err4" || fail "teardown did not say why: $(cat "$tmp/err4")"
grep -q "left $IPTRACE_STATE_DIR/$pid.state: run 'iptrace --cleanup' to retry" "$tmp/err4" ||
	fail "teardown did not name the state file: $(cat "$tmp/err4")"
[ "$(ip netns exec "$N" iptables-legacy-save -t raw | grep -c "iptrace:$pid")" -gt 0 ] ||
	fail "no rules left although teardown failed"
[ "$(ip netns exec "$N" cat /proc/sys/net/netfilter/nf_log/2)" = nfnetlink_log ] ||
	fail "the binding was restored while the rules stay"
grep -q '^nf_log/2=nf_log_ipv4$' "$IPTRACE_STATE_DIR/$pid.state" ||
	fail "the state file does not say what to restore"
tail -n1 "$tmp/out4" | grep -q '"type":"summary"' || fail "no summary after a failed teardown"
grep -q "cannot write the state file" "$tmp/err4" && fail "the state file was not rewritten: $(cat "$tmp/err4")"
release_lock
ip netns exec "$N" "$IPTRACE" --cleanup 2>"$tmp/cl4" || fail "--cleanup: $(cat "$tmp/cl4")"
unchanged "--cleanup after a teardown without the lock"
pass "teardown past --wait: rules and binding left, said, state file kept; --cleanup undid them"

# 5. A second signal ends teardown's wait at once; the rules stay for --cleanup.
begin 5 60
hold_lock
kill -INT "$pid"
sleep 1.5
grep -q "waiting for the xtables lock" "$tmp/err5" || fail "teardown's wait is not said: $(cat "$tmp/err5")"
kill -TERM "$pid"
gone "$pid" 3 || fail "a second signal did not end teardown's wait"
wait "$pid"
rc=$?
[ "$rc" = 1 ] || fail "teardown interrupted: exit $rc, not 1"
grep -q "interrupted while waiting for the xtables lock" "$tmp/err5" || fail "$(cat "$tmp/err5")"
[ -f "$IPTRACE_STATE_DIR/$pid.state" ] || fail "no state file after an interrupted teardown"
release_lock
ip netns exec "$N" "$IPTRACE" --cleanup 2>"$tmp/cl5" || fail "--cleanup: $(cat "$tmp/cl5")"
unchanged "--cleanup after an interrupted teardown"
pass "a second signal ends teardown's wait; --cleanup undid what stayed"

# 6. A FIFO as --output: waited for, said, interruptible; with a reader it gets the output.
mkfifo "$tmp/fifo"
"$IPTRACE" --read "$TEST_DATA_DIR/kernel-trace.log" -o "$tmp/fifo" 2>"$tmp/err6" &
pid=$!
sleep 1.5
grep -q "waiting for a reader of FIFO '$tmp/fifo'" "$tmp/err6" ||
	fail "no 'waiting for a reader' line: $(cat "$tmp/err6")"
kill -INT "$pid"
gone "$pid" 3 || fail "SIGINT did not end the wait for a reader"
wait "$pid"
rc=$?
[ "$rc" = 0 ] || fail "SIGINT while waiting for a reader: exit $rc"
"$IPTRACE" --read "$TEST_DATA_DIR/kernel-trace.log" --format json -o "$tmp/fifo" 2>"$tmp/err7" &
pid=$!
sleep 0.3
cat "$tmp/fifo" >"$tmp/fifo.out"
wait "$pid" || fail "--read into a FIFO with a reader: exit $?: $(cat "$tmp/err7")"
grep -q '"type":"packet"' "$tmp/fifo.out" || fail "nothing came through the FIFO"
pass "--output FIFO: waited for, said after a second, SIGINT ends it; a reader gets the packets"
