#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/barrier-order.sh: the experiment behind the resolver's bound (resolver.c):
# a barrier message sent into our own NFLOG socket right after a read of the nat table comes
# after every TRACE record made by an older version of it. Not part of `make check`.
#
# Usage: scripts/bench/barrier-order.sh [-d SECONDS] [-p PERIOD]
#   kube-gen.sh's nat table of 2000 services rewritten every PERIOD s (default 0.05), one
#   KUBE-SERVICES rule more or less at its head; tests/tools/barrier-check.c sends UDP to the
#   service in the middle from a child process (a new socket each, so each meets nat) and
#   reads the table's size between two barriers as fast as it can for SECONDS (default 20);
#   then it checks each record's version (its KUBE-SERVICES rule number) against the reads
#   around it. Exit 1 on a violation.
set -u
. "$(dirname "$0")/common.sh"
DUR=20 PERIOD=0.05
while getopts "d:p:h" o; do
	case $o in
	d) DUR=$OPTARG ;;
	p) PERIOD=$OPTARG ;;
	*) usage ;;
	esac
done
need_root
need_cmd iptables-legacy-restore cc
T=$(mktemp -d)
NS_PREFIX="ipt-border-$$"
trap 'kill $churn_pid 2>/dev/null; lab_cleanup; rm -rf "$T"' EXIT
churn_pid=
cc -O2 -o "$T/check" tests/tools/barrier-check.c -lmnl || fail "cannot build barrier-check"
GEN=scripts/bench/kube-gen.sh
n=2000 q=1000
lab_up
ipr="ip netns exec $R"
$GEN base | $ipr iptables-legacy-restore --noflush
KUBE_GEN_Q=$q $GEN services $n 0 > "$T/v0"
KUBE_GEN_Q=$q $GEN services $n 1 > "$T/v1"
$ipr iptables-legacy-restore --noflush < "$T/v1"
s1=$($ipr "$T/check" size)
$ipr iptables-legacy-restore --noflush < "$T/v0"
s0=$($ipr "$T/check" size)
# Locally sent: the service addresses need a route before OUTPUT sees the packets.
ip -n "$R" route add 10.96.0.0/16 via 10.0.2.7
$ipr iptables-legacy -w -t raw -A OUTPUT -p udp --dport 53 -j TRACE
$ipr sh -c 'echo nfnetlink_log > /proc/sys/net/netfilter/nf_log/2'
( e=1; while :; do sleep "$PERIOD"; $ipr iptables-legacy-restore --noflush < "$T/v$e"
  e=$((1 - e)); done ) & churn_pid=$!
$ipr "$T/check" "$DUR" KUBE-SERVICES $((q + 1)) "$s0" $((q + 2)) "$s1" \
	10.96.$((q / 250)).$((q % 250 + 1))
rc=$?
kill "$churn_pid" 2>/dev/null
wait 2>/dev/null
exit $rc
