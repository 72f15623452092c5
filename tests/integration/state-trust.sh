#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# state-trust.sh: state files are trusted only as sshd's StrictModes would. A state directory
# writable by others, or a symbolic link, is refused by --cleanup, --list and a capture's
# start (exit 1, nothing changed); a file owned by nobody that names a live capture (and looks
# stale) is refused: that capture keeps its rules and goes on tracing, and another capture's
# start only warns; a file not named PID.state is ignored, one whose pid or tag is not its
# name's is refused; a saved logger name the kernel doesn't know for that family stops the
# whole undo; a zombie capture (killed, never reaped) is listed as stale, not live. After each
# case, fixing what was wrong lets --cleanup restore everything. Not root, both say so. A
# temporary file a SIGKILL left is removed once its writer is gone.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
N="$NS_PREFIX-t"
legacy_ns "$N"
snapshot "$N" >"$tmp/before"
D=$IPTRACE_STATE_DIR

rules() {
	ip netns exec "$N" iptables-legacy-save -t raw | grep -c "iptrace:$1"
}
binding() {
	ip netns exec "$N" cat /proc/sys/net/netfilter/nf_log/2
}
# stale: a capture killed with SIGKILL, its rules, binding and state file left; prints its pid.
stale() {
	local pid
	ip netns exec "$N" "$IPTRACE" --port 53 -o /dev/null 2>"$tmp/stale.err" &
	pid=$!
	wait_ready "$tmp/stale.err" "$pid"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	[ "$(rules "$pid")" -gt 0 ] || fail "the killed capture left no rules"
	[ -f "$D/$pid.state" ] || fail "the killed capture left no state file"
	echo "$pid"
}
# refused CMD... : exit 1 and the refusal on stderr, in $tmp/err.
refused() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ "$rc" = 1 ] || fail "$*: exit $rc, not 1: $(cat "$tmp/err")"
}
restored() {
	ip netns exec "$N" "$IPTRACE" --cleanup 2>"$tmp/cl" || fail "$1: --cleanup: $(cat "$tmp/cl")"
	snapshot "$N" >"$tmp/after"
	diff "$tmp/before" "$tmp/after" >&2 || fail "$1: not restored"
	ls "$D"/*.state >/dev/null 2>&1 && fail "$1: a state file is left"
	return 0
}

# 1. A state directory writable by others.
k=$(stale)
chmod 0777 "$D"
for cmd in --cleanup --list; do
	refused "$IPTRACE" $cmd
	grep -q "refusing the state directory '$D': writable by group or others (mode 0777; chmod go-w)" \
		"$tmp/err" || fail "$cmd: $(cat "$tmp/err")"
done
refused ip netns exec "$N" "$IPTRACE" --port 54 -o /dev/null
grep -q "refusing the state directory '$D'" "$tmp/err" || fail "capture: $(cat "$tmp/err")"
[ "$(rules "$k")" -gt 0 ] || fail "the stale rules were removed through a world-writable dir"
[ "$(ip netns exec "$N" iptables-legacy-save -t raw | grep -c 'iptrace:')" = "$(rules "$k")" ] ||
	fail "a capture started with a world-writable state directory"
chmod 0700 "$D"
restored "world-writable directory"
pass "a world-writable state directory: --cleanup, --list and a capture refuse it (exit 1)"

# 2. A symbolically linked state directory.
k=$(stale)
ln -s "$D" "$tmp/link"
for cmd in --cleanup --list; do
	IPTRACE_STATE_DIR=$tmp/link refused "$IPTRACE" $cmd
	grep -q "refusing the state directory '$tmp/link': it is a symbolic link" "$tmp/err" ||
		fail "$cmd: $(cat "$tmp/err")"
done
IPTRACE_STATE_DIR=$tmp/link refused ip netns exec "$N" "$IPTRACE" --port 54 -o /dev/null
[ "$(rules "$k")" -gt 0 ] || fail "the stale rules were removed through a link"
restored "symbolic link"
pass "a symbolically linked state directory is refused (exit 1), nothing changed"

# 3. A file owned by nobody naming a live capture, made to look stale.
ip netns exec "$N" "$IPTRACE" --port 53 --format json -o "$tmp/live.json" 2>"$tmp/live.err" &
live=$!
wait_ready "$tmp/live.err" "$live"
n=$(rules "$live")
sed 's/^starttime=.*/starttime=1/' "$D/$live.state" >"$tmp/forged"
install -m 0600 -o nobody "$tmp/forged" "$D/$live.state"
refused "$IPTRACE" --cleanup
grep -q "refusing $D/$live.state: owned by uid $(id -u nobody), not root" "$tmp/err" ||
	fail "--cleanup: $(cat "$tmp/err")"
[ "$(rules "$live")" = "$n" ] || fail "the live capture's rules were removed"
chown root "$D/$live.state"
chmod 0606 "$D/$live.state"
refused "$IPTRACE" --list
grep -q "refusing $D/$live.state: writable by group or others (mode 0606)" "$tmp/err" ||
	fail "--list: $(cat "$tmp/err")"
chown nobody "$D/$live.state"
chmod 0600 "$D/$live.state"
# Another capture's start: a warning, and it goes on.
ip netns exec "$N" "$IPTRACE" --backend nft --port 54 -o /dev/null 2>"$tmp/other.err" &
other=$!
wait_ready "$tmp/other.err" "$other"
grep -q "warning: refusing $D/$live.state: owned by uid" "$tmp/other.err" ||
	fail "no warning at another capture's start: $(cat "$tmp/other.err")"
kill -INT "$other"
wait "$other" || fail "the other capture: exit $?"
[ "$(rules "$live")" = "$n" ] || fail "the live capture's rules were removed at a start"
udp_send "$N" 127.0.0.1 53 q1
sleep 0.4
kill -INT "$live"
wait "$live" || fail "the live capture: exit $?: $(cat "$tmp/live.err")"
grep -q '"type":"packet".*"dport":53' "$tmp/live.json" ||
	fail "the live capture stopped tracing: $(cat "$tmp/live.json")"
restored "file owned by nobody"
pass "a file owned by nobody naming live iptrace:$live is refused; its rules stay, it traces on"

# 4. Names: PID.state only; its pid and tag must be its name's.
k=$(stale)
mv "$D/$k.state" "$D/$k.state.bak"
"$IPTRACE" --cleanup >/dev/null 2>"$tmp/err" || fail "a misnamed file made --cleanup fail: $(cat "$tmp/err")"
grep -q "ignoring '$k.state.bak' in $D: iptrace names its state files PID.state" "$tmp/err" ||
	fail "misnamed: $(cat "$tmp/err")"
[ "$(rules "$k")" -gt 0 ] || fail "rules removed through a misnamed file"
other_pid=$((k + 100000))
mv "$D/$k.state.bak" "$D/$other_pid.state"
refused "$IPTRACE" --cleanup
grep -q "refusing $D/$other_pid.state: its pid is not $other_pid, as its name says" "$tmp/err" ||
	fail "pid: $(cat "$tmp/err")"
sed "s/^pid=.*/pid=$other_pid/" "$D/$other_pid.state" >"$tmp/f" && cat "$tmp/f" >"$D/$other_pid.state"
refused "$IPTRACE" --cleanup
grep -q "refusing $D/$other_pid.state: its tag is not iptrace:$other_pid, its own pid's" "$tmp/err" ||
	fail "tag: $(cat "$tmp/err")"
[ "$(rules "$k")" -gt 0 ] || fail "rules removed through a file of another name"
sed "s/^pid=.*/pid=$k/" "$D/$other_pid.state" >"$D/$k.state"
chmod 0600 "$D/$k.state"
rm "$D/$other_pid.state"
restored "names"
pass "a misnamed file is ignored; one whose pid or tag is not its name's is refused"

# 5. A logger name the kernel doesn't know for nf_log/2, and one that is no name at all.
k=$(stale)
grep -q '^nf_log/2=nf_log_ipv4$' "$D/$k.state" || fail "no nf_log/2 line: $(cat "$D/$k.state")"
sed -i 's|^nf_log/2=.*|nf_log/2=nf_log_arp|' "$D/$k.state"
refused "$IPTRACE" --cleanup
grep -q "iptrace:$k: refusing to write 'nf_log_arp' to nf_log/2: not a logger this kernel knows (NONE .*nf_log_ipv4.*); nothing undone" \
	"$tmp/err" || fail "unknown logger: $(cat "$tmp/err")"
[ "$(rules "$k")" -gt 0 ] || fail "rules removed although the file was refused"
[ "$(binding)" = nfnetlink_log ] || fail "nf_log/2 was written"
sed -i 's|^nf_log/2=.*|nf_log/2=../../x|' "$D/$k.state"
refused "$IPTRACE" --cleanup
grep -q "refusing $D/$k.state: nf_log/2's saved logger is not a logger's name" "$tmp/err" ||
	fail "bad logger name: $(cat "$tmp/err")"
sed -i 's|^nf_log/2=.*|nf_log/2=nf_log_ipv4|' "$D/$k.state"
restored "logger names"
pass "a logger the kernel doesn't know for nf_log/2 stops the undo (exit 1); a non-name is refused"

# 6. A capture that is a zombie (killed, its parent never reaps it) is not "live".
ip netns exec "$N" bash -c '"$0" --port 53 -o /dev/null 2>"$1" & exec sleep 30' \
	"$IPTRACE" "$tmp/z.err" &
parent=$!
wait_ready "$tmp/z.err" -
z=$(sed -n 's/.*rules tagged iptrace:\([0-9]*\)).*/\1/p' "$tmp/z.err")
[ -n "$z" ] || fail "no pid in the zombie's ready line: $(cat "$tmp/z.err")"
kill -9 "$z"
for _ in $(seq 1 50); do
	[ "$(awk '{ print $3 }' "/proc/$z/stat" 2>/dev/null)" = Z ] && break
	sleep 0.02
done
[ "$(awk '{ print $3 }' "/proc/$z/stat")" = Z ] || fail "iptrace:$z is not a zombie"
"$IPTRACE" --list >"$tmp/list" 2>"$tmp/err" || fail "--list: $(cat "$tmp/err")"
grep -Eq "^$z +stale " "$tmp/list" || fail "the zombie is not listed as stale: $(cat "$tmp/list")"
restored "zombie"
kill "$parent"
wait "$parent" 2>/dev/null
pass "a zombie capture is listed as stale, and --cleanup undoes it"

# 6. Not root: the state directory (0700, root's) can't be read. One line that says so and
# what to do; --list prints no table.
if command -v setpriv >/dev/null; then
	chmod 0700 "$D"
	for cmd in --cleanup --list; do
		refused setpriv --reuid nobody --regid nogroup --clear-groups "$IPTRACE" $cmd
		[ "$(wc -l <"$tmp/err")" = 1 ] && grep -q "$D: Permission denied (run as root)" \
			"$tmp/err" || fail "$cmd as nobody: $(cat "$tmp/err")"
		[ -s "$tmp/out" ] && fail "$cmd as nobody wrote: $(cat "$tmp/out")"
	done
	pass "not root: --cleanup and --list say to run as root, and print no table"
fi

# 7. A SIGKILL between state_save()'s write of PID.state.tmp and its rename leaves that file
# (seen in a loop of kills 1-50 ms after start): --cleanup and a capture's start remove it
# once its writer is gone, and leave a running writer's alone.
sh -c 'exit 0' &
gone=$!
wait "$gone"
printf 'pid=%s\nstarttime=' "$gone" >"$D/$gone.state.tmp"
printf 'pid=%s\n' "$$" >"$D/$$.state.tmp"
"$IPTRACE" --cleanup >/dev/null 2>"$tmp/err" || fail "--cleanup with a temporary file: $(cat "$tmp/err")"
[ -e "$D/$gone.state.tmp" ] && fail "--cleanup left $gone.state.tmp, whose writer is gone"
[ -e "$D/$$.state.tmp" ] || fail "--cleanup removed $$.state.tmp, whose writer runs"
rm "$D/$$.state.tmp"
printf 'pid=%s\n' "$gone" >"$D/$gone.state.tmp"
ip netns exec "$N" "$IPTRACE" --port 53 --duration 0.1 -o /dev/null 2>"$tmp/err" ||
	fail "a capture with a temporary file left: $(cat "$tmp/err")"
[ -e "$D/$gone.state.tmp" ] && fail "a capture's start left $gone.state.tmp, whose writer is gone"
restored "temporary files"
pass "a temporary state file whose writer is gone is removed; a running writer's is kept"
