#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/soak.sh: a long capture on a busy node — steady traffic while another
# program rewrites the tables all the time; iptrace's memory, open files and CPU sampled
# every 10 s, and at the end how many packets came out and whether their steps are right.
# Not part of `make check`: it runs for minutes and prints figures, it asserts no timing.
#
# Usage: scripts/bench/soak.sh [-d SECONDS] [-r RATE] [-p PERIOD] legacy|both|nft
#   legacy  the lab's router has kube-proxy-like legacy tables (the libiptc marker); the
#           loop rewrites nat (a KUBE-SERVICES rule more or less at its head), filter, and
#           every 5th time the raw table whole from a save taken before the capture (which
#           removes iptrace's TRACE rules, as a firewall reload does)
#   both    as legacy, with an nftables table `ip fw` on forward beside them (the
#           legacy+nft marker of --backend auto), rewritten whole with `nft -f` each time
#   nft     the router has nftables tables and iptables-nft nat chains (the nft marker);
#           the loop rewrites an `ip fw` table with `nft -f`, the nat chains with
#           iptables-nft-restore, and every 10th time `nft flush ruleset` then both again
#   -d SECONDS  capture length (default 600)
#   -r RATE     UDP datagrams per second from the client to the service (default 50)
#   -p PERIOD   the longest pause between two rewrites, in seconds; each pause is random
#               between 0.2 and PERIOD (default 1)
# Environment: IPTRACE (default src/iptrace), UDPGEN (default tests/bench/udpgen),
# SOAK_KEEP=DIR keeps the capture and the samples there.
#
# Prints one line per sample (seconds, RSS and peak RSS of iptrace and of its helper
# processes in KiB, open fds, CPU % over the last 10 s, rewrites so far), then the result:
# datagrams sent, packets printed, steps, steps with rule text, null steps by reason, steps
# whose text is in no version the loop wrote ("wrong"), and the summary line.
set -u
. "$(dirname "$0")/common.sh"
DUR=600
RATE=50
PERIOD=1
while getopts "d:r:p:h" o; do
	case $o in
	d) DUR=$OPTARG ;;
	r) RATE=$OPTARG ;;
	p) PERIOD=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
