#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# systemd-lab.sh: the capture unit under a real systemd. A private systemd (PID 1 of its own
# pid, mount, network, cgroup, UTS and IPC namespaces, on a copy-on-write overlay of /) runs
# journald and iptrace@dns.service as built, hardening included: `systemctl start` returns
# once the rules are in (Type=notify), the capture lands in /var/log/iptrace/dns-TIME.json,
# the unit ends inactive, and rules and logger bindings are as before — also after
# `systemctl kill -s KILL` (ExecStopPost= runs iptrace --cleanup). With IPTRACE_FORMAT=journal
# the packets are journal entries with their fields, and diagnostics carry priorities.
# Nothing touches the host: the traffic, rules and nf_log bindings are in the lab's own
# network namespace, files land in the overlay's tmpfs, the lab dies with its PID 1.
set -u
. "$TESTS_LIB"
need_root
need_cmd unshare nsenter chroot jq iptables-legacy-save ip6tables-legacy-save
SYSTEMD=/lib/systemd/systemd
[ -x "$SYSTEMD" ] || SYSTEMD=/usr/lib/systemd/systemd
[ -x "$SYSTEMD" ] || skip "no systemd binary to run"
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
	skip "no overlay file system for the lab's root"
cg2=$(findmnt -n -t cgroup2 -o TARGET | head -n1)
[ -n "$cg2" ] || skip "no cgroup2 hierarchy to give the lab's systemd"
sysunits=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
[ -d "$sysunits" ] || sysunits=/lib/systemd/system
unit=$(dirname "$IPTRACE")/../systemd/iptrace@.service
[ -f "$unit" ] || fail "$unit was not built"

tmp=$(mktemp -d)
cg="$cg2/iptrace-lab-$$"
lab_pid=
cleanup() {
	local pid1
	if [ -n "$lab_pid" ]; then
		# SIGKILL to a PID 1 ends its whole pid namespace; the mounts go with it.
		pid1=$(pgrep -P "$lab_pid" 2>/dev/null)
		[ -n "$pid1" ] && kill -9 "$pid1" 2>/dev/null
		kill -9 "$lab_pid" 2>/dev/null
		wait "$lab_pid" 2>/dev/null
	fi
	# The namespace's processes take a moment to go: until then the cgroups are busy.
	for _ in $(seq 1 50); do
		[ -d "$cg" ] || break
		find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
		sleep 0.1
	done
	[ -d "$cg" ] && echo "warning: could not remove $cg" >&2
	rm -rf "$tmp"
	lab_cleanup
}
trap cleanup EXIT

# The lab's unit path holds only what it needs: journald and empty standard targets.
mkdir -p "$tmp/units" "$tmp/ov"
for t in sysinit basic shutdown sockets paths timers multi-user network local-fs; do
	printf '[Unit]\nDescription=lab %s\n' "$t" >"$tmp/units/$t.target"
done
printf '[Unit]\nDescription=iptrace lab\nWants=systemd-journald.service\n' \
	>"$tmp/units/iptrace-lab.target"
for u in systemd-journald.service systemd-journald.socket systemd-journald-dev-log.socket \
	systemd-journald-audit.socket; do
	[ -f "$sysunits/$u" ] && cp "$sysunits/$u" "$tmp/units/"
