#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# look.sh: a ping through a masquerading router, as a new user would trace it — --pcap opens in
# tshark with the steps as packet comments, ICMP type/code on the packet, the new source on
# the MASQUERADE step (from conntrack), the reply's reverse NAT on the step it happened
# after; early ends (TTL, no route) said; --format dot renders with dot -Tsvg; the pcapng
# survives SIGKILL; --replay and --read write it too; nft steps name their table's family.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy nft jq tshark dot ping
T=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$T"' EXIT
lab_up

# tshark refuses to run as root without a word: keep its noise out of the checks.
tsk() {
	tshark "$@" 2>"$T/tshark.err"
}

# --- nf_tables only: table families in text, nft masquerade, headers-only pcapng ----------
ip netns exec "$R" nft -f - <<-EOF
table ip look_nat {
	chain post { type nat hook postrouting priority 100; oifname "r1" masquerade; }
}
table inet look_fw {
	chain look_fwd { type filter hook forward priority 0; policy accept; ip protocol icmp accept; }
}
EOF
[ $? = 0 ] || fail "nft tables"
ip netns exec "$R" "$IPTRACE" --backend nft --proto icmp --count 2 --duration 15 \
	--pcap "$T/nft.pcapng" >"$T/nft.txt" 2>"$T/nft.err" & pid=$!
wait_ready "$T/nft.err"
ip netns exec "$C" ping -c1 -W2 10.0.2.7 >/dev/null || fail "ping through nft masquerade"
wait $pid || fail "nft capture: exit $? ($(cat "$T/nft.err"))"
grep -Eq '^  inet look_fw +look_fwd +rule #[0-9]+ +accept ' "$T/nft.txt" ||
	fail "text: no 'inet look_fw' step: $(cat "$T/nft.txt")"
grep -Eq '^  ip look_nat +post +rule #[0-9]+ ' "$T/nft.txt" ||
	fail "text: no 'ip look_nat' step: $(cat "$T/nft.txt")"
grep -A1 -E '^  ip look_nat +post .*masquerade' "$T/nft.txt" | grep -q '↳ src 10.0.1.2 → 10.0.2.1$' ||
	fail "text: nft masquerade's new source: $(cat "$T/nft.txt")"
[ "$(tsk -r "$T/nft.pcapng" | wc -l)" = 2 ] || fail "nft pcapng: $(tsk -r "$T/nft.pcapng")"
tsk -r "$T/nft.pcapng" -T fields -e frame.comment | head -n 1 | grep -q '^headers only: ' ||
	fail "nft-only packet: no headers-only note: $(tsk -r "$T/nft.pcapng" -T fields -e frame.comment)"
pass "nft steps: 'inet look_fw' and 'ip look_nat' in text, masquerade's new source, headers-only pcapng"
ip netns exec "$R" nft delete table ip look_nat
ip netns exec "$R" nft delete table inet look_fw

# --- the masquerading router, legacy tables ----------------------------------------------
ipt="ip netns exec $R iptables-legacy -w"
$ipt -t nat -A POSTROUTING -o r1 -j MASQUERADE
$ipt -t filter -A FORWARD -p icmp -j ACCEPT
$ipt -t mangle -A PREROUTING -p icmp -j ACCEPT

# JSON with --pcap, --record for the replay below.
ip netns exec "$R" "$IPTRACE" --proto icmp --count 2 --duration 15 --format json \
	--pcap "$T/t.pcapng" --record "$T/t.nlrec" >"$T/t.json" 2>"$T/t.err" & pid=$!
wait_ready "$T/t.err"
ip netns exec "$C" ping -c1 -W2 10.0.2.7 >/dev/null || fail "ping through the router"
wait $pid || fail "exit $? ($(cat "$T/t.err"))"
q=$(jq -c 'select(.type == "packet")' "$T/t.json" | sed -n 1p)
r=$(jq -c 'select(.type == "packet")' "$T/t.json" | sed -n 2p)
echo "$q" | jq -e '.proto == "icmp" and .icmp_type == 8 and .icmp_code == 0' >/dev/null ||
	fail "request: type/code: $q"
echo "$r" | jq -e '.icmp_type == 0 and .icmp_code == 0' >/dev/null || fail "reply: type/code: $r"
echo "$q" | jq -e '[.steps[] | select(.nat)] | length == 1 and .[0].verdict == "MASQUERADE" and
	.[0].table == "nat" and .[0].chain == "POSTROUTING" and
	.[0].nat == {"src":["10.0.1.2","10.0.2.1"]}' >/dev/null ||
	fail "request: the MASQUERADE step's source NAT: $q"
