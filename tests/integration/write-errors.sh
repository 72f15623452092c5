#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# write-errors.sh: every failed write is said (issue 17, item 5) — --read, --replay,
# --nat-table, --nat-log (replayed and live), --list and live tracing into /dev/full, to a
# full or closed stdout: one line with the system's reason, exit 1, no success summary. A
# closed pipe stays a normal end. An existing output file is left as it was by a run that
# fails to start, emptied by one that starts, and refused when someone else owns it.
set -u
source "$TESTS_LIB"
need_root
need_cmd iptables-legacy nft jq setpriv
D=${TEST_DATA_DIR:-$SRCDIR/tests/data}
tmp=$(mktemp -d)
chmod 755 "$tmp"
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	lab_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

# said ERRFILE WANT: exactly one error line, WANT, and no plain success summary.
said() {
	local n
	n=$(grep -c 'cannot write to' "$1")
	[ "$n" = 1 ] || fail "$n 'cannot write to' lines, want 1: $(cat "$1")"
	grep -qF "iptrace: cannot write to $2" "$1" || fail "want 'cannot write to $2': $(cat "$1")"
	if grep -Eq 'packets?, [0-9]+ records?|conntrack events' "$1"; then
		grep -q 'the output failed' "$1" || fail "a success summary after the failure: $(cat "$1")"
	fi
}

# fails NAME WANT CMD...: CMD exits 1 and says WANT, once.
fails() {
	local name=$1 want=$2 rc
	shift 2
	"$@" 2>"$tmp/err" >/dev/null
	rc=$?
	[ "$rc" = 1 ] || fail "$name: exit $rc, want 1: $(cat "$tmp/err")"
	said "$tmp/err" "$want"
}

full="'/dev/full': No space left on device"
for f in text json log; do
	fails "--read $f" "$full" "$IPTRACE" --read "$D/kube-dns-trace.messages" --format "$f" -o /dev/full
	fails "--replay $f" "$full" "$IPTRACE" --replay "$D/nflog-dnat-udp.nlrec" --format "$f" -o /dev/full
done
for f in text json; do
	fails "--nat-table $f" "$full" "$IPTRACE" --nat-table "$D/natd-alias.log" --format "$f" -o /dev/full
	fails "--nat-log --replay $f" "$full" "$IPTRACE" --nat-log --all --replay "$D/ct-events.nlrec" \
		--format "$f" -o /dev/full
done
grep -q 'the output failed' "$tmp/err" || fail "--nat-log: its summary does not say it failed"
pass "--read, --replay, --nat-table, --nat-log --replay into /dev/full: said once, exit 1"

stdout_full="standard output: No space left on device"
fails "--read to a full stdout" "$stdout_full" \
	sh -c 'exec "$0" --read "$1" >/dev/full' "$IPTRACE" "$D/kube-dns-trace.messages"
fails "--list to a full stdout" "$stdout_full" sh -c 'exec "$0" --list >/dev/full' "$IPTRACE"
fails "--nat-table to a closed stdout" "standard output: Bad file descriptor" \
	sh -c 'exec "$0" --nat-table "$1" >&-' "$IPTRACE" "$D/natd-alias.log"
pass "a full or closed stdout: 'cannot write to standard output: reason', exit 1"

# A reader that goes away is a normal end: exit 0, nothing said.
for args in "--read $D/kube-dns-trace.messages --format json" "--list" \
	"--replay $D/nflog-dnat-udp.nlrec --format json"; do
	# shellcheck disable=SC2086
	( "$IPTRACE" $args 2>"$tmp/pipe.err"; echo $? >"$tmp/pipe.rc" ) | head -c 1 >/dev/null
	[ "$(cat "$tmp/pipe.rc")" = 0 ] || fail "$args | head: exit $(cat "$tmp/pipe.rc")"
	grep -q 'cannot write' "$tmp/pipe.err" && fail "$args | head: $(cat "$tmp/pipe.err")"
done
pass "a closed pipe ends the run normally (exit 0, nothing said)"