MODE=${1:-}
case $MODE in legacy | both | nft) ;; *) usage ;; esac
need_root
need_cmd jq iptables-legacy-restore iptables-nft-restore nft
need_iptrace
: "${UDPGEN:=$TOP/tests/bench/udpgen}"
[ -x "$UDPGEN" ] || skip "no $UDPGEN: make tests/bench/udpgen"
T=${SOAK_KEEP:-$(mktemp -d)}
mkdir -p "$T"
loop_pid=
trace_pid=
cleanup() {
	[ -n "$loop_pid" ] && kill "$loop_pid" 2>/dev/null
	[ -n "$trace_pid" ] && kill -9 "$trace_pid" 2>/dev/null
	wait 2>/dev/null
	lab_cleanup
	[ -n "${SOAK_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
lab_up
ip netns exec "$S" nft add table ip sink
ip netns exec "$S" nft add chain ip sink in '{ type filter hook input priority 0; }'
ip netns exec "$S" nft add rule ip sink in udp dport 53 drop

# Two versions of each rewritten table; every rule text they hold is a right answer.
for v in a b; do
	{
		echo 'table ip fw'
		echo 'delete table ip fw'
		echo 'table ip fw {'
		echo '  chain forward { type filter hook forward priority 0; policy accept;'
		[ $v = b ] && echo '    tcp dport 22 accept comment "version b"'
		echo '    udp dport 53 accept'
		echo '  }'
		echo '}'
	} >"$T/fw.$v"
done
if [ "$MODE" != nft ]; then
	lab_kube_nat
	ip netns exec "$R" iptables-legacy-save -t raw >"$T/raw.save"
	ip netns exec "$R" iptables-legacy-save -t mangle >"$T/mangle.save"
	ip netns exec "$R" iptables-legacy-save -t nat >"$T/nat.a"
	awk '/^-A KUBE-SERVICES /&&!d{print "-A KUBE-SERVICES -d 10.96.0.99/32 -p udp -m udp --dport 53 -j KUBE-SVC-DNS";d=1}1' \
		"$T/nat.a" >"$T/nat.b"
	for v in a b; do
		printf '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n' \
			>"$T/filter.$v"
		[ $v = b ] && echo '-A FORWARD -p tcp -m comment --comment "version b" -j ACCEPT' \
			>>"$T/filter.$v"
		printf '%s\nCOMMIT\n' '-A FORWARD -p udp -m udp --dport 53 -j ACCEPT' >>"$T/filter.$v"
	done
	cat "$T/nat.a" "$T/nat.b" "$T/filter.a" "$T/filter.b" "$T/raw.save" "$T/mangle.save" |
		sed -n 's/^\(-[AP] .*\)/\1/p; s/^:\([^ ]*\) \([A-Z]*\) .*/-P \1 \2/p' | sort -u >"$T/truth"
	rewrite() {
		local v=b
		[ $(($1 % 2)) = 0 ] && v=a
		if [ $(($1 % 5)) = 0 ]; then
			ip netns exec "$R" iptables-legacy-restore -w <"$T/raw.save"
		fi
		ip netns exec "$R" iptables-legacy-restore -w --noflush <"$T/nat.$v"
		ip netns exec "$R" iptables-legacy-restore -w <"$T/filter.$v"
		[ "$MODE" = legacy ] || ip netns exec "$R" nft -f "$T/fw.$v"
	}
	ARGS=(--backend legacy)
	if [ "$MODE" = both ]; then
		rewrite 1
		ARGS=(--backend auto)
	fi
else
	for v in a b; do
		{
			echo '*nat'
			echo ':PREROUTING ACCEPT [0:0]'
			echo ':POSTROUTING ACCEPT [0:0]'
			echo ':KUBE-SERVICES - [0:0]'
			echo ':KUBE-SEP-DNS - [0:0]'
			echo '-A PREROUTING -j KUBE-SERVICES'
			[ $v = b ] && echo '-A KUBE-SERVICES -d 10.96.0.99/32 -p udp -m udp --dport 53 -j KUBE-SEP-DNS'
			echo '-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SEP-DNS'
			echo '-A KUBE-SEP-DNS -p udp -m udp -j DNAT --to-destination 10.0.2.7:53'
			echo 'COMMIT'
		} >"$T/nat.$v"
	done
	rewrite() {
		local v=b
		[ $(($1 % 2)) = 0 ] && v=a
		if [ $(($1 % 10)) = 0 ]; then
			ip netns exec "$R" nft flush ruleset
		fi
		ip netns exec "$R" nft -f "$T/fw.$v"
		ip netns exec "$R" iptables-nft-restore <"$T/nat.$v"
	}
	rewrite 1
	ARGS=(--backend nft)
fi

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status" 2>/dev/null; }
helpers() { cat /proc/"$1"/task/*/children 2>/dev/null; }

ip netns exec "$R" "$IPTRACE" "${ARGS[@]}" --port 53 --format json >"$T/out" 2>"$T/err" &
trace_pid=$!
wait_ready "$T/err" "$trace_pid"
(
	i=0
	while :; do
		i=$((i + 1))
		rewrite $i >>"$T/rewrite.err" 2>&1
		echo $i >"$T/rewrites"
		sleep "$(awk -v p="$PERIOD" -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (p - 0.2) * r / 32767 }')"
	done
) &
loop_pid=$!
ip netns exec "$C" "$UDPGEN" -d 10.96.0.10 -p 53 -n $((RATE * DUR)) -r "$RATE" \
	>"$T/udpgen" 2>&1 &
gen_pid=$!

hz=$(getconf CLK_TCK)
echo "# mode $MODE, $RATE datagrams/s for $DUR s, a rewrite every 0.2-$PERIOD s"
printf '%-6s %8s %8s %8s %8s %4s %6s %8s\n' secs rss_kib hwm_kib helpers helphwm fds cpu% rewrites
prev=$(cpu_ticks "$trace_pid")
t=0
while [ "$t" -lt "$DUR" ] && kill -0 "$trace_pid" 2>/dev/null; do
	sleep 10
	t=$((t + 10))
	now=$(cpu_ticks "$trace_pid")
	hr=0 hh=0
	for h in $(helpers "$trace_pid"); do
		hr=$((hr + $(kib "$h" VmRSS || echo 0))) hh=$((hh + $(kib "$h" VmHWM || echo 0)))
	done
	printf '%-6s %8s %8s %8s %8s %4s %6s %8s\n' "$t" "$(kib "$trace_pid" VmRSS)" \
		"$(kib "$trace_pid" VmHWM)" "$hr" "$hh" "$(ls "/proc/$trace_pid/fd" | wc -l)" \
		"$(awk -v d=$((now - prev)) -v hz="$hz" 'BEGIN { printf "%.1f", 100 * d / hz / 10 }')" \
		"$(cat "$T/rewrites" 2>/dev/null || echo 0)"
	prev=$now
done
kill -0 "$trace_pid" 2>/dev/null || echo "# iptrace ended early: $(tail -3 "$T/err")"
kill "$loop_pid" 2>/dev/null
wait "$loop_pid" 2>/dev/null
loop_pid=
wait "$gen_pid" 2>/dev/null
sleep 1
kill -INT "$trace_pid" 2>/dev/null
wait "$trace_pid"
echo "# iptrace exit $?"
trace_pid=


echo "# $(cat "$T/udpgen")"
echo "# packets printed to port 53: $(jq -c 'select(.type=="packet" and .dport==53)' "$T/out" | wc -l)"
jq -r 'select(.type=="packet") | .steps[] | select(.kind != "return" and (.table|test("^iptrace_")|not))
	| [.table, .chain, (.rule // "null:" + (.rule_reason // "?"))] | @tsv' "$T/out" >"$T/steps"
echo "# steps: $(wc -l <"$T/steps"), with rule text: $(grep -vc $'\tnull:' "$T/steps")"
echo "# null steps by reason:"
grep $'\tnull:' "$T/steps" | cut -f3 | sort | uniq -c | sed 's/^/#   /'
# The fw table's steps (nft) must name its udp rule or its policy; legacy steps a rule of
# the versions written. (The nft mode's iptables-nft nat rules are not checked.)
{
	grep -v $'\tnull:' "$T/steps" | awk -F'\t' '$1 == "fw" && $3 != "udp dport 53 accept" &&
		$3 != "policy accept"'
	[ "$MODE" = nft ] ||
		grep -v $'\tnull:' "$T/steps" |
		awk -F'\t' 'NR == FNR { ok[$0] = 1; next } $1 != "fw" && !($3 in ok)' "$T/truth" -
} | sort | uniq -c >"$T/wrong"
echo "# wrong (text in no version written): $(wc -l <"$T/wrong") distinct"
sed 's/^/#   /' "$T/wrong" | head -5
echo "# stderr lines: $(wc -l <"$T/err"); distinct:"
sed -E 's/[0-9]+/N/g' "$T/err" | sort | uniq -c | sort -rn | head -8 | sed 's/^/#   /'
echo "# summary: $(tail -1 "$T/out")"
echo "# rewrite errors: $(grep -v '^$' "$T/rewrite.err" | sort | uniq -c | head -3)"
