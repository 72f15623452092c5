#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/run.sh: iptrace against `nft monitor trace` and `tcpdump -i nflog:0`, side by
# side on the same namespace lab, at fixed packet rates; then iptrace's ready time per marker
# (scripts/bench/ready.sh) and its replay cost in instructions per record (callgrind). Not part
# of `make check` (see BENCHMARKS.md).
#
# Usage: scripts/bench/run.sh [-n PACKETS] [-r "RATES"] [-t "TABLES"] [-T "TOOLS"] [-q]
#   -n PACKETS   datagrams per run (default 20000)
#   -r RATES     packets/s, 0 = as fast as one sender can (default "10000 40000 0")
#   -t TABLES    tables each packet crosses in the traced router: 1 and/or 3 (default "1 3")
#   -T TOOLS     columns to run (default: all that can run here): iptrace-json iptrace-text
#                iptrace-nft-json nft-monitor tcpdump
#   -q           quick smoke run: 2000 packets at 10000/s, 1 table, no callgrind
# Environment: IPTRACE (default src/iptrace), IPTRACE_NFT (the binary for the nft marker
# columns, default $IPTRACE; they run only when `--backend nft` works), UDPGEN
# (default tests/bench/udpgen), BENCH_OUT (directory for the raw results, default a temp dir),
# REPLAY_RECORDS (records in the callgrind file, default 100000).
#
# Method, in short: the client namespace sends N UDP datagrams through the router namespace
# (where each tool traces) to the server namespace, which drops them and counts them. Records
# expected = packets the server counted x records per packet, where records per packet is
# measured for each tool and table count by a slow calibration run (it must come out a whole
# number). Each tool runs alone, in a fresh lab of identical shape, under /usr/bin/time for
# its CPU time and peak RSS; it is stopped once its CPU time stops moving after the traffic.
set -u
. "$(dirname "$0")/common.sh"
# The binary itself, also where tests/lib.sh put IPTRACE_WRAPPER's wrapper in IPTRACE.
: "${IPTRACE_NFT:=${IPTRACE_REAL:-$IPTRACE}}"
: "${UDPGEN:=$TOP/tests/bench/udpgen}"
: "${REPLAY_RECORDS:=100000}"

PACKETS=20000
RATES="10000 40000 0"
TABLES="1 3"
TOOLS=""
QUICK=0
PORT=5001
while getopts "n:r:t:T:qh" o; do
	case $o in
	n) PACKETS=$OPTARG ;;
	r) RATES=$OPTARG ;;
	t) TABLES=$OPTARG ;;
	T) TOOLS=$OPTARG ;;
	q) QUICK=1; PACKETS=2000; RATES=10000; TABLES=1 ;;
	*) usage ;;
	esac
done

need_root
need_cmd iptables-legacy jq
need_iptrace
[ -x "$UDPGEN" ] || make -s tests/bench/udpgen >&2 || skip "cannot build $UDPGEN (make tests/bench/udpgen)"
[ -x /usr/bin/time ] || skip "needs GNU time (/usr/bin/time)"
NS_PREFIX="ipt-bench-$$"
OUT=${BENCH_OUT:-$(mktemp -d /dev/shm/iptrace-bench.XXXXXX)}
mkdir -p "$OUT"
trap 'lab_cleanup' EXIT
# Outputs that must be read back go to tmpfs: writing there is a copy into memory, as
# close to /dev/null as a file that can be counted afterwards.
log() { echo "bench: $*" >&2; }

# ---------------------------------------------------------------- the lab
# lab_fresh FAMILY TABLES: client -> router -> server, the router's tables as asked.
# FAMILY legacy: ip_tables (the trace rule lives in raw; 3 tables adds mangle and filter,
# whose policies each packet meets at every hook). FAMILY nft: the same shape in nf_tables.
lab_fresh() {
	lab_cleanup
	NS_PREFIX="ipt-bench-$$-$((++LAB_SERIAL))"
	lab_up
	ip netns exec "$S" iptables-legacy -w -A INPUT -p udp --dport $PORT -j DROP
	if [ "$1" = legacy ] && [ "$2" = 3 ]; then
		ip netns exec "$R" iptables-legacy -w -t mangle -S >/dev/null
		ip netns exec "$R" iptables-legacy -w -t filter -S >/dev/null
	fi
	if [ "$1" = nft ] && [ "$2" = 3 ]; then
		lab_nft_tables || fail "cannot build the nft lab"
	fi
}
LAB_SERIAL=0

server_count() {
	ip netns exec "$S" iptables-legacy -w -L INPUT -v -x -n | awk '$3 == "DROP" { print $1 }'
}

# ---------------------------------------------------------------- the tools
# Each tool: family (which lab), prep (rules it needs that the tool doesn't install),
# command, and how to read "received records" (and iptrace's own "lost") afterwards.
tool_family() {
	case $1 in
	iptrace-nft*|nft-monitor) echo nft ;;
	*) echo legacy ;;
	esac
}

