#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nft-long-names.sh: nf_tables names longer than 31 bytes are shown whole, with their rule
# text. kube-proxy's nftables mode names its chains "service-HASH-NAMESPACE/NAME/PROTO/PORT"
# and "endpoint-HASH-...__ADDR/PORT" (45 to 70 bytes); firewalld's policy chains
# ("filter_IN_policy_allow-host-ipv6", "..._allow", "..._deny") share their first 31 bytes.
# A 255-byte chain (NFT_NAME_MAXLEN - 1) is shown whole in text and JSON too.
source "$TESTS_LIB"
need_root
need_cmd nft jq
OUT=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$OUT"' EXIT

SVC=service-ULMVA6XW-kube-system/kube-dns/udp/dns
EP=endpoint-5OJB2KTY-kube-system/kube-dns/udp/dns__10.0.2.7/53
POL=filter_FWD_policy_allow-host-ipv6
LONG=$(printf 'x%.0s' $(seq 1 255))
lab_up
# The kube-proxy part as kube-proxy 1.31 writes it (trimmed to one service); the firewalld
# part as firewalld 2.x names a policy's chains.
ip netns exec "$R" nft -f - <<NFT || fail "cannot load the lab ruleset"
table ip kube-proxy {
	map service-ips {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.10 . udp . 53 : goto $SVC }
	}
	chain nat-prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump services
	}
	chain services {
		ip daddr . meta l4proto . th dport vmap @service-ips
	}
	chain $SVC {
		ip daddr 10.96.0.10 udp dport 53 ip saddr != 10.244.0.0/16 jump mark-for-masquerade
		numgen random mod 1 vmap { 0 : goto $EP }
	}
	chain $EP {
		meta l4proto udp dnat to 10.0.2.7:53
	}
	chain mark-for-masquerade {
		meta mark set meta mark | 0x00004000
	}
}
table inet firewalld {
	chain filter_FORWARD {
		type filter hook forward priority filter + 10; policy accept;
		jump $POL
	}
	chain $POL {
		jump ${POL}_deny
		jump ${POL}_allow
	}
	chain ${POL}_deny {
		udp dport 9 drop
	}
	chain ${POL}_allow {
		udp dport 53 jump $LONG
	}
	chain $LONG {
		accept
	}
}
NFT

ip netns exec "$R" "$IPTRACE" --port 53 --format json -c 1 >"$OUT/json" 2>"$OUT/err" &
pid=$!
wait_ready "$OUT/err"
udp_send "$C" 10.96.0.10 53 long-names
wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/err")"
one_packet "$OUT/json"

# rule TABLE CHAIN N: the text of the Nth rule of regular chain CHAIN as `nft list` prints it.
rule() {
	ip netns exec "$R" nft list chain "$1" "$2" "$3" |
		sed -n '/^\t\t/p' | sed -n "${4}p" | sed -E 's/^\t+//'
}
# step CHAIN [VERDICT]: the one rule step in CHAIN (with that verdict).
step() {
	s=$(jq -c --arg c "$1" --arg v "${2:-}" \
		'[.steps[] | select(.chain == $c and .kind == "rule" and
		  ($v == "" or .verdict == $v))] | select(length == 1) | .[0]' <<<"$pkt")
	[ -n "$s" ] || fail "not one step in chain $1 ${2:+($2)}: $pkt"
}
# has_rule TEXT: the step $s carries TEXT as its rule.
has_rule() {
	[ "$(jq -r .rule <<<"$s")" = "$1" ] || fail "rule of $(jq -r .chain <<<"$s"): want '$1': $s"
}

step services "goto $SVC"
step "$SVC" "jump mark-for-masquerade"
has_rule "$(rule ip kube-proxy "$SVC" 1)"
step "$SVC" "goto $EP"
has_rule "$(rule ip kube-proxy "$SVC" 2)"
step "$EP" accept
has_rule "$(rule ip kube-proxy "$EP" 1)"
pkt_is '.steps[] | select(.chain == "'"$EP"'") | .nat.dst == ["10.96.0.10:53", "10.0.2.7:53"]' \
	"the DNAT is not on the endpoint chain's step"
pass "kube-proxy's nftables chain names whole, with their rules"

step filter_FORWARD "jump $POL"
step "$POL" "jump ${POL}_deny"
step "$POL" "jump ${POL}_allow"
step "${POL}_allow" "jump $LONG"
has_rule "$(rule inet firewalld "${POL}_allow" 1)"
step "$LONG" accept
has_rule accept
pass "chains sharing their first 31 bytes told apart; a 255-byte name whole"

# Text: the whole names too, in the chain column (table family, table, chain).
ip netns exec "$R" "$IPTRACE" --port 53 -c 1 --color never >"$OUT/text" 2>"$OUT/err" &
pid=$!
wait_ready "$OUT/err"
udp_send "$C" 10.96.0.10 53 long-names
wait "$pid" || fail "iptrace exited $?: $(cat "$OUT/err")"
chain_shown() { awk -v t="$1" -v c="$2" '$2 == t && $3 == c { n++ } END { exit !n }' "$OUT/text"; }
chain_shown firewalld "$LONG" || fail "text lacks the 255-byte chain: $(cat "$OUT/text")"
chain_shown kube-proxy "$EP" || fail "text lacks the endpoint chain: $(cat "$OUT/text")"
pass "text names them whole"
