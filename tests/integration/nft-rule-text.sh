#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nft-rule-text.sh: nft steps carry the rule's text as `nft -a -s list ruleset` prints it for
# their handle, also for a rule inserted at the head of a chain between two packets of one
# capture (no "unknown rule handle"), a replaced rule never shows its new text for an
# older packet, and the text output prints the rule.
source "$TESTS_LIB"
need_root
need_cmd nft jq
OUT=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$OUT"' EXIT

lab_up
ip netns exec "$R" nft -f - <<'NFT' || fail "cannot load the lab ruleset"
table ip svc {
	chain entry {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.96.0.10 udp dport 53 counter jump services
	}
	chain services {
		meta l4proto udp counter dnat to 10.0.2.7
	}
}
table inet guard {
	chain through {
		type filter hook forward priority filter; policy drop;
		ip daddr 10.0.2.7 counter jump checks
		ip saddr 10.0.2.7 accept
	}
	chain checks {
		udp dport 53 counter accept comment "dns in"
	}
}
NFT

# text_of FAMILY TABLE HANDLE: the rule nft prints for HANDLE (stateless, comment cut).
text_of() {
	ip netns exec "$R" nft -a -s list table "$1" "$2" |
		sed -nE "s/^[[:space:]]+(.*) # handle $3\$/\\1/p"
}

# check_steps FILE: every nft rule step's text is the one nft shows for its handle now.
check_steps() {
	local s fam table handle kind rule want n=0
	while read -r s; do
		fam=$(jq -r .family <<<"$s"); table=$(jq -r .table <<<"$s")
		handle=$(jq -r .handle <<<"$s"); kind=$(jq -r .kind <<<"$s")
		rule=$(jq -r '.rule // empty' <<<"$s")
		if [ "$kind" = policy ]; then
			[ "$rule" = "policy $(jq -r .verdict <<<"$s")" ] || fail "policy step: $s"
			continue
		fi
		[ "$kind" = rule ] || continue
		[ -n "$rule" ] || fail "no rule text: $s"
		want=$(text_of "$fam" "$table" "$handle")
		[ -n "$want" ] || fail "nft shows no rule $fam $table handle $handle"
		[ "$rule" = "$want" ] || fail "step names '$rule', nft shows '$want' for handle $handle"
		n=$((n + 1))
	done < <(jq -c 'select(.type=="packet") | .steps[] | select(.table | startswith("iptrace_") | not)' "$1")
	[ "$n" -ge 4 ] || fail "only $n nft rule steps checked in $1"
}

# --- one packet: each step's text and verdict ---
ip netns exec "$R" "$IPTRACE" --port 53 --backend nft --format json --count 1 -d 5 \
	>"$OUT/one.json" 2>"$OUT/one.err" &
pid=$!
wait_ready "$OUT/one.err"
udp_send "$C" 10.96.0.10 53 first
wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/one.err")"
check_steps "$OUT/one.json"
pkt=$(jq -c 'select(.type=="packet")' "$OUT/one.json")
verdicts=$(jq -r '[.steps[] | .chain + "=" + .verdict] | join(" ")' <<<"$pkt")
[ "$verdicts" = "entry=jump services services=accept through=jump checks checks=accept" ] ||
	fail "verdicts: $verdicts"
pkt_is '.steps[] | select(.chain=="checks") | .rule == "udp dport 53 counter accept comment \"dns in\""' \
	"the checks rule text"

# --- rules change between two packets of one capture ---
ip netns exec "$R" "$IPTRACE" --port 53 --backend nft --format json --count 2 -d 8 \
	>"$OUT/two.json" 2>"$OUT/two.err" &
pid=$!
wait_ready "$OUT/two.err"
udp_send "$C" 10.96.0.10 53 before
sleep 0.5
# A new rule at the head of the filter chain (a new handle, never seen by iptrace), and a
# replaced rule in the nat chain (same handle, new text).
ip netns exec "$R" nft insert rule inet guard checks udp dport 53 counter accept comment \"inserted\"
h=$(ip netns exec "$R" nft -a list chain ip svc services | sed -nE 's/.*dnat to.* # handle ([0-9]+)$/\1/p')
old=$(text_of ip svc "$h")
ip netns exec "$R" nft replace rule ip svc services handle "$h" meta l4proto udp counter dnat to 10.0.2.7:53
new=$(text_of ip svc "$h")
[ "$old" != "$new" ] || fail "the replace did not change the text"
sleep 0.2
udp_send "$C" 10.96.0.10 53 after
wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/two.err")"
[ "$(jq -s '[.[] | select(.type=="packet")] | length' "$OUT/two.json")" = 2 ] ||
	fail "expected two packets: $(cat "$OUT/two.json")"
second=$(jq -s -c '[.[] | select(.type=="packet")][1]' "$OUT/two.json")
first=$(jq -s -c '[.[] | select(.type=="packet")][0]' "$OUT/two.json")
jq -e '.steps[] | select(.chain=="checks") | .rule == "udp dport 53 counter accept comment \"inserted\""' \
	<<<"$second" >/dev/null || fail "the second packet does not name the inserted rule: $second"
jq -e '.steps[] | select(.chain=="services") | .rule == $t' --arg t "$new" <<<"$second" >/dev/null ||
	fail "the second packet does not name the replacing rule: $second"
# The first packet met the old rules: old text, or none (never the new one).
r1=$(jq -r '.steps[] | select(.chain=="services") | .rule // "null"' <<<"$first")
[ "$r1" = "$old" ] || [ "$r1" = null ] || fail "the first packet names '$r1', it met '$old'"
jq -e '.steps[] | select(.chain=="checks") | .rule == "udp dport 53 counter accept comment \"dns in\""' \
	<<<"$first" >/dev/null || fail "the first packet's checks rule: $first"
grep -q unknown "$OUT/two.json" && fail "a step says unknown: $(cat "$OUT/two.json")"
# Every rule step of the second packet matches what nft shows now.
jq -c 'select(.type=="packet")' "$OUT/two.json" | sed -n 2p >"$OUT/second.json"
check_steps "$OUT/second.json"

# --- text output: the rule column ---
ip netns exec "$R" "$IPTRACE" --port 53 --backend nft --count 1 -d 5 --color never \
	>"$OUT/text" 2>"$OUT/text.err" &
pid=$!
wait_ready "$OUT/text.err"
udp_send "$C" 10.96.0.10 53 text
wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/text.err")"
grep -qF 'udp dport 53 counter accept comment "inserted"' "$OUT/text" ||
	fail "text output has no nft rule: $(cat "$OUT/text")"
grep -qF "$new" "$OUT/text" || fail "text output lacks the dnat rule: $(cat "$OUT/text")"
pass "nft steps name their rules, also after rules changed mid-capture"