done
cat >"$tmp/inner.sh" <<'EOF'
#!/bin/bash
# PID 1 of the lab's namespaces until systemd replaces it.
set -e
T=$1 SYSTEMD=$2
mount --make-rprivate /
mount -t tmpfs tmpfs "$T/ov"
mkdir -p "$T/ov/upper" "$T/ov/work" "$T/ov/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/ov/upper,workdir=$T/ov/work" "$T/ov/root"
R=$T/ov/root
mount -t proc proc "$R/proc"
# Read-only like in a container: only the unit's ReadWritePaths= can open nf_log up again.
mount --bind /proc/sys "$R/proc/sys"
mount -o remount,bind,ro "$R/proc/sys"
mount -t sysfs -o ro sysfs "$R/sys"
mount -t cgroup2 cgroup2 "$R/sys/fs/cgroup"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/run"
mount -t tmpfs tmpfs "$R/tmp"
mount -t tmpfs tmpfs "$R/var/log"
mkdir -p "$R/run/lab-units"
cp "$T"/units/* "$R/run/lab-units/"
ip link set lo up
export SYSTEMD_UNIT_PATH=/run/lab-units container=iptrace-lab
exec chroot "$R" "$SYSTEMD" --system --unit=iptrace-lab.target --log-target=journal
EOF
chmod +x "$tmp/inner.sh"
mkdir "$cg" || skip "cannot create a cgroup under $cg2"
(
	echo "$BASHPID" >"$cg/cgroup.procs"
	exec unshare --cgroup --pid --fork --mount --net --uts --ipc "$tmp/inner.sh" "$tmp" "$SYSTEMD"
) >"$tmp/lab.log" 2>&1 &
lab_pid=$!

pid1=
for _ in $(seq 1 100); do
	pid1=$(pgrep -P "$lab_pid" -x systemd 2>/dev/null) && break
	kill -0 "$lab_pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$pid1" ] || { cat "$tmp/lab.log" >&2; skip "systemd does not start in private namespaces here"; }
in_lab() {
	nsenter -t "$pid1" -m -p -n -u -i -C -r -w "$@"
}
for _ in $(seq 1 100); do
	in_lab systemctl is-active -q iptrace-lab.target 2>/dev/null && break
	sleep 0.1
done
in_lab systemctl is-active -q iptrace-lab.target ||
	{ in_lab systemctl status --no-pager >&2; fail "the lab's systemd did not reach its target"; }

# "make install", as the unit names the paths.
bin=$(sed -n 's|^ExecStopPost=\([^ ]*\) .*|\1|p' "$unit")
conf_dir=$(dirname "$(sed -n 's|^EnvironmentFile=||p' "$unit")")
# Through stdin, not by path: the lab has a /tmp of its own, and the tree may live under /tmp.
in_lab install -d "$(dirname "$bin")" "$conf_dir" /run/lab-units
in_lab sh -c "cat >'$bin' && chmod 755 '$bin'" <"$IPTRACE" || fail "cannot install $bin in the lab"
in_lab sh -c "cat >/run/lab-units/iptrace@.service" <"$unit"
in_lab sh -c "cat >/run/lab-units/iptrace@.timer" <"$SRCDIR/systemd/iptrace@.timer"
in_lab systemctl daemon-reload

# Legacy tables and a rule of the lab's own, so that "as before" means something.
in_lab iptables-legacy -w -t raw -A PREROUTING -p tcp --dport 9 -j ACCEPT
in_lab ip6tables-legacy -w -t raw -A OUTPUT -p udp --dport 9 -j ACCEPT
in_lab iptables-legacy -w -t filter -A INPUT -p icmp -j ACCEPT
lab_snapshot() {
	in_lab sh -c 'iptables-legacy-save -c; ip6tables-legacy-save -c
		echo "nf_log/2 $(cat /proc/sys/net/netfilter/nf_log/2)"
		echo "nf_log/10 $(cat /proc/sys/net/netfilter/nf_log/10)"
		nft list ruleset' | grep -v '^#' | strip_counters
}
lab_snapshot >"$tmp/before"
grep -q "nf_log/2 nfnetlink_log" "$tmp/before" && fail "nf_log/2 is nfnetlink_log already"
conf() {
	printf 'IPTRACE_ARGS="%s"\nIPTRACE_FORMAT=%s\n' "$1" "$2" | in_lab sh -c "cat >$conf_dir/dns.conf"
}
send_dns() {
	for i in $(seq 1 "$1"); do
		in_lab bash -c "exec 3>/dev/udp/127.0.0.1/53; printf 'q$i' >&3"
	done
}
# Until the stop path (ExecStopPost=) is through too: "deactivating" is not the end.
wait_inactive() {
	local st
	for _ in $(seq 1 "${1:-100}"); do
		st=$(in_lab systemctl show -P ActiveState iptrace@dns.service)
		[ "$st" = inactive ] || [ "$st" = failed ] && return 0
		sleep 0.1
	done
	fail "iptrace@dns is still $st"
}
check_restored() {
	lab_snapshot >"$tmp/after"
	diff "$tmp/before" "$tmp/after" >&2 || fail "$1: rules or bindings differ from before"
	[ -z "$(in_lab ls -A /run/iptrace/dns)" ] || fail "$1: a state file was left behind"
}
rules_in() {
	in_lab iptables-legacy-save -t raw | grep -c 'iptrace:'
}

# 1. A bounded capture to a file.
conf "--port 53 --duration 2" json
t0=$(date -u +%s)
in_lab systemctl start iptrace@dns.service || fail "systemctl start failed"
# Type=notify: start returned, so the rules must be in now.
[ "$(in_lab systemctl is-active iptrace@dns.service)" = active ] || fail "not active after start"
n=$(rules_in)
[ "$n" -gt 0 ] || fail "no trace rules when systemctl start returned"
[ "$(in_lab cat /proc/sys/net/netfilter/nf_log/2)" = nfnetlink_log ] ||
	fail "nf_log/2 is not bound to nfnetlink_log during the capture"
send_dns 3
wait_inactive 80
[ "$(in_lab systemctl show -P Result iptrace@dns.service)" = success ] ||
	fail "the capture did not end with success: $(in_lab journalctl -u iptrace@dns --no-pager)"
files=$(in_lab sh -c 'ls /var/log/iptrace/')
[ "$(echo "$files" | wc -l)" = 1 ] || fail "expected one capture file, found: $files"
[[ $files =~ ^dns-([0-9]{8}T[0-9]{6}Z)\.json$ ]] || fail "unexpected file name '$files'"
ft=$(date -u -d "$(echo "${BASH_REMATCH[1]}" | sed -E 's/(....)(..)(..)T(..)(..)(..)Z/\1-\2-\3 \4:\5:\6/')" +%s)
[ $((ft - t0)) -ge -1 ] && [ $((ft - t0)) -le 5 ] || fail "file time $files is not the start time"
in_lab cat "/var/log/iptrace/$files" >"$tmp/capture.json"
np=$(jq -s '[.[] | select(.type == "packet" and .dport == 53 and .proto == "udp")] | length' \
	"$tmp/capture.json")
[ "$np" = 3 ] || { cat "$tmp/capture.json" >&2; fail "expected 3 DNS packets, got $np"; }
[ "$(tail -n1 "$tmp/capture.json" | jq -r .type)" = summary ] || fail "summary is not last"
check_restored "file capture"
# Under the unit capset(2) is refused (SystemCallFilter=~@privileged) and the bounding set is
# NET_ADMIN and NET_RAW already: the start has nothing to warn about, nor does the rest.
in_lab journalctl -u iptrace@dns --no-pager -o json >"$tmp/journal1"
jq -e -s '[.[] | select((.PRIORITY | tonumber) <= 4)] | length == 0' "$tmp/journal1" >/dev/null ||
	{ jq -r 'select((.PRIORITY | tonumber) <= 4) | .MESSAGE' "$tmp/journal1" >&2
	  fail "warnings or errors in the journal of a clean capture"; }
pass "start → ready with $n rules, 3 packets in /var/log/iptrace/$files, inactive, all restored"

# 2. SIGKILL in the middle: ExecStopPost= undoes it.
conf "--port 53 --duration 60" json
in_lab systemctl start iptrace@dns.service || fail "systemctl start failed"
[ "$(rules_in)" -gt 0 ] || fail "no trace rules after start"
in_lab ls /run/iptrace/dns | grep -q '\.state$' || fail "no state file during the capture"
in_lab systemctl kill -s KILL iptrace@dns.service
wait_inactive 50
[ "$(in_lab systemctl show -P Result iptrace@dns.service)" = signal ] ||
	fail "Result is not 'signal' after SIGKILL"
in_lab journalctl -u iptrace@dns --no-pager -o cat | grep -q '1 stale capture(s) cleaned up' ||
	fail "ExecStopPost= did not clean up the killed capture"
check_restored "SIGKILL"
pass "systemctl kill -s KILL: ExecStopPost= restored rules and bindings"

# 3. Journal output: one entry per packet, with fields; diagnostics with priorities.
in_lab systemctl reset-failed iptrace@dns.service
in_lab sh -c 'rm -f /var/log/iptrace/*'
conf "--port 53 --count 2 --duration 20" journal
in_lab systemctl start iptrace@dns.service || fail "systemctl start failed"
send_dns 2
wait_inactive 100
[ "$(in_lab systemctl show -P Result iptrace@dns.service)" = success ] || fail "journal capture failed"
[ -z "$(in_lab ls -A /var/log/iptrace)" ] || fail "--format journal created a file"
in_lab journalctl --no-pager -o json MESSAGE_ID=1226dd637928408c9022206e28a530ee >"$tmp/packets"
[ "$(wc -l <"$tmp/packets")" = 2 ] || { cat "$tmp/packets" >&2; fail "expected 2 packet entries"; }
jq -e -s 'all(.[]; .PACKET_ID != null and .DPORT == "53" and .PROTO == "udp" and
	.SRC == "127.0.0.1" and .STEP_1_TABLE == "raw" and (.STEPS | tonumber) >= 2 and
	._SYSTEMD_UNIT == "iptrace@dns.service" and (.MESSAGE | startswith("packet ")))' \
	"$tmp/packets" >/dev/null || { cat "$tmp/packets" >&2; fail "packet entries lack fields"; }
in_lab journalctl --no-pager -o json MESSAGE_ID=3d54f8593de041958ecc77f60ab35d89 |
	jq -e -s 'length == 1 and .[0].PACKETS == "2"' >/dev/null || fail "no summary entry"
in_lab journalctl -u iptrace@dns --no-pager -o json | jq -e -s \
	'any(.[]; .PRIORITY == "6" and (.MESSAGE | test("iptrace: tracing port 53")))' \
	>/dev/null || fail "the tracing line is not at priority 6"
check_restored "journal capture"
pass "journal: 2 packet entries with PACKET_ID, SRC, DPORT, STEP_N_ fields and a summary"

# 4. An error is logged at priority 3 and the unit fails.
conf "--port 53 --iface nosuchif0 --duration 5" json
in_lab systemctl start iptrace@dns.service 2>/dev/null && fail "started with a bad interface"
in_lab journalctl -u iptrace@dns --no-pager -o json | jq -e -s \
	'any(.[]; .PRIORITY == "3" and (.MESSAGE | test("unknown interface")))' >/dev/null ||
	fail "the usage error is not at priority 3"
check_restored "failed start"
pass "a usage error fails the start, logged at priority 3"

# 5. The timer loads and triggers the same instance.
in_lab systemctl start iptrace@dns.timer || fail "the timer does not start"
[ "$(in_lab systemctl show -P Triggers iptrace@dns.timer)" = iptrace@dns.service ] ||
	fail "the timer does not trigger iptrace@dns.service"
in_lab systemctl show -P NextElapseUSecRealtime iptrace@dns.timer | grep -q . ||
	fail "the timer has no next elapse time"
pass "iptrace@dns.timer triggers iptrace@dns.service at $(in_lab systemctl show -P NextElapseUSecRealtime iptrace@dns.timer)"
