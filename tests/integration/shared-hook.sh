#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shared-hook.sh: a legacy table and an nft base chain at the same hook and priority (LXD's
# shape: legacy filter FORWARD next to an inet table's forward chain at priority 0). The
# kernel runs the one registered last first; the rule counters say which ran first, and
# iptrace must print that order for every packet, from the marks when the kernel can't list
# its hooks, and mark the steps "order unknown" (one fixed order) when nothing tells.
source "$TESTS_LIB"
need_root
need_cmd nft iptables-legacy jq
OUT=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "OUT=$OUT"
trap 'lab_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT
N=4

# The nft chain at forward priority 0: $1 is its rule.
add_nft() {
	ip netns exec "$R" nft -f - <<-NFT || fail "cannot load the nft table"
	table inet lxd {
		chain lxdfwd {
			type filter hook forward priority 0; policy accept;
			$1
		}
	}
	NFT
}

# trace NAME: capture N datagrams C -> S:53 through R; JSON in $OUT/NAME.json, text in .txt
trace() {
	local pid i
	ip netns exec "$R" "$IPTRACE" --port 53 --format json -d 2 >"$OUT/$1.json" 2>"$OUT/$1.err" &
	pid=$!
	wait_ready "$OUT/$1.err" "$pid"
	for i in $(seq 1 $N); do
		udp_send "$C" 10.0.2.7 53 "q$i"
	done
	wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/$1.err")"
	grep -q "with the legacy+nft marker" "$OUT/$1.err" ||
		fail "$1: not the legacy+nft marker: $(cat "$OUT/$1.err")"
	# Without nfnetlink_hook (this machine's kernel) the fallback is said, the capture goes on.
	if grep -q "no nfnetlink_hook" "$OUT/$1.err"; then HOOKLIST=0; else HOOKLIST=1; fi
}

# orders NAME: one line per datagram, its FORWARD steps as backend/table
orders() {
	jq -r 'select(.type=="packet" and .proto=="udp" and .dport==53) |
		[.steps[] | select(.chain=="FORWARD" or .chain=="lxdfwd") |
		 "\(.backend)/\(.table)\(if .order then "(" + .order + ")" else "" end)"] |
		join(" ")' "$OUT/$1.json"
}

# check NAME WANT: N datagrams, each with WANT as its FORWARD steps
check() {
	local got
	got=$(orders "$1")
	[ "$(grep -c . <<<"$got")" = $N ] || fail "$1: expected $N datagrams: $(cat "$OUT/$1.json")"
	[ "$(sort -u <<<"$got")" = "$2" ] || fail "$1: order
 got    $(sort -u <<<"$got" | paste -sd'|')
 wanted $2"
}

forward_hits() {
	ip netns exec "$R" iptables-legacy -w -t filter -L FORWARD -v -n -x | awk '$3 == "ACCEPT" { print $1 }'
}

# 1. Legacy filter registered first, the nft chain after it: nft runs first, sets the mark,
#    and the legacy rule that matches the mark counts every datagram.
lab_up
ip netns exec "$R" iptables-legacy -w -A FORWARD -p udp --dport 53 -m mark --mark 0x77 -j ACCEPT
add_nft "udp dport 53 meta mark set 0x77"
trace nftfirst
[ "$(forward_hits)" = $N ] || fail "lab: the mark rule counted $(forward_hits), not $N: not nft first"
check nftfirst "nft/lxd nft/lxd legacy/filter"
jq -se '[.[] | select(.type=="packet" and .dport==53) | .steps[] | select(.chain=="FORWARD")] |
	length == '$N' and all(.mark == "0x77" and .rulenum == 1)' "$OUT/nftfirst.json" >/dev/null ||
	fail "nftfirst: the legacy step should carry mark 0x77 at rule 1"
lab_cleanup

# 2. The nft chain registered first, legacy filter after it: legacy runs first, sees no mark.
lab_up
add_nft "udp dport 53 meta mark set 0x77"
ip netns exec "$R" iptables-legacy -w -A FORWARD -p udp --dport 53 -m mark --mark 0x77 -j ACCEPT
trace legacyfirst
[ "$(forward_hits)" = 0 ] || fail "lab: the mark rule counted $(forward_hits): not legacy first"
check legacyfirst "legacy/filter nft/lxd nft/lxd"
lab_cleanup

# 3. Nothing sets a mark: no record tells. One fixed order (legacy first) for every packet,
#    each of those steps marked, in JSON and in text.
lab_up
ip netns exec "$R" iptables-legacy -w -A FORWARD -p udp --dport 53 -j ACCEPT
add_nft "udp dport 53 counter"
trace unknown
if [ $HOOKLIST = 1 ]; then
	# The kernel listed its hooks: the order is known (the nft chain, registered last, first).
	check unknown "nft/lxd nft/lxd legacy/filter"
	pass "shared hook: the kernel's order from its hook list"
	exit 0
fi
check unknown "legacy/filter(unknown) nft/lxd(unknown) nft/lxd(unknown)"
jq -se '[.[] | select(.type=="packet" and .dport==53) | .steps[] | select(.chain=="PREROUTING")] |
	length == '$N' and all(has("order") | not)' "$OUT/unknown.json" >/dev/null ||
	fail "unknown: a step whose order is known is marked"
ip netns exec "$R" "$IPTRACE" --port 53 -d 2 >"$OUT/text" 2>"$OUT/text.err" &
pid=$!
wait_ready "$OUT/text.err" "$pid"
udp_send "$C" 10.0.2.7 53 text
wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/text.err")"
grep -Eq '^ ~filter +FORWARD' "$OUT/text" || fail "text: no ~ on the legacy step: $(cat "$OUT/text")"
grep -q 'which ran first is not known' "$OUT/text" || fail "text: no note: $(cat "$OUT/text")"
pass "shared hook: the kernel's order from the marks, else one fixed order marked unknown"