tool_prep() {
	case $1 in
	nft-monitor)
		ip netns exec "$R" nft -f - <<-EOF || fail "cannot add the nftrace rule"
		table ip btrace {
			chain bpre { type filter hook prerouting priority -300; udp dport $PORT meta nftrace set 1; }
		}
		EOF
		;;
	tcpdump)
		# What iptrace's legacy marker does, by hand: a TRACE rule and nfnetlink_log as the
		# namespace's IPv4 logger.
		ip netns exec "$R" iptables-legacy -w -t raw -A PREROUTING -p udp --dport $PORT -j TRACE
		ip netns exec "$R" sh -c 'echo nfnetlink_log >/proc/sys/net/netfilter/nf_log/2'
		;;
	esac
}

# tool_cmd TOOL DIR: the command line, output into DIR.
tool_cmd() {
	case $1 in
	iptrace-json) echo "$IPTRACE --backend legacy --port $PORT --format json -o $2/out.json" ;;
	iptrace-text) echo "$IPTRACE --backend legacy --port $PORT --format text --color never -o /dev/null" ;;
	iptrace-nft-json) echo "$IPTRACE_NFT --backend nft --port $PORT --format json -o $2/out.json" ;;
	nft-monitor) echo "nft monitor trace" ;;
	tcpdump) echo "tcpdump -n -i nflog:0 -w /dev/null" ;;
	esac
}

# tool_received TOOL DIR: "RECEIVED REPORTED_LOST" (REPORTED_LOST "-" when the tool has none).
tool_received() {
	case $1 in
	iptrace-json|iptrace-nft-json)
		# lost, plus "+Novr" when the nft trace socket overran N times (loss of unknown size).
		tail -n 1 "$2/out.json" | jq -r 'select(.type == "summary") |
			"\(.records) \(.lost)\(if .overruns then "+\(.overruns)ovr" else "" end)"' ;;
	iptrace-text)
		sed -nE 's/^iptrace: ([0-9]+) packets?, ([0-9]+) records?, ([0-9]+) lost.*/\2 \3/p' "$2/err" ;;
	nft-monitor)
		# One message, one verdict line ("rule ...", "policy ...", "continue"...); the
		# "packet:" lines repeat headers of the same message.
		echo "$(grep '^trace id' "$2/out" | grep -vc ' packet: ') -" ;;
	tcpdump)
		echo "$(sed -nE 's/^([0-9]+) packets? captured.*/\1/p' "$2/err") -" ;;
	esac
}

# tool_ready TOOL DIR: has the tool bound its socket?
tool_ready() {
	case $1 in
	iptrace*) grep -q '^iptrace: tracing' "$2/err" ;;
	tcpdump) grep -q 'listening on' "$2/err" ;;
	nft-monitor) sleep 0.3; return 0 ;;	# nft says nothing when it is listening
	esac
}

nft_marker_works() {
	lab_fresh nft 1
	ip netns exec "$R" timeout 5 "$IPTRACE_NFT" --backend nft --port $PORT --duration 0.2 \
		-o /dev/null 2>"$OUT/nft-probe.err"
	local rc=$?
	[ $rc = 0 ] && grep -q 'nft marker' "$OUT/nft-probe.err"
}

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo x
}

# run_one TOOL TABLES RATE COUNT TAG: one run in a fresh lab; prints a result line
# "sent_pps server_packets received reported_lost cpu_s wall_s rss_kib" into $OUT/TAG.res.
run_one() {
	local tool=$1 tables=$2 rate=$3 count=$4 tag=$5 dir="$OUT/$5"
	local tpid pid i
	rm -rf "$dir"; mkdir -p "$dir"
	lab_fresh "$(tool_family "$tool")" "$tables"
	tool_prep "$tool"
	# ip netns exec execs /usr/bin/time, which forks the tool: $! is time, its child the tool.
	ip netns exec "$R" /usr/bin/time -f '%U %S %e %M' -o "$dir/time" \
		$(tool_cmd "$tool" "$dir") >"$dir/out" 2>"$dir/err" &
	tpid=$!
	for i in $(seq 1 200); do
		pid=$(pgrep -P "$tpid" | head -n 1)
		[ -n "$pid" ] && tool_ready "$tool" "$dir" && break
		sleep 0.02
	done
	if ! tool_ready "$tool" "$dir"; then
		log "$tool did not start: $(head -c 300 "$dir/err")"
		kill -TERM "$pid" 2>/dev/null; wait "$tpid"
		return 1
	fi
	local t0=$EPOCHREALTIME
	ip netns exec "$C" "$UDPGEN" -d 10.0.2.7 -p $PORT -n "$count" -r "$rate" >"$dir/gen"
	# Let the tool catch up: stop once its CPU time has not moved for 0.3 s (30 s at most).
	local last=x now
	for i in $(seq 1 100); do
		sleep 0.3
		now=$(cpu_ticks "$pid")
		[ "$now" = "$last" ] && break
		last=$now
	done
	local t1=$EPOCHREALTIME
	# TERM, not INT: a background job of a script starts with SIGINT ignored, and nft
	# keeps that; every tool here ends cleanly on TERM (iptrace prints its summary).
	kill -TERM "$pid" 2>/dev/null
	wait "$tpid"
	local sent_pps server received lost u s e m
	sent_pps=$(sed -nE 's/.*: ([0-9]+) packets\/s.*/\1/p' "$dir/gen")
	server=$(server_count)
	read -r received lost < <(tool_received "$tool" "$dir")
	read -r u s e m < <(tail -n 1 "$dir/time")
	echo "$sent_pps $server ${received:-0} ${lost:--} $(echo "$u + $s" | bc) \
$(echo "$t1 - $t0" | bc) $m" >"$dir.res"
}

