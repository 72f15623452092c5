#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/nft-big.sh: iptrace's nft rule cache at 80k rules — peak RSS, ready time,
# resolved/wrong rule texts while kube-proxy-like rewrites run, and whether reading the
# rules ever holds up receiving (split or merged packets, the longest gap between records).
# Not part of `make check` (see BENCHMARKS.md; tests/integration/nft-listing.sh runs a
# small one).
#
# Usage: scripts/bench/nft-big.sh [-s SERVICES] [-r REWRITES] [-i MS] [-w MS] [-g]
#   -s SERVICES  kube-proxy-like services in the nat table (default 10000: 80,008 rules in
#                30,004 chains, loaded with iptables-nft-restore)
#   -r REWRITES  whole-table rewrites (iptables-nft-restore, one rule more or less
#                at the head of KUBE-SERVICES each time) during the capture (default 3)
#   -i MS        one UDP query to the traced service every MS ms, all through the capture
#                (default 20)
#   -w MS        iptrace's --window (default: iptrace's, 250)
#   -g           the KUBE-SERVICES rules together at the head of the input (a generator that
#                writes chain by chain), not each with its service's chains (kube-proxy's
#                order): a rewrite then moves every KUBE-SERVICES handle to the next rule
#                of the same chain, the harshest case for rule text
# Environment: IPTRACE (default src/iptrace), KEEP=1 keeps the outputs (their directory is
# printed).
#
# The lab is tests/lib.sh's client — router — server; the router holds the table, iptrace
# traces --port 53 there with the nft marker. Service 10 (10.96.0.10:53) DNATs to the server;
# the others to addresses nobody has. Prints iptrace's peak RSS (VmHWM, read from /proc
# while it runs), its ready time (exec to the "tracing" line) and, over the nat steps of the
# traced queries: resolved (a rule text given), unresolved (null, with a reason) and wrong
# (a text that is not the rule the step names: a KUBE-SERVICES step without the service's
# address, a KUBE-SEP step without its endpoint, ...). Each query is a datagram of its own
# (its own socket: source port and IP ID): "split" counts queries printed as more than one
# packet or packets without their nat PREROUTING step, "merged" packets holding more than
# one query. (Queries that cross while a rewrite swaps the table meet no nat chain, only
# iptrace's own, whose steps are not shown: they are no packet, a few per rewrite.) The longest gap between consecutive records' receive times (their "ts") shows
# a stall of the receive loop: records queue in the socket meanwhile and are read together
# after it; with a query every MS ms the gap is that much when nothing stalls (the sender's
# own longest gap is printed beside it).
set -u
. "$(dirname "$0")/common.sh"
SERVICES=10000 REWRITES=3 INTERVAL=20 WINDOW= GROUPED=0
while getopts "s:r:i:w:gh" o; do
	case $o in
	s) SERVICES=$OPTARG ;;
	r) REWRITES=$OPTARG ;;
	i) INTERVAL=$OPTARG ;;
	w) WINDOW=$OPTARG ;;
	g) GROUPED=1 ;;
	*) usage ;;
	esac
done
need_root
need_cmd iptables-nft-restore jq
need_iptrace
NS_PREFIX="ipt-nftbig-$$"
OUT=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "OUT=$OUT"
trap 'lab_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT

