#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/ready.sh: ready time — from exec to iptrace's ready line ("tracing ..." on
# stderr, printed once the rules are in and the sockets bound), per marker, in a namespace lab.
# Not part of `make check` (see BENCHMARKS.md).
#
# Usage: scripts/bench/ready.sh [-n RUNS] [-s SERVICES]
#   -n RUNS       captures per marker (default 11); prints min, median and max in milliseconds
#   -s SERVICES   the router also holds a kube-proxy-like nat table of SERVICES services
#                 (kube-gen.sh: 8 rules a service; 10000 = 80,008 rules), loaded with
#                 iptables-legacy-restore for the legacy marker, iptables-nft-restore for nft
# Environment: IPTRACE (default src/iptrace).
#
# iptrace is started with --netns (so entering the namespace is part of the time) straight
# from this shell; the clock starts just before the fork and stops when the ready line is
# read from a pipe (stderr is unbuffered). Each run ends with SIGINT and its teardown is not
# timed. The legacy runs trace in a router with iptables-legacy tables; the nft runs in one
# with an nf_tables table only.
set -u
. "$(dirname "$0")/common.sh"
RUNS=11 SERVICES=0
while getopts "n:s:h" o; do
	case $o in
	n) RUNS=$OPTARG ;;
	s) SERVICES=$OPTARG ;;
	*) usage ;;
	esac
done
need_root
need_iptrace
NS_PREFIX="ipt-ready-$$"
trap 'lab_cleanup' EXIT

# ready_ms BACKEND: one capture's exec-to-ready time in milliseconds (3 decimals).
ready_ms() {
	local t0 t1 line pid
	t0=$EPOCHREALTIME
	exec 3< <(exec "$IPTRACE" --netns "$R" --backend "$1" --port 5001 --duration 30 \
		-o /dev/null 2>&1)
	pid=$!
	while IFS= read -r line <&3; do
		case $line in *tracing*) t1=$EPOCHREALTIME; break ;; esac
	done
	kill -INT "$pid" 2>/dev/null
	cat <&3 >/dev/null
	exec 3<&-
	wait "$pid" 2>/dev/null
	[ -n "${t1:-}" ] || { echo "no ready line ($1): $line" >&2; return 1; }
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }'
}

# stats: min median max of the numbers on stdin.
stats() {
	sort -n | awk '{ v[NR] = $1 } END { printf "min %.1f  median %.1f  max %.1f ms (%d runs)\n",
		v[1], v[int((NR + 1) / 2)], v[NR], NR }'
}

for backend in legacy nft; do
	lab_cleanup
	lab_up
	if [ "$backend" = legacy ]; then
		# A router that uses iptables-legacy: filter and nat exist, as on a real one.
		ip netns exec "$R" iptables-legacy -w -A FORWARD -p udp --dport 5001 -j ACCEPT
		ip netns exec "$R" iptables-legacy -w -t nat -A POSTROUTING -o r1 -j ACCEPT
	else
		ip netns exec "$R" nft add table inet filter
		ip netns exec "$R" nft "add chain inet filter forward { type filter hook forward priority 0; }"
	fi
	if [ "$SERVICES" -gt 0 ]; then
		restore=iptables-$backend-restore
		for part in base "services $SERVICES"; do
			# shellcheck disable=SC2086
			scripts/bench/kube-gen.sh $part | ip netns exec "$R" "$restore" --noflush ||
				fail "cannot load $SERVICES services"
		done
		echo "ready ($backend marker): nat table of $SERVICES services," \
			"$(ip netns exec "$R" "${restore%-restore}-save" -t nat | grep -c '^-A') rules"
	fi
	for i in $(seq 1 "$RUNS"); do
		ready_ms "$backend" || exit 1
	done | stats | sed "s/^/ready ($backend marker): /"
done
