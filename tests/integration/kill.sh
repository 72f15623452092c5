#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# kill.sh: kill iptrace at random moments (set-up, capture, teardown) with random signals;
# after each run (and `iptrace --cleanup` after SIGKILL) every legacy table with counters,
# the nft ruleset and nf_log/2, nf_log/10 must be byte-identical to before.
# KILL_RUNS sets the number of runs (make check: a short run; scripts/kill-test.sh: 200+).
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save nft
runs=${KILL_RUNS:-20}
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
N="$NS_PREFIX-k"
ns_add "$N"
ipt="ip netns exec $N iptables-legacy -w"
$ipt -t raw -A PREROUTING -p tcp --dport 9 -j ACCEPT
$ipt -t raw -A OUTPUT -p udp --dport 9 -j NOTRACK
$ipt -t nat -A PREROUTING -p udp --dport 53 -j DNAT --to-destination 10.9.9.9
$ipt -t filter -A INPUT -p icmp -j ACCEPT
ip netns exec "$N" nft add table inet keep
ip netns exec "$N" nft add chain inet keep c '{ type filter hook input priority 0; }'
ip netns exec "$N" nft add rule inet keep c counter accept
# No traffic in this namespace: counters must not move at all.
snapshot "$N" >"$tmp/before"

signals=(INT TERM HUP PIPE KILL KILL)
selectors=("--port 53" "--dest 10.0.0.1" "--port 53,853 --proto udp" "--host 10.0.0.0/8")
killed=0
for i in $(seq 1 "$runs"); do
	sig=${signals[RANDOM % ${#signals[@]}]}
	sel=${selectors[RANDOM % ${#selectors[@]}]}
	# 0-150 ms: lands in set-up, capture or (after the short duration) teardown.
	delay=$(printf '0.%03d' $((RANDOM % 150)))
	# shellcheck disable=SC2086
	ip netns exec "$N" "$IPTRACE" $sel --format json --duration 0.08 >/dev/null 2>"$tmp/err" &
	pid=$!
	sleep "$delay"
	kill -"$sig" "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	rc=$?
	case $sig in
	KILL) ip netns exec "$N" "$IPTRACE" --cleanup >/dev/null 2>"$tmp/cleanup.err" ||
		fail "run $i: --cleanup failed: $(cat "$tmp/cleanup.err")" ;;
	*) [ "$rc" = 0 ] || [ "$rc" -ge 128 ] || fail "run $i: SIG$sig: exit $rc: $(cat "$tmp/err")" ;;
	esac
	snapshot "$N" >"$tmp/after"
	if ! cmp -s "$tmp/before" "$tmp/after"; then
		diff "$tmp/before" "$tmp/after" >&2
		fail "run $i (SIG$sig after ${delay}s, $sel): state differs"
	fi
	# *.state.tmp too: a SIGKILL inside state_save() leaves one for --cleanup to remove.
	ls "$IPTRACE_STATE_DIR"/*.state* >/dev/null 2>&1 &&
		fail "run $i: state file left behind: $(ls "$IPTRACE_STATE_DIR")"
done
echo "kill test: $runs runs, $killed killed while running, all restored byte-identical"
pass "kill test ($runs runs)"