echo "$q" | jq -e '.steps[-1].verdict == "MASQUERADE"' >/dev/null || fail "request: last step: $q"
# The reply's reverse SNAT: conntrack, at nat PREROUTING, after mangle PREROUTING.
echo "$r" | jq -e '[.steps[] | select(.nat)] | length == 1 and .[0].table == "mangle" and
	.[0].chain == "PREROUTING" and .[0].nat == {"dst":["10.0.2.1","10.0.1.2"],
	"by":"conntrack","hook":"PREROUTING"}' >/dev/null || fail "reply: reverse NAT: $r"
echo "$r" | jq -e '[.steps[] | select(.table == "mangle" and .chain == "FORWARD")][0].dst ==
	"10.0.1.2"' >/dev/null || fail "reply: mangle FORWARD sees the restored address: $r"
pass "JSON: icmp_type/icmp_code, MASQUERADE's new source from conntrack, the reply's reverse NAT"

[ "$(tsk -r "$T/t.pcapng" | wc -l)" = 2 ] || fail "tshark: $(tsk -r "$T/t.pcapng"; cat "$T/tshark.err")"
tsk -r "$T/t.pcapng" -T fields -e icmp.type -e icmp.code -e frame.interface_name >"$T/fields"
[ "$(sed -n 1p "$T/fields")" = "$(printf '8\t0\tr0')" ] && [ "$(sed -n 2p "$T/fields")" = "$(printf '0\t0\tr1')" ] ||
	fail "tshark fields: $(cat "$T/fields")"
tsk -r "$T/t.pcapng" -Y 'icmp.type == 8' -T fields -e frame.comment >"$T/c1"
grep -q 'nat    POSTROUTING rule 1   MASQUERADE in r0 out r1  -A POSTROUTING -o r1 -j MASQUERADE\\n *↳ src 10.0.1.2 → 10.0.2.1$' "$T/c1" ||
	fail "the request's comment: $(cat "$T/c1")"
tsk -r "$T/t.pcapng" -Y 'icmp.type == 0' -V >"$T/v2"
grep -q 'Packet comments' "$T/v2" || fail "tshark -V: no packet comments: $(head -40 "$T/v2")"
tsk -r "$T/t.pcapng" -Y 'icmp.type == 0' -T fields -e frame.comment |
	grep -q 'mangle PREROUTING .*\\n *↳ dst 10.0.2.1 → 10.0.1.2 (conntrack, at nat PREROUTING)\\n  mangle FORWARD' ||
	fail "the reply's comment: $(tsk -r "$T/t.pcapng" -Y 'icmp.type == 0' -T fields -e frame.comment)"
pass "tshark lists both, the steps (NAT included) as packet comments"

# Text: the name on the header, the NAT lines under their steps.
ip netns exec "$R" "$IPTRACE" --proto icmp --count 2 --duration 15 >"$T/t.txt" 2>"$T/tt.err" & pid=$!
wait_ready "$T/tt.err"
ip netns exec "$C" ping -c1 -W2 10.0.2.7 >/dev/null || fail "ping (text)"
wait $pid || fail "text: exit $?"
grep -Eq '^packet 1  icmp 10\.0\.1\.2 → 10\.0\.2\.7  echo-request  id [0-9]+  len 84 ' "$T/t.txt" ||
	fail "text header: $(cat "$T/t.txt")"
grep -q '^packet 2  icmp 10.0.2.7 → 10.0.2.1  echo-reply ' "$T/t.txt" || fail "text reply: $(cat "$T/t.txt")"
grep -A1 'MASQUERADE in r0 out r1' "$T/t.txt" | grep -q '↳ src 10.0.1.2 → 10.0.2.1$' ||
	fail "text: no source NAT under MASQUERADE: $(cat "$T/t.txt")"
grep -A1 '^  mangle PREROUTING .* in r1 ' "$T/t.txt" | grep -q '↳ dst 10.0.2.1 → 10.0.1.2 (conntrack, at nat PREROUTING)$' ||
	fail "text: reply's reverse NAT: $(cat "$T/t.txt")"
pass "text: echo-request/echo-reply, NAT lines under MASQUERADE and mangle PREROUTING"

# Early ends: TTL 1 dies at forwarding; 10.0.9.9 has no route on the router.
ip netns exec "$R" "$IPTRACE" --proto icmp --src 10.0.1.2 --count 2 --duration 15 --format json \
	>"$T/e.json" 2>"$T/e.err" & pid=$!
