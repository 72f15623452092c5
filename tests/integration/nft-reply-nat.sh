#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nft-reply-nat.sh: with the nft marker, the reply of a masqueraded ping is shown as it came
# in (to the router's address), with conntrack's undoing of the NAT and its --nat entry. The
# marker's record is the one record of those headers: it is grouped and annotated with the
# packet, not printed (--verbose prints it).
set -u
source "$TESTS_LIB"
need_root
need_cmd jq nft
T=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$T"' EXIT
lab_up

# No chain but the marker's: the packets are not shown, but counted and said.
ip netns exec "$R" "$IPTRACE" --backend nft --proto icmp --duration 3 --format json \
	>"$T/none" 2>"$T/none.err" & pid=$!
wait_ready "$T/none.err"
ip netns exec "$C" ping -c1 -W2 10.0.2.7 >/dev/null || fail "ping through the router"
wait $pid || fail "exit $? ($(cat "$T/none.err"))"
tail -n 1 "$T/none" | jq -e '.packets == 0 and .marked_only == 2' >/dev/null ||
	fail "no chain but the marker's: $(cat "$T/none")"
grep -q '^iptrace: note: 2 marked packets crossed no chain but iptrace.s own' "$T/none.err" ||
	fail "no chain but the marker's: not said: $(cat "$T/none.err")"
pass "packets no chain but the marker's saw: counted (marked_only) and said"

ip netns exec "$R" nft -f - <<-EOF || fail "nft tables"
table ip rn_nat {
	chain post { type nat hook postrouting priority 100; oifname "r1" masquerade; }
}
table inet rn_fw {
	chain fw_in { type filter hook forward priority 0; policy accept; ip protocol icmp accept; }
}
EOF
snapshot "$R" >"$T/before"

for v in "" --verbose; do
	ip netns exec "$R" "$IPTRACE" --backend nft --proto icmp --nat --count 2 --duration 15 \
		--format json $v >"$T/out" 2>"$T/err" & pid=$!
	wait_ready "$T/err"
	ip netns exec "$C" ping -c1 -W2 10.0.2.7 >/dev/null || fail "ping through the router"
	wait $pid || fail "exit $? ($(cat "$T/err"))"
	r=$(jq -c 'select(.type == "packet" and .icmp_type == 0)' "$T/out")
	[ -n "$r" ] || fail "${v:-default}: no echo reply: $(cat "$T/out")"
	echo "$r" | jq -e '.src == "10.0.2.7" and .dst == "10.0.2.1"' >/dev/null ||
		fail "${v:-default}: the reply not shown as it came in: $r"
	echo "$r" | jq -e '[.steps[] | select(.nat.dst == ["10.0.2.1", "10.0.1.2"])] | length == 1' \
		>/dev/null || fail "${v:-default}: no step with conntrack's undoing of the NAT: $r"
	echo "$r" | jq -e '.ct != null' >/dev/null || fail "${v:-default}: no conntrack entry (--nat): $r"
	echo "$r" | jq -e '.steps[] | select(.table == "rn_fw") | .dst == "10.0.1.2"' >/dev/null ||
		fail "${v:-default}: the forward step's address: $r"
	marks=$(echo "$r" | jq '[.steps[] | select(.table | startswith("iptrace_"))] | length')
	if [ -z "$v" ]; then
		[ "$marks" = 0 ] || fail "the marker's step printed without --verbose: $r"
	else
		[ "$marks" = 1 ] || fail "--verbose: the marker's step not printed: $r"
	fi
	pass "${v:-default}: reply to 10.0.2.1, NAT undone at a shown step, ct entry, $marks marker steps"
done
snapshot "$R" | diff -u "$T/before" - >&2 || fail "the namespace's ruleset changed"
pass "the ruleset is as before"
