#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nft-iptables-nft.sh: DNAT rules written by iptables-nft; `iptrace --port 53` picks the nft
# marker, shows every nft chain the datagram crossed, leaves the ruleset as it was, and a
# kill -9 leaves no table behind (owner flag).
source "$TESTS_LIB"
need_root
need_cmd nft iptables-nft jq
OUT=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$OUT"' EXIT

# nft counters too, not only iptables' [pkts:bytes].
strip_all() { strip_counters | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/g'; }

lab_up
ipt="ip netns exec $R iptables-nft -w"
$ipt -t nat -N KUBE-SERVICES
$ipt -t nat -N KUBE-SEP-DNS
$ipt -t nat -A PREROUTING -m comment --comment "service portals" -j KUBE-SERVICES
$ipt -t nat -A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SEP-DNS
$ipt -t nat -A KUBE-SEP-DNS -p udp -m udp -j DNAT --to-destination 10.0.2.7:53
$ipt -t filter -A FORWARD -p udp -m udp --dport 53 -j ACCEPT
[ -z "$(ip netns exec "$R" cat /proc/net/ip_tables_names)" ] ||
	fail "iptables-nft created legacy tables: the lab can't test the auto choice"

before=$(snapshot "$R" | strip_all)
tables_before=$(ip netns exec "$R" nft list tables)

ip netns exec "$R" "$IPTRACE" --port 53 --format json -d 3 >"$OUT/json" 2>"$OUT/err" &
pid=$!
wait_ready "$OUT/err"
grep -q "with the nft marker" "$OUT/err" || fail "auto did not choose the nft marker: $(cat "$OUT/err")"
# The marker's table exists during the capture, owned and named after the process.
ip netns exec "$R" nft list table inet "iptrace_$pid" | grep -q "flags owner" ||
	fail "no owned table inet iptrace_$pid during the capture"
udp_send "$C" 10.96.0.10 53 query-one
wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/err")"

one_packet "$OUT/json"
chains=$(jq -r '[.steps[] | "\(.table):\(.chain)"] | join(" ")' <<<"$pkt")
for c in nat:PREROUTING nat:KUBE-SERVICES nat:KUBE-SEP-DNS filter:FORWARD; do
	[[ " $chains " == *" $c "* ]] || fail "chain $c missing from the packet: $chains"
done
# Every step is an nft one, with a handle, a verdict and the table's family.
pkt_is '[.steps[] | select(.backend!="nft" or (.handle|type)!="number" or
	(.verdict|type)!="string" or .family!="ip")] | length == 0' \
	"steps without backend nft, handle, verdict or family"
pkt_is '.steps[] | select(.chain=="PREROUTING") | .verdict == "jump KUBE-SERVICES"' \
	"nat PREROUTING's verdict is not 'jump KUBE-SERVICES'"
# DNAT visible: the forward step sees the new destination.
pkt_is '.steps[] | select(.table=="filter" and .chain=="FORWARD") | .dst == "10.0.2.7"' \
	"DNAT not visible in filter FORWARD"
# The marker's own steps are hidden without --verbose.
pkt_is '[.steps[] | select(.table|startswith("iptrace_"))] | length == 0' \
	"own marker steps shown without --verbose"
jq -e 'select(.type=="summary") | .marker == "nft"' "$OUT/json" >/dev/null ||
	fail "summary does not name the nft marker: $(tail -1 "$OUT/json")"

after=$(snapshot "$R" | strip_all)
[ "$before" = "$after" ] || fail "ruleset changed: $(diff <(echo "$before") <(echo "$after"))"

# kill -9: the kernel deletes the owned table when the socket goes.
ip netns exec "$R" "$IPTRACE" --port 53 >/dev/null 2>"$OUT/err2" &
pid=$!
wait_ready "$OUT/err2"
ip netns exec "$R" nft list tables | grep -q "iptrace_$pid" || fail "no marker table before kill -9"
kill -9 "$pid"
wait "$pid" 2>/dev/null
tables_after=$(ip netns exec "$R" nft list tables)
[ "$tables_before" = "$tables_after" ] ||
	fail "kill -9 left tables behind: $(diff <(echo "$tables_before") <(echo "$tables_after"))"
after=$(snapshot "$R" | strip_all)
[ "$before" = "$after" ] || fail "ruleset changed after kill -9: $(diff <(echo "$before") <(echo "$after"))"
pass "iptables-nft DNAT traced with the nft marker; ruleset unchanged; kill -9 leaves no table"
