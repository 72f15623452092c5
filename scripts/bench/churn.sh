#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/churn.sh: rule text under kube-proxy churn — resolved, wrong and null steps,
# ready time, peak RSS and CPU of iptrace, with kube-proxy-like nat tables that are rewritten
# all the time. Not part of `make check` (tests/integration/churn.sh runs a small one).
#
# Usage: scripts/bench/churn.sh [-d SECONDS] [SERVICES:PERIOD ...]
#   SERVICES:PERIOD  nat table of SERVICES services (kube-gen.sh: 8 rules and 3 chains
#                    each) rewritten whole every PERIOD seconds with iptables-legacy-restore
#                    --noflush, one KUBE-SERVICES rule more or less at its head each time
#                    (every later rule number shifts by one); default: 2000:1 10000:2
#   -d SECONDS       capture length per lab (default 60)
# Environment: IPTRACE (default src/iptrace), CHURN_KEEP=DIR keeps the outputs there.
#
# A client sends one UDP query every 100 ms to the service in the middle of the table (its
# endpoints are the lab's server), traced by `iptrace --netns ROUTER --port 53 --format
# json`; each query has a payload of its own, so no two are one packet to the grouper. The
# truth: the two versions the churn alternates between are saved; the kernel's
# KUBE-SERVICES number of a packet says which of them it met (the queried service's rule is
# number Q+1 without the extra rule, Q+2 with it), and every nat step that names a rule must
# name that version's rule at its number (the queried service's KUBE-SERVICES rule has -d
# the packet's destination). Other tables do not change: their steps must name the rule of
# the save taken at the start. "wrong" counts steps naming any other text; "split" packets
# without their first step, raw PREROUTING (the second part of a packet cut in two).
set -u
. "$(dirname "$0")/common.sh"
DUR=60
while getopts "d:h" o; do
	case $o in
	d) DUR=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