# table SHIFT: the nat table in iptables-restore form; SHIFT=1 adds one rule at the head.
table() {
	awk -v n="$SERVICES" -v shift="$1" -v grouped="$GROUPED" 'BEGIN {
		print "*nat"
		print ":PREROUTING ACCEPT [0:0]"
		print ":INPUT ACCEPT [0:0]"
		print ":OUTPUT ACCEPT [0:0]"
		print ":POSTROUTING ACCEPT [0:0]"
		print ":KUBE-SERVICES - [0:0]"
		print ":KUBE-NODEPORTS - [0:0]"
		print ":KUBE-MARK-MASQ - [0:0]"
		print ":KUBE-POSTROUTING - [0:0]"
		for (i = 1; i <= n; i++)
			printf ":KUBE-SVC-%d - [0:0]\n:KUBE-SEP-%dA - [0:0]\n:KUBE-SEP-%dB - [0:0]\n", i, i, i
		print "-A PREROUTING -j KUBE-SERVICES"
		print "-A OUTPUT -j KUBE-SERVICES"
		print "-A POSTROUTING -j KUBE-POSTROUTING"
		print "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"
		print "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
		print "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0"
		print "-A KUBE-POSTROUTING -j MASQUERADE"
		if (shift)
			print "-A KUBE-SERVICES -d 10.95.0.1/32 -p udp -m udp --dport 53 -j RETURN"
		for (i = 1; grouped && i <= n; i++)
			printf "-A KUBE-SERVICES -d 10.96.%d.%d/32 -p udp -m udp --dport 53 -j KUBE-SVC-%d\n", int(i / 256), i % 256, i
		for (i = 1; i <= n; i++) {
			vip = sprintf("10.96.%d.%d", int(i / 256), i % 256)
			ep = i == 10 ? "10.0.2.7" : sprintf("10.244.%d.%d", int(i / 256), i % 256)
			if (!grouped)
				printf "-A KUBE-SERVICES -d %s/32 -p udp -m udp --dport 53 -j KUBE-SVC-%d\n", vip, i
			printf "-A KUBE-SVC-%d ! -s 10.244.0.0/16 -d %s/32 -p udp -m udp --dport 53 -j KUBE-MARK-MASQ\n", i, vip
			printf "-A KUBE-SVC-%d -m statistic --mode random --probability 0.5 -j KUBE-SEP-%dA\n", i, i
			printf "-A KUBE-SVC-%d -j KUBE-SEP-%dB\n", i, i
			for (s = 0; s < 2; s++) {
				c = sprintf("KUBE-SEP-%d%s", i, s ? "B" : "A")
				printf "-A %s -s %s/32 -j KUBE-MARK-MASQ\n", c, ep
				printf "-A %s -p udp -m udp -j DNAT --to-destination %s:53\n", c, ep
			}
		}
		if (!shift)
			print "-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
		print "COMMIT"
	}'
}

lab_up
table 0 >"$OUT/t0"
table 1 >"$OUT/t1"
t0=$EPOCHREALTIME
ip netns exec "$R" iptables-nft-restore <"$OUT/t0" || fail "iptables-nft-restore failed"
load=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
rules=$(ip netns exec "$R" iptables-nft-save -t nat | grep -c '^-A')
echo "table: $rules nat rules loaded with iptables-nft-restore in ${load} s"

DUR=$((REWRITES * 3 + 4))
t0=$EPOCHREALTIME
exec 3< <(exec ip netns exec "$R" "$IPTRACE" --backend nft --port 53 --format json \
	${WINDOW:+--window "$WINDOW"} --duration "$DUR" -o "$OUT/json" 2>&1)
pid=$!
while IFS= read -r line <&3; do
	case $line in *tracing*) t1=$EPOCHREALTIME; break ;; esac
done
[ -n "${t1:-}" ] || fail "no ready line: $line"
ready=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) * 1000 }')
# The oldest: the listings' children carry iptrace's command line too.
ipid=$(pgrep -f -o -- "--duration $DUR -o $OUT/json")
cat <&3 >"$OUT/err" &

# Queries every INTERVAL ms from one shell (no process per query: its own pace is steady),
# each on a socket of its own, until 2 s before the end; the send times logged. Rewrites in
# between; VmHWM polled meanwhile.
hwm=0
ip netns exec "$C" bash -c '
	exec 9<> <(:)
	end=$(( ${EPOCHREALTIME%.*} + $1 - 2 ))
	q=0
	while [ "${EPOCHREALTIME%.*}" -lt "$end" ]; do
		q=$((q + 1))
		printf "q%d" "$q" >/dev/udp/10.96.0.10/53
		echo "$EPOCHREALTIME" >>"$2"
		read -rt "$3" -u 9
	done' query "$DUR" "$OUT/sent" "$(awk -v i="$INTERVAL" 'BEGIN { printf "%.3f", i / 1000 }')" &
