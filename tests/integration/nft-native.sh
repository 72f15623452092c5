#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nft-native.sh: rules written with nft itself (any chain names, a jump, a dnat); the steps
# carry the handles `nft -a` shows, the verdicts and the families; --verbose shows the
# marker's own table.
source "$TESTS_LIB"
need_root
need_cmd nft jq
OUT=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$OUT"' EXIT
strip_all() { strip_counters | sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/g'; }

lab_up
ip netns exec "$R" nft -f - <<'NFT' || fail "cannot load the lab ruleset"
table ip svc {
	chain entry {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.96.0.10 jump services
	}
	chain services {
		udp dport 53 dnat to 10.0.2.7
	}
}
table inet guard {
	chain through {
		type filter hook forward priority filter; policy drop;
		udp dport 53 accept
	}
}
NFT
before=$(snapshot "$R" | strip_all)

run_capture() {
	ip netns exec "$R" "$IPTRACE" --port 53 --format json -d 3 "$@" >"$OUT/json" 2>"$OUT/err" &
	local pid=$!
	wait_ready "$OUT/err"
	udp_send "$C" 10.96.0.10 53 native-query
	wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/err")"
	one_packet "$OUT/json"
}

handle_of() {	# TABLE-FAMILY TABLE PATTERN: the handle nft -a shows for the rule
	ip netns exec "$R" nft -a list table "$1" "$2" | grep -F -- "$3" | sed -nE 's/.*# handle ([0-9]+)$/\1/p'
}

run_capture
grep -q "with the nft marker" "$OUT/err" || fail "auto did not choose the nft marker"
step() { jq -c --arg t "$1" --arg c "$2" '.steps[] | select(.table==$t and .chain==$c and .kind=="rule")' <<<"$pkt"; }
s=$(step svc entry)
[ -n "$s" ] || fail "no step in ip svc entry: $pkt"
[ "$(jq -r .verdict <<<"$s")" = "jump services" ] || fail "entry verdict: $s"
[ "$(jq -r .family <<<"$s")" = ip ] || fail "entry family: $s"
[ "$(jq -r .handle <<<"$s")" = "$(handle_of ip svc 'jump services')" ] || fail "entry handle: $s"
s=$(step svc services)
[ "$(jq -r .verdict <<<"$s")" = accept ] || fail "services verdict (dnat accepts): $s"
[ "$(jq -r .handle <<<"$s")" = "$(handle_of ip svc 'dnat to')" ] || fail "services handle: $s"
s=$(step guard through)
[ "$(jq -r .family <<<"$s")" = inet ] || fail "through family: $s"
[ "$(jq -r .verdict <<<"$s")" = accept ] || fail "through verdict: $s"
[ "$(jq -r .dst <<<"$s")" = 10.0.2.7 ] || fail "DNAT not visible in guard through: $s"
# Kernel order: prerouting's chains, then forward; no chain-end 'continue' without a handle.
order=$(jq -r '[.steps[] | .chain] | join(" ")' <<<"$pkt")
[[ "$order" == "entry services through" ]] || fail "steps out of order or extra: $order"

run_capture --verbose
pkt_is '.steps[0].table | startswith("iptrace_")' \
	"--verbose does not show the marker's own step first"
# The marker's rule accepts (ending only its own chain): no chain end or policy step of its own.
pkt_is '.steps[0].verdict == "accept" and .steps[0].family == "inet"' \
	"the marker step's verdict or family"
pkt_is '[.steps[] | select(.table | startswith("iptrace_"))] | length == 1' \
	"more than the marker's rule step from its table"

# NFLOG group 0 owned by another capture: the nft marker warns and goes on with nft
# records; the libiptc marker can't, and names the owner.
ip netns exec "$R" "$IPTRACE" --port 53 -d 6 >/dev/null 2>"$OUT/owner" &
owner=$!
wait_ready "$OUT/owner"
ip netns exec "$R" "$IPTRACE" --port 53 --backend nft --format json -d 2 >"$OUT/json" 2>"$OUT/err" &
pid=$!
wait_ready "$OUT/err"
grep -q "warning: NFLOG group 0 is owned by netlink port id [0-9]" "$OUT/err" ||
	fail "no warning about the owned NFLOG group: $(cat "$OUT/err")"
udp_send "$C" 10.96.0.10 53 second-capture
wait "$pid" || fail "the nft capture beside an NFLOG owner exited $?: $(cat "$OUT/err")"
jq -s -e '[.[] | select(.type=="packet") | .steps[] | select(.chain=="entry")] | length > 0' "$OUT/json" >/dev/null ||
	fail "the nft capture beside an NFLOG owner saw no nft step: $(cat "$OUT/json")"
rc=0
ip netns exec "$R" "$IPTRACE" --port 53 --backend legacy -d 1 >/dev/null 2>"$OUT/err" || rc=$?
[ "$rc" = 1 ] || fail "legacy marker beside an NFLOG owner: exit $rc, wanted 1"
grep -q "owned by netlink port id [0-9]" "$OUT/err" || fail "the owner is not named: $(cat "$OUT/err")"
wait "$owner"

after=$(snapshot "$R" | strip_all)
[ "$before" = "$after" ] || fail "ruleset changed: $(diff <(echo "$before") <(echo "$after"))"
pass "nft-written rules traced with handles, verdicts and families"