# ---------------------------------------------------------------- the table
ALL_TOOLS="iptrace-json iptrace-text iptrace-nft-json nft-monitor tcpdump"
[ -n "$TOOLS" ] || TOOLS=$ALL_TOOLS
run_tools=""
for t in $TOOLS; do
	case $t in
	iptrace-nft*)
		if nft_marker_works; then
			run_tools="$run_tools $t"
		else
			log "skipping $t: '$IPTRACE_NFT --backend nft' does not work here ($(head -n 1 "$OUT/nft-probe.err"))"
		fi ;;
	nft-monitor) command -v nft >/dev/null && run_tools="$run_tools $t" || log "no nft: skipping $t" ;;
	tcpdump) command -v tcpdump >/dev/null && run_tools="$run_tools $t" || log "no tcpdump: skipping $t" ;;
	*) run_tools="$run_tools $t" ;;
	esac
done

declare -A K
# Records per packet, per tool and table count: 2000 packets at 2000/s, nothing lost.
for tables in $TABLES; do
	for tool in $run_tools; do
		ccount=$((QUICK ? 500 : 2000))
		run_one "$tool" "$tables" 2000 $ccount "cal-$tool-$tables" || continue
		read -r _ server received lost _ < "$OUT/cal-$tool-$tables.res"
		if [ "$server" -gt 0 ] && [ $((received % server)) = 0 ]; then
			K[$tool-$tables]=$((received / server))
		else
			log "calibration of $tool ($tables tables): $received records for $server packets is not a whole number per packet"
			K[$tool-$tables]=$(( (received + server / 2) / server ))
		fi
	done
done

{
# A pipeline's subshell: its labs are its own to clean up.
trap lab_cleanup EXIT
printf '%-16s %6s %8s %8s %8s %4s %9s %9s %7s %7s %6s %6s %7s\n' tool tables rate sent/s \
	packets rec/p expected received lost% "lost*" cpu_s cpu% rss_MiB
for tables in $TABLES; do
	for rate in $RATES; do
		for tool in $run_tools; do
			[ -n "${K[$tool-$tables]:-}" ] || continue
			tag="run-$tool-$tables-$rate"
			run_one "$tool" "$tables" "$rate" "$PACKETS" "$tag" || continue
			read -r pps server received lost cpu wall rss < "$OUT/$tag.res"
			k=${K[$tool-$tables]}
			expected=$((server * k))
			printf '%-16s %6s %8s %8s %8s %4s %9s %9s %7s %7s %6s %6s %7s\n' "$tool" "$tables" \
				"$([ "$rate" = 0 ] && echo max || echo "$rate")" "$pps" "$server" "$k" \
				"$expected" "$received" \
				"$(echo "scale=1; 100 * ($expected - $received) / $expected" | bc)" "$lost" \
				"$cpu" "$(echo "scale=0; 100 * $cpu / $wall" | bc)" \
				"$(echo "scale=1; $rss / 1024" | bc)"
		done
	done
done
lab_cleanup
} | tee "$OUT/table.txt"
echo "lost%: (expected - received) / expected; lost*: what the tool itself reports as lost (NFLOG sequence gaps and socket drops), - when it can't;"
echo "  +Novr: iptrace's nf_tables trace socket overran N times (records lost, their number unknown)."
echo "cpu%: the tool's CPU time over the time from the first packet sent until it went idle."

# ---------------------------------------------------------------- ready time
"$TOP/scripts/bench/ready.sh" -n "$((QUICK ? 3 : 11))"

# ---------------------------------------------------------------- replay cost
[ "$QUICK" = 1 ] && { log "quick run: no callgrind"; exit 0; }
command -v valgrind >/dev/null || { log "no valgrind: skipping the replay cost"; exit 0; }
"$TOP/scripts/bench/replay-cost.sh" "$OUT" "$REPLAY_RECORDS"