qpid=$!
( for w in $(seq 1 "$REWRITES"); do
	sleep 1
	[ -n "${KEEP:-}" ] && echo "$EPOCHREALTIME rewrite $w" >>"$OUT/rss"
	ip netns exec "$R" iptables-nft-restore <"$OUT/t$((w % 2))"
	[ -n "${KEEP:-}" ] && echo "$EPOCHREALTIME rewrite $w done" >>"$OUT/rss"
done ) &
wpid=$!
while kill -0 "$pid" 2>/dev/null; do
	h=$(awk '/^VmHWM/ { print $2 }' "/proc/$ipid/status" 2>/dev/null)
	[ -n "$h" ] && hwm=$h
	[ -n "${KEEP:-}" ] && echo "$EPOCHREALTIME $(awk '/^VmRSS/ { print $2 }' "/proc/$ipid/status" 2>/dev/null)" >>"$OUT/rss"
	sleep 0.1
done
wait "$qpid" "$wpid"
queries=$(grep -c . "$OUT/sent")

jq -c 'select(.type=="packet") | .steps[] | select(.backend=="nft" and .table=="nat" and .kind=="rule")' \
	"$OUT/json" >"$OUT/steps"
# wrong: a text that is not the rule its chain holds for this service.
jq -rs '
	def want: if .chain == "PREROUTING" or .chain == "OUTPUT" then "jump KUBE-SERVICES"
		elif .chain == "KUBE-SERVICES" then "10.96.0.10 "
		elif .chain == "KUBE-SVC-10" then "KUBE-(SEP-10[AB]|MARK-MASQ)"
		elif (.chain | test("^KUBE-SEP-10[AB]$")) then "10.0.2.7"
		elif .chain == "KUBE-MARK-MASQ" then "mark"
		elif (.chain | test("POSTROUTING")) then "mark|masquerade|KUBE-POSTROUTING"
		else "^$" end;
	[.[] | select(.rule != null)] as $r | [.[] | select(.rule == null)] as $n |
	"steps \(($r | length) + ($n | length))  resolved \($r | length)  unresolved \($n | length)  wrong \([$r[] | select(want as $w | .rule | test($w) | not)] | length)"
	' "$OUT/steps" >"$OUT/summary"
cat "$OUT/summary"
jq -rs '[.[] | select(.rule == null) | .rule_reason] | group_by(.) | map("  null: \(length) \(.[0])") | .[]' "$OUT/steps"
jq -r 'select(.rule != null and .chain == "KUBE-SERVICES" and (.rule | test("10.96.0.10 ") | not)) |
	"  wrong: \(.chain) \(.rule)"' "$OUT/steps" | head -3
# split: a query (source port and IP ID) in more than one packet, or a packet without its
# nat PREROUTING step; merged: a packet with more than one.
jq -rs '
	[.[] | select(.type == "packet" and .dport == 53)] as $p |
	def pre: [.steps[] | select(.table == "nat" and .chain == "PREROUTING" and .kind == "rule")] | length;
	($p | group_by([.sport, .ipid]) | map(select(length > 1)) | length) as $twice |
	"packets \($p | length)  split \($twice + ([$p[] | select(pre == 0)] | length))  merged \([$p[] | select(pre > 1)] | length)"
	' "$OUT/json" >"$OUT/packets"
echo "$(cat "$OUT/packets")  queries $queries  rewrites $REWRITES"
# The longest gap between consecutive receive times, and the sender's.
gap=$(jq -r 'select(.type=="packet") | .steps[] | .ts | select(. != null) |
	((.[0:19] + "Z" | fromdateiso8601) + (.[20:26] | tonumber) / 1e6)' "$OUT/json" |
	sort -n | awk 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 } END { printf "%.0f", g * 1000 }')
sgap=$(awk 'NR > 1 && $1 - p > g { g = $1 - p } { p = $1 } END { printf "%.0f", g * 1000 }' "$OUT/sent")
echo "receive gap: longest ${gap} ms between consecutive records (a query every ${INTERVAL} ms; the sender's longest gap ${sgap} ms)"
echo "ready ${ready} ms  peak RSS $((hwm / 1024)) MiB (VmHWM ${hwm} kB)"
