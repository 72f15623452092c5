#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nft-foreign.sh: the kernel sends every nft trace to every listener. Two captures with the
# nft marker in one namespace, and a user's own `meta nftrace set 1` rule, each show only
# the packets their own marker marked; what they skipped is counted ("foreign").
source "$TESTS_LIB"
need_root
need_cmd nft jq
OUT=$(mktemp -d)
trap 'lab_cleanup; [ -n "${KEEP:-}" ] || rm -rf "$OUT"' EXIT

lab_up
ip netns exec "$R" nft -f - <<'NFT' || fail "cannot load the lab ruleset"
table inet guard {
	chain through {
		type filter hook forward priority filter; policy accept;
		udp dport 5353 counter accept
	}
}
table inet user {
	chain early {
		type filter hook prerouting priority -400; policy accept;
		udp dport 7777 meta nftrace set 1
	}
}
NFT

ip netns exec "$R" "$IPTRACE" --backend nft --proto icmp --format json -d 4 >"$OUT/a" \
	2>"$OUT/a.err" &
pa=$!
wait_ready "$OUT/a.err" "$pa"
ip netns exec "$R" "$IPTRACE" --backend nft --port 5353 --format json -d 4 >"$OUT/b" \
	2>"$OUT/b.err" &
pb=$!
wait_ready "$OUT/b.err" "$pb"
ip netns exec "$C" ping -c 2 -i 0.2 -W 1 10.0.2.7 >/dev/null || fail "ping failed"
udp_send "$C" 10.0.2.7 5353 ours-b
udp_send "$C" 10.0.2.7 5353 ours-b-again
udp_send "$C" 10.0.2.7 7777 the-users-own
wait "$pa" || fail "capture A exited $?: $(cat "$OUT/a.err")"
wait "$pb" || fail "capture B exited $?: $(cat "$OUT/b.err")"

# A: the 2 echo requests and their 2 replies (and the server's port unreachables, ICMP
# too), nothing of B's or the user's.
[ "$(jq -s '[.[] | select(.type == "packet" and (.icmp_type == 8 or .icmp_type == 0))] |
	length' "$OUT/a")" = 4 ] || fail "A: not 4 echo packets: $(cat "$OUT/a")"
jq -e -s 'all(.[] | select(.type == "packet"); .proto == "icmp")' "$OUT/a" >/dev/null ||
	fail "A shows packets it did not mark: $(cat "$OUT/a")"
# B: its 2 datagrams, each with the guard step, nothing of A's or the user's.
[ "$(jq -s '[.[] | select(.type == "packet")] | length' "$OUT/b")" = 2 ] ||
	fail "B: not 2 packets: $(cat "$OUT/b")"
jq -e -s 'all(.[] | select(.type == "packet"); .proto == "udp" and .dport == 5353 and
	any(.steps[]; .table == "guard"))' "$OUT/b" >/dev/null ||
	fail "B shows packets it did not mark: $(cat "$OUT/b")"
# Nobody shows the other's marker table as a step, and both counted what they skipped.
jq -e -s 'any(.[] | select(.type == "packet") | .steps[]; .table | startswith("iptrace_"))' \
	"$OUT/a" "$OUT/b" >/dev/null && fail "a marker table shown as a step"
for x in a b; do
	jq -e 'select(.type == "summary") | .foreign > 0' "$OUT/$x" >/dev/null ||
		fail "$x: skipped records not counted: $(tail -n 1 "$OUT/$x")"
	grep -q 'nft trace records\? of packets another program marked' "$OUT/$x.err" ||
		fail "$x: not said: $(cat "$OUT/$x.err")"
done
pass "two nft captures and a user's nftrace rule: each capture shows only its own packets"