LABS=("$@")
[ ${#LABS[@]} -gt 0 ] || LABS=(2000:1 10000:2)
need_root
need_cmd iptables-legacy-restore iptables-legacy-save jq
need_iptrace
GEN=$TOP/scripts/bench/kube-gen.sh
NS_PREFIX="ipt-churn-$$"
T=$(mktemp -d)
trap 'kill $churn_pid $query_pid 2>/dev/null; lab_cleanup; rm -rf "$T"' EXIT
churn_pid= query_pid=

# vm PID FIELD: a /proc/PID/status field in kB.
vm() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
# cpu PID: user + system seconds.
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null; }

printf '%-9s %6s %6s %5s %8s %5s %5s %5s %5s %8s %7s %6s %7s %6s %8s\n' services rules \
	period steps resolved null wrong res% split ready_ms rss_MiB rd_MiB sum_MiB cpu_s rd_cpu_s
for lab in "${LABS[@]}"; do
	n=${lab%%:*} period=${lab#*:} q=$((n / 2))
	lab_cleanup
	lab_up
	ipr="ip netns exec $R"
	$GEN base | $ipr iptables-legacy-restore --noflush
	KUBE_GEN_Q=$q $GEN services "$n" 0 > "$T/v0.rules"
	KUBE_GEN_Q=$q $GEN services "$n" 1 > "$T/v1.rules"
	$ipr iptables-legacy-restore --noflush < "$T/v0.rules"
	$ipr iptables-legacy -w -t filter -A FORWARD -p udp --dport 53 -j ACCEPT
	$ipr iptables-legacy-save -t nat > "$T/v0.save"
	$ipr iptables-legacy-restore --noflush < "$T/v1.rules"
	$ipr iptables-legacy-save -t nat > "$T/v1.save"
	$ipr iptables-legacy-restore --noflush < "$T/v0.rules"
	rules=$(grep -c '^-A' "$T/v0.save")
	vip=10.96.$((q / 250)).$((q % 250 + 1))
	# The churn: v1, v0, v1, ... every PERIOD seconds, for as long as the capture.
	( e=1; while :; do sleep "$period"; $ipr iptables-legacy-restore --noflush < "$T/v$e.rules"
	  e=$((1 - e)); done ) & churn_pid=$!
	t0=$EPOCHREALTIME
	exec 3< <(exec "$IPTRACE" --netns "$R" --port 53 --format json -o "$T/out.json" \
		--duration "$DUR" 2>&1)
	pid=$!
	ready=
	while IFS= read -r line <&3; do
		case $line in *tracing*) ready=$(awk -v a="$t0" -v b="$EPOCHREALTIME" \
			'BEGIN { printf "%.1f", (b - a) * 1000 }'); break ;; esac
	done
	# Only tables that exist: saving a missing one would create it.
	for t in $($ipr cat /proc/net/ip_tables_names); do
		[ "$t" = nat ] || $ipr iptables-legacy-save -t "$t"
	done > "$T/static.save"
	# A payload of its own per query: two queries with one IP ID are still two packets.
	( i=0; while :; do udp_send "$C" "$vip" 53 "q$((i++))"; sleep 0.1; done ) & query_pid=$!
	sleep "$((DUR - 3))"
	kill "$query_pid"; wait "$query_pid" 2>/dev/null
	rd=$(pgrep -P "$pid" | head -1)
	rss=$(vm "$pid" VmHWM) rd_rss=$(vm "$rd" VmHWM) c=$(cpu "$pid") rd_c=$(cpu "$rd")
	cat <&3 > "$T/err"
	exec 3<&-
	wait "$pid" 2>/dev/null
	kill "$churn_pid"; wait "$churn_pid" 2>/dev/null
	# Every step as TSV, with the version its packet met (0 or 1, from the packet's
	# KUBE-SERVICES number; "?" when it has none or two).
	jq -r --argjson q "$q" 'select(.type == "packet") |
		[.steps[] | select(.table == "nat" and .chain == "KUBE-SERVICES" and
		 .kind == "rule") | .rulenum] as $k |
		(if $k == [$q + 1] then 0 elif $k == [$q + 2] then 1 else "?" end) as $v |
		.steps[] | [$v, .table, .chain, .kind, .rulenum, (.rule // "-"),
			    (.rule_reason // "-")] | @tsv' "$T/out.json" > "$T/steps.tsv"
	# resolved/null/wrong over KUBE-SERVICES steps, then wrong over every step.
	awk -F'\t' -v v0="$T/v0.save" -v v1="$T/v1.save" -v st="$T/static.save" '
	function load(f, k,   line, c) {
		while ((getline line < f) > 0) {
			if (line !~ /^-A /) continue
			split(line, w, " "); c = w[2]
			r[k, c, ++cnt[k, c]] = line
		}
	}
	BEGIN { load(v0, 0); load(v1, 1); load(st, "s") }
	{
		v = $1; t = $2; c = $3; n = $5; rule = $6
		svc = t == "nat" && c == "KUBE-SERVICES" && $4 == "rule"
		if (svc) steps++
		if (rule == "-") { if (svc) nulls++; reason[$7]++; next }
		if (rule ~ /^-P /) next
		want = t == "nat" ? (v == "?" ? "" : r[v, c, n]) : r["s", c, n]
		# A packet of unknown version: only chains the two versions share can be judged.
		if (v == "?" && t == "nat" && r[0, c, n] == r[1, c, n])
			want = r[0, c, n]
		if (rule != want) { bad++; if (svc) svcbad++; print "wrong: " $0 > "/dev/stderr" }
		else if (svc) ok++
	}
	END {
		printf "%d %d %d %d", steps, ok, nulls, bad
		for (x in reason) printf "\t%s=%d", x, reason[x] > "/dev/stderr"
		if (length(reason)) printf "\n" > "/dev/stderr"
	}' "$T/steps.tsv" > "$T/counts" 2> "$T/wrong"
	read -r steps ok nulls bad < "$T/counts"
	# A packet split in two by a stall: its second part starts without the raw step every
	# packet meets first here. (A query whose source port a recent one had skips nat:
	# conntrack knows it. That is no split.)
	split=$(jq -s '[.[] | select(.type == "packet") | [.steps[].table] |
		select(index("raw") == null)] | length' "$T/out.json")
	printf '%-9s %6s %6s %5s %8s %5s %5s %5s %5s %8s %7.1f %6.1f %7.1f %6s %8s\n' "$n" \
		"$rules" "$period" "$steps" "$ok" "$nulls" "$bad" \
		"$(awk -v a="$ok" -v b="$steps" 'BEGIN { printf "%.0f", b ? 100 * a / b : 0 }')" \
		"$split" "$ready" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" \
		"$(awk -v k="${rd_rss:-0}" 'BEGIN { print k / 1024 }')" \
		"$(awk -v a="$rss" -v b="${rd_rss:-0}" 'BEGIN { print (a + b) / 1024 }')" "$c" "$rd_c"
	sed 's/^/  /' "$T/wrong" >&2
	if [ -n "${CHURN_KEEP:-}" ]; then
		mkdir -p "$CHURN_KEEP"
		cp "$T/out.json" "$CHURN_KEEP/churn-$n.json"
		cp "$T/steps.tsv" "$CHURN_KEEP/churn-$n.tsv"
		cp "$T/err" "$CHURN_KEEP/churn-$n.err"
	fi
done