wait_ready "$T/e.err"
ip netns exec "$C" ping -c1 -W1 -t 1 10.0.2.7 >/dev/null
ip netns exec "$C" ping -c1 -W1 10.0.9.9 >/dev/null
wait $pid || fail "early ends: exit $?"
jq -e -s '[.[] | select(.type == "packet")] | length == 2 and
	(.[0].ended == {"after":"nat PREROUTING","hook":"PREROUTING",
	 "hint":"dropped after routing: TTL expired (time-exceeded sent back)"}) and
	(.[1].ended.after == "nat PREROUTING" and (.[1].ended.hint | test("no route")))' "$T/e.json" >/dev/null ||
	fail "ended: $(cat "$T/e.json")"
jq -e -s '[.[] | select(.type == "packet") | .steps[-1].verdict] == ["ACCEPT","ACCEPT"]' "$T/e.json" >/dev/null ||
	fail "ended packets' last steps: $(cat "$T/e.json")"
pass "early ends: TTL expired and no route, said with where they were last seen"

# --format dot of a few packets renders.
ip netns exec "$R" "$IPTRACE" --proto icmp --count 4 --duration 15 --format dot \
	>"$T/t.dot" 2>"$T/d.err" & pid=$!
wait_ready "$T/d.err"
ip netns exec "$C" ping -c2 -i 0.2 -W2 10.0.2.7 >/dev/null || fail "ping (dot)"
wait $pid || fail "dot: exit $?"
dot -Tsvg "$T/t.dot" >"$T/t.svg" 2>"$T/dot.err" || fail "dot -Tsvg: $(cat "$T/dot.err")"
grep -q '<svg' "$T/t.svg" || fail "no svg"
# Four packets through filter FORWARD's rule: one edge. Only the first crossed nat.
grep -q 'n[0-9]* -> n[0-9]* \[label="4× rule 1 ACCEPT"' "$T/t.dot" &&
	grep -q 'n[0-9]* -> n[0-9]* \[label="1× rule 1 MASQUERADE"' "$T/t.dot" ||
	fail "dot: edges not merged with their counts: $(cat "$T/t.dot")"
grep -q 'label="ACCEPT\\n4 packets"' "$T/t.dot" || fail "dot: end node: $(cat "$T/t.dot")"
grep -q 'cluster_POSTROUTING' "$T/t.svg" || grep -q 'POSTROUTING' "$T/t.svg" || fail "svg lacks hooks"
pass "--format dot renders with dot -Tsvg; edges merged with counts"

# SIGKILL mid-capture: every packet printed so far is a whole block tshark reads.
ip netns exec "$R" "$IPTRACE" --proto icmp --duration 30 --window 50 --pcap "$T/k.pcapng" \
	>/dev/null 2>"$T/k.err" & pid=$!
wait_ready "$T/k.err"
ip netns exec "$C" ping -c3 -i 0.2 -W2 10.0.2.7 >/dev/null || fail "ping (kill)"
# Each packet is written as it completes (a window after its last record): wait for them.
for i in $(seq 1 100); do
	[ "$(tsk -r "$T/k.pcapng" | wc -l)" = 6 ] && break
	sleep 0.05
done
kill -KILL $pid; wait $pid 2>/dev/null
n=$(tsk -r "$T/k.pcapng" | wc -l)
[ "$n" = 6 ] || fail "after SIGKILL: want 6 packets, got $n: $(cat "$T/tshark.err")"
"$IPTRACE" --cleanup >/dev/null 2>&1
pass "SIGKILL: the pcapng holds every packet printed, readable"

# --replay and --read write it too; --read's bytes are rebuilt headers, said so.
"$IPTRACE" --replay "$T/t.nlrec" --pcap "$T/r.pcapng" >/dev/null 2>"$T/r.err" || fail "replay: $(cat "$T/r.err")"
[ "$(tsk -r "$T/r.pcapng" -Y icmp | wc -l)" = 2 ] || fail "replay pcapng: $(tsk -r "$T/r.pcapng")"
"$IPTRACE" --read "$TEST_DATA_DIR/kernel-trace.log" --pcap "$T/l.pcapng" --format json \
	>"$T/l.json" 2>"$T/l.err" || fail "read: $(cat "$T/l.err")"
want=$(jq -s '[.[] | select(.type == "packet")] | length' "$T/l.json")
[ "$want" -ge 1 ] && [ "$(tsk -r "$T/l.pcapng" | wc -l)" = "$want" ] ||
	fail "read pcapng: $want packets in JSON, $(tsk -r "$T/l.pcapng" | wc -l) in the file"
tsk -r "$T/l.pcapng" -T fields -e frame.comment | head -n 1 | grep -q '^headers rebuilt from the log line' ||
	fail "read: no rebuilt note"
pass "--replay and --read write the pcapng (rebuilt headers said)"
