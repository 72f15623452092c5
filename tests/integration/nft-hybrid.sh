#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nft-hybrid.sh: legacy nat chains (iptables-legacy, kube-proxy-like) and an nft filter table
# on one router: auto picks legacy+nft, and the datagram's legacy and nft steps come out in
# ONE packet, in kernel order, each with its backend; the rulesets are the same afterwards.
source "$TESTS_LIB"
need_root
need_cmd nft iptables-legacy iptables-legacy-save jq
OUT=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$OUT"' EXIT
strip_all() { strip_counters | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/g'; }

lab_up
lab_kube_nat
ip netns exec "$R" nft -f - <<'NFT' || fail "cannot load the nft table"
table inet fw {
	chain early {
		type filter hook prerouting priority -200; policy accept;
		udp dport 53 jump inspect
	}
	chain inspect {
		ip daddr 10.96.0.10 counter
	}
	chain late {
		type filter hook forward priority 10; policy accept;
		udp dport 53 counter accept
	}
}
NFT
before=$(snapshot "$R" | strip_all)

ip netns exec "$R" "$IPTRACE" --port 53 --format json -d 3 >"$OUT/json" 2>"$OUT/err" &
pid=$!
wait_ready "$OUT/err"
grep -q "with the legacy+nft marker" "$OUT/err" || fail "auto did not choose legacy+nft: $(cat "$OUT/err")"
udp_send "$C" 10.96.0.10 53 hybrid-query
wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/err")"

one_packet "$OUT/json"
seq=$(jq -r '[.steps[] | "\(.backend)/\(.table)/\(.chain)"] | join(" ")' <<<"$pkt")
echo "steps: $seq"
# Kernel order at PREROUTING: raw (-300) < fw early (-200) -> inspect < mangle (-150) < nat
# (-100); at FORWARD: mangle < filter (0) < fw late (+10); then POSTROUTING.
expect="legacy/raw/PREROUTING nft/fw/early nft/fw/inspect nft/fw/early legacy/mangle/PREROUTING
legacy/nat/PREROUTING legacy/nat/KUBE-SERVICES legacy/nat/KUBE-SVC-DNS legacy/nat/KUBE-SEP-DNS
legacy/mangle/FORWARD legacy/filter/FORWARD nft/fw/late legacy/mangle/POSTROUTING
legacy/nat/POSTROUTING"
[ "$seq" = "$(echo $expect)" ] || fail "steps not in kernel order:
 got    $seq
 wanted $(echo $expect)"
# Each step says its backend in its own terms: rulenum for legacy, handle for nft.
pkt_is '[.steps[] | select((.backend=="legacy" and (.rulenum|type)!="number") or
	(.backend=="nft" and .family!="inet"))] | length == 0' "a step lacks its backend's fields"
jq -e 'select(.type=="summary") | .marker == "legacy+nft"' "$OUT/json" >/dev/null ||
	fail "summary marker: $(tail -1 "$OUT/json")"

after=$(snapshot "$R" | strip_all)
[ "$before" = "$after" ] || fail "rulesets changed: $(diff <(echo "$before") <(echo "$after"))"
pass "hybrid legacy+nft path in one packet, kernel order"