# Live: tracing into /dev/full, the NAT log too; the firewall left as it was.
lab_up
# The legacy marker's first look creates the raw tables for good: make them before the snapshot.
ip netns exec "$R" iptables-legacy -w -t raw -S >/dev/null
ip netns exec "$R" ip6tables-legacy -w -t raw -S >/dev/null
snapshot "$R" >"$tmp/before"
# full_live NAME ARGS...: iptrace ARGS in R into /dev/full while a datagram crosses R:
# exit 1 and the failure said once (stderr in $tmp/NAME.err).
full_live() {
	local name=$1 rc
	shift
	ip netns exec "$R" "$IPTRACE" "$@" -o /dev/full 2>"$tmp/$name.err" &
	pid=$!
	wait_ready "$tmp/$name.err"
	udp_send "$C" 10.0.2.7 53 "$name"
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -INT "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	pid=
	[ "$rc" = 1 ] || fail "$name: exit $rc, want 1: $(cat "$tmp/$name.err")"
	said "$tmp/$name.err" "$full"
}
full_live live --backend legacy --port 53
snapshot "$R" >"$tmp/after"
diff <(strip_counters <"$tmp/before") <(strip_counters <"$tmp/after") || fail "live: state changed"
# Conntrack runs in a namespace only once a rule needs it.
ip netns exec "$R" iptables-legacy -w -A FORWARD -m conntrack --ctstate NEW -j ACCEPT
full_live nat-log --nat-log --all
pass "live tracing and the live NAT log into /dev/full: said once, exit 1, rules removed"

# An existing output file: left as it was when the start fails (as non-root; as root when
# the marker can't be installed), emptied once a run starts.
echo "keep me" >"$tmp/old"
echo "keep me" >"$tmp/oldrec"
chown nobody "$tmp/old" "$tmp/oldrec"
chmod 777 "$tmp"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$IPTRACE" --port 53 -o "$tmp/old" --record "$tmp/oldrec" 2>"$tmp/err" && fail "non-root: traced"
[ "$(cat "$tmp/old")" = "keep me" ] || fail "a failed start as non-root emptied the file"
[ "$(cat "$tmp/oldrec")" = "keep me" ] || fail "a failed start as non-root emptied --record's file"
chmod 755 "$tmp"
echo "keep me" >"$tmp/mine"
N="$NS_PREFIX-f"
ns_add "$N"
ip netns exec "$N" nft add table inet keep
ip netns exec "$N" nft add chain inet keep c '{ type filter hook input priority 0; }'
echo "keep me" >"$tmp/minerec"
ip netns exec "$N" bash -c 'nft add table inet "iptrace_$$" && exec "$0" --backend nft \
	--port 53 -o "$1" --record "$2"' "$IPTRACE" "$tmp/mine" "$tmp/minerec" 2>"$tmp/err" &&
	fail "the marker went in"
grep -q 'cannot install the trace rules' "$tmp/err" || fail "$(cat "$tmp/err")"
[ "$(cat "$tmp/mine")" = "keep me" ] || fail "a failed start as root emptied the file"
[ "$(cat "$tmp/minerec")" = "keep me" ] || fail "a failed start as root emptied --record's file"
"$IPTRACE" --read "$tmp/no-such-file" -o "$tmp/mine" 2>/dev/null && fail "read a missing file"
[ "$(cat "$tmp/mine")" = "keep me" ] || fail "a missing --read input emptied the file"
head -c 100000 /dev/zero | tr '\0' x >"$tmp/mine"
"$IPTRACE" --read "$D/kube-dns-trace.messages" --format json -o "$tmp/mine" ||
	fail "--read into an existing file: exit $?"
"$IPTRACE" --read "$D/kube-dns-trace.messages" --format json | cmp -s - "$tmp/mine" ||
	fail "an existing file was not emptied before the run wrote to it"
pass "an existing output file: kept by a failed start, emptied by a started run"

# Someone else's file is refused, as it is (and a symlink is not followed, as before).
chown nobody "$tmp/old"
"$IPTRACE" --read "$D/kube-dns-trace.messages" -o "$tmp/old" 2>"$tmp/err" && fail "wrote to nobody's file"
grep -q "refusing to write to '$tmp/old': it belongs to uid $(id -u nobody)" "$tmp/err" ||
	fail "no clear refusal: $(cat "$tmp/err")"
[ "$(cat "$tmp/old")" = "keep me" ] || fail "nobody's file changed"
ln -s "$tmp/mine" "$tmp/link"
"$IPTRACE" --read "$D/kube-dns-trace.messages" -o "$tmp/link" 2>/dev/null && fail "followed a symlink"
pass "an output file of another user is refused, a symlink not followed"
