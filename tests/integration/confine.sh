#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# confine.sh: after set-up a capture may write only what teardown and output need (Landlock).
# Observed from inside the running capture by a probe this test preloads (confine-probe.c, not
# part of iptrace): on SIGUSR1 the capture itself tries to create and write files and to run
# programs. Outside the state directory it may not (EACCES), nor run a program from outside
# the system's directories; inside it, and /bin/true, it may. The same probe in an unconfined
# iptrace (--read) may write outside: the refusal is the confinement's, not the file
# system's. The capture holds CAP_NET_ADMIN and CAP_NET_RAW only, with no_new_privs, and its
# teardown, under the confinement, still restores everything and removes its state file.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save
probe=$(cd "$(dirname "$IPTRACE")/.." && pwd)/tests/integration/confine-probe.so
[ -f "$probe" ] || fail "$probe was not built (make check builds it)"
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
N="$NS_PREFIX-c"
legacy_ns "$N"
snapshot "$N" >"$tmp/before"
cp /bin/true "$tmp/true"
echo keep >"$tmp/existing"
export PROBE_CREATE="$tmp/outside:$IPTRACE_STATE_DIR/inside"
export PROBE_WRITE="$tmp/existing"
export PROBE_EXEC="$tmp/true:/bin/true"

LD_PRELOAD=$probe ip netns exec "$N" "$IPTRACE" --port 53 --format json -o "$tmp/out.json" \
	2>"$tmp/err" &
pid=$!
wait_ready "$tmp/err" "$pid"
kill -USR1 "$pid"
for _ in $(seq 1 100); do
	grep -q "^probe: exec /bin/true:" "$tmp/err" && break
	sleep 0.02
done
grep -q '^probe: landlock abi [1-9]' "$tmp/err" || {
	kill -INT "$pid"
	skip "the kernel offers no Landlock: $(grep '^probe: landlock' "$tmp/err")"
}
expect() {
	grep -qx "probe: $1" "$tmp/err" || fail "expected 'probe: $1': $(grep '^probe:' "$tmp/err")"
}
expect "create $tmp/outside: EACCES"
expect "write $tmp/existing: EACCES"
expect "exec $tmp/true: EACCES"
expect "create $IPTRACE_STATE_DIR/inside: ok"
expect "exec /bin/true: ok"
[ -e "$tmp/outside" ] && fail "the capture created a file outside its state directory"
[ "$(cat "$tmp/existing")" = keep ] || fail "the capture changed a file outside"
rm -f "$IPTRACE_STATE_DIR/inside"
grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$pid/status" || fail "no no_new_privs"
grep -q '^CapEff:[[:space:]]*0000000000003000$' "/proc/$pid/status" ||
	fail "capabilities beyond NET_ADMIN and NET_RAW: $(grep ^Cap "/proc/$pid/status")"
pass "after set-up the capture can't create or write files outside its state directory, nor run $tmp/true"

# The same probe where iptrace confines nothing: --read waiting for a reader of a FIFO.
mkfifo "$tmp/fifo"
LD_PRELOAD=$probe PROBE_CREATE="$tmp/control" PROBE_EXEC="$tmp/true" \
	"$IPTRACE" --read "$TEST_DATA_DIR/kernel-trace.log" -o "$tmp/fifo" 2>"$tmp/control.err" &
ctl=$!
sleep 0.3
kill -USR1 "$ctl"
for _ in $(seq 1 100); do
	grep -q "^probe: exec" "$tmp/control.err" && break
	sleep 0.02
done
kill -INT "$ctl"
wait "$ctl"
grep -qx "probe: create $tmp/control: ok" "$tmp/control.err" &&
	grep -qx "probe: exec $tmp/true: ok" "$tmp/control.err" ||
	fail "the control could not write or run either: $(cat "$tmp/control.err")"
pass "control: unconfined, the same probe creates $tmp/control and runs $tmp/true"

# Teardown under the confinement: rules, binding and state file all undone.
udp_send "$N" 127.0.0.1 53 q
sleep 0.3
kill -INT "$pid"
wait "$pid" || fail "the confined capture: exit $?: $(grep -v '^probe:' "$tmp/err")"
grep -q "warning" "$tmp/err" && fail "warnings: $(cat "$tmp/err")"
grep -q '"type":"packet"' "$tmp/out.json" || fail "the confined capture wrote no packet"
tail -n1 "$tmp/out.json" | grep -q '"type":"summary"' || fail "no summary last"
snapshot "$N" >"$tmp/after"
diff "$tmp/before" "$tmp/after" >&2 || fail "not restored after a confined capture"
ls "$IPTRACE_STATE_DIR"/*.state >/dev/null 2>&1 && fail "the state file is left"
pass "a confined capture traces, then restores rules and binding and removes its state file"
