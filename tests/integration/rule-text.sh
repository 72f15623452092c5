#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# rule-text.sh: steps name the rule iptables-legacy-save shows and its verdict, also across a
# rule inserted mid-capture; text colour only when asked; the capture leaves the tables alone.
source "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save jq
trap lab_cleanup EXIT
lab_up
lab_kube_nat
ipt="ip netns exec $R iptables-legacy -w"
# A rule the UDP packets hit in raw, behind iptrace's own TRACE rules.
$ipt -t raw -A PREROUTING -p udp -m udp --dport 53 -m comment --comment lab-raw
T=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$T"' EXIT

snapshot "$R" | strip_counters > "$T/before"

# step FILE PACKET TABLE CHAIN [KIND]: the first matching step of the packet (0-based) as JSON.
step() {
	jq -c --argjson p "$2" --arg t "$3" --arg c "$4" --arg k "${5:-}" \
		'select(.type=="packet" and (.id|tonumber) == $p + 1) |
		 .steps[] | select(.table==$t and .chain==$c and ($k=="" or .kind==$k))' "$1" | head -1
}
field() { jq -r ".$2" <<<"$1"; }
# save_rule SAVEFILE CHAIN N: the N-th rule of CHAIN in a save output.
save_rule() { grep -- "^-A $2 " "$1" | sed -n "${3}p"; }

# --- one packet through the kube-proxy-like chains ---------------------------------------
ip netns exec "$R" "$IPTRACE" --port 53 --format json --count 1 --duration 10 \
	> "$T/one.json" 2> "$T/one.err" & pid=$!
wait_ready "$T/one.err"
ip netns exec "$R" iptables-legacy-save -t raw > "$T/raw.save"
ip netns exec "$R" iptables-legacy-save -t nat > "$T/nat.save"
ip netns exec "$R" iptables-legacy-save -t filter > "$T/filter.save"
udp_send "$C" 10.96.0.10 53 hello
wait $pid || fail "iptrace exited with $?: $(cat "$T/one.err")"
[ "$(jq -s '[.[] | select(.type=="packet")] | length' "$T/one.json")" = 1 ] ||
	fail "expected one packet: $(cat "$T/one.json")"

s=$(step "$T/one.json" 0 nat KUBE-SEP-DNS rule)
[ -n "$s" ] || fail "no DNAT step"
want=$(save_rule "$T/nat.save" KUBE-SEP-DNS "$(field "$s" rulenum)")
[ "$(field "$s" rule)" = "$want" ] || fail "DNAT step rule '$(field "$s" rule)' != save '$want'"
[ "$(field "$s" verdict)" = DNAT ] || fail "DNAT step verdict $(field "$s" verdict)"
case $want in *"-j DNAT --to-destination 10.0.2.7:53"*) ;; *) fail "wrong rule chosen: $want" ;; esac
pass "DNAT step: $want"

for pair in "PREROUTING:jump KUBE-SERVICES" "KUBE-SERVICES:jump KUBE-SVC-DNS" \
	    "KUBE-SVC-DNS:jump KUBE-SEP-DNS"; do
	chain=${pair%%:*} verdict=${pair#*:}
	s=$(step "$T/one.json" 0 nat "$chain" rule)
	[ "$(field "$s" verdict)" = "$verdict" ] || fail "nat $chain verdict '$(field "$s" verdict)'"
	[ "$(field "$s" rule)" = "$(save_rule "$T/nat.save" "$chain" "$(field "$s" rulenum)")" ] ||
		fail "nat $chain rule '$(field "$s" rule)'"
done
pass "jump steps name their chains"

s=$(step "$T/one.json" 0 mangle FORWARD policy)
[ "$(field "$s" rule)" = "-P FORWARD ACCEPT" ] && [ "$(field "$s" verdict)" = ACCEPT ] ||
	fail "policy step: $s"
s=$(step "$T/one.json" 0 filter FORWARD rule)
[ "$(field "$s" rule)" = "-A FORWARD -p udp -m udp --dport 53 -j ACCEPT" ] &&
	[ "$(field "$s" verdict)" = ACCEPT ] || fail "filter step: $s"
pass "policy and accept steps"

# raw: numbers include iptrace's own TRACE rules at the head of PREROUTING.
ours=$(grep -c -- '^-A PREROUTING .*--comment "\?iptrace:' "$T/raw.save")
[ "$ours" -ge 1 ] || fail "no marker rules in raw during the capture"
s=$(step "$T/one.json" 0 raw PREROUTING rule)
[ "$(field "$s" rulenum)" = $((ours + 2)) ] || fail "raw lab rule number $(field "$s" rulenum)"
[ "$(field "$s" rule)" = "$(save_rule "$T/raw.save" PREROUTING $((ours + 2)))" ] &&
	[ "$(field "$s" rule)" = "-A PREROUTING -p udp -m udp --dport 53 -m comment --comment lab-raw" ] ||
	fail "raw lab rule: $s"
s=$(step "$T/one.json" 0 raw PREROUTING policy)
[ "$(field "$s" rulenum)" = $((ours + 3)) ] && [ "$(field "$s" rule)" = "-P PREROUTING ACCEPT" ] ||
	fail "raw policy: $s"
pass "raw numbers line up with $ours marker rule(s)"

# NAT shows once, on the DNAT step that chose it.
jq -e -s '[.[] | select(.type=="packet") | .steps[] | select(.nat.dst ==
	["10.96.0.10:53","10.0.2.7:53"]) | .verdict] == ["DNAT"]' "$T/one.json" >/dev/null ||
	fail "no nat object for the DNAT: $(cat "$T/one.json")"
# Every legacy step says something: a verdict, or why there is no rule.
jq -e -s '[.[] | select(.type=="packet") | .steps[] | select(.verdict == null and
	.rule_reason == null)] | length == 0' "$T/one.json" >/dev/null || fail "steps without verdict"
pass "nat object and verdicts on every step"

# --- a rule inserted at the head of KUBE-SERVICES between two packets ----------------------
ip netns exec "$R" "$IPTRACE" --port 53 --format json --count 2 --duration 15 \
	> "$T/two.json" 2> "$T/two.err" & pid=$!
wait_ready "$T/two.err"
ip netns exec "$R" iptables-legacy-save -t nat > "$T/nat1.save"
udp_send "$C" 10.96.0.10 53 first
sleep 1
$ipt -t nat -I KUBE-SERVICES 1 -d 10.96.0.99/32 -p udp -m udp --dport 53 -j KUBE-SVC-DNS
ip netns exec "$R" iptables-legacy-save -t nat > "$T/nat2.save"
sleep 1
udp_send "$C" 10.96.0.10 53 second
wait $pid || fail "iptrace exited with $?: $(cat "$T/two.err")"
[ "$(jq -s '[.[] | select(.type=="packet")] | length' "$T/two.json")" = 2 ] ||
	fail "expected two packets: $(cat "$T/two.json")"
s1=$(step "$T/two.json" 0 nat KUBE-SERVICES rule)
s2=$(step "$T/two.json" 1 nat KUBE-SERVICES rule)
[ "$(field "$s1" rulenum)" = 1 ] && [ "$(field "$s2" rulenum)" = 2 ] ||
	fail "kernel numbers $(field "$s1" rulenum) / $(field "$s2" rulenum)"
svc='-A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-DNS'
[ "$(field "$s1" rule)" = "$svc" ] || fail "packet 1 KUBE-SERVICES rule: $s1"
[ "$(field "$s2" rule)" = "$svc" ] || fail "packet 2 KUBE-SERVICES rule: $s2"
# No step of either packet names a rule other than the one at its number in its version.
for p in 0 1; do
	save=$T/nat$((p + 1)).save
	while read -r s; do
		rule=$(field "$s" rule) chain=$(field "$s" chain) n=$(field "$s" rulenum)
		[ "$rule" = null ] && continue
		case $rule in
		-P*) [ "$rule" = "-P $chain ACCEPT" ] || fail "packet $p: $rule" ;;
		*) [ "$rule" = "$(save_rule "$save" "$chain" "$n")" ] ||
			fail "packet $p $chain $n names '$rule'" ;;
		esac
	done < <(jq -c --argjson p "$p" 'select(.type=="packet" and (.id|tonumber) == $p + 1) |
		.steps[] | select(.table=="nat")' "$T/two.json")
done
pass "a rule inserted mid-capture: each packet names the rules of its version"

# --- text output: columns, NAT line, colour only when asked --------------------------------
ip netns exec "$R" "$IPTRACE" --port 53 --count 1 --duration 10 \
	> "$T/one.txt" 2> "$T/txt.err" & pid=$!
wait_ready "$T/txt.err"
udp_send "$C" 10.96.0.10 53 text
wait $pid || fail "iptrace (text) failed: $(cat "$T/txt.err")"
grep -q $'\033' "$T/one.txt" && fail "colour codes in a pipe"
grep -q 'KUBE-SEP-DNS .* DNAT .*-A KUBE-SEP-DNS -p udp -m udp -j DNAT --to-destination 10.0.2.7:53' \
	"$T/one.txt" || fail "no DNAT line in text: $(cat "$T/one.txt")"
grep -q 'dst 10.96.0.10:53 → 10.0.2.7:53' "$T/one.txt" || fail "no NAT line in text"
# The rule text starts in the same column on every step line.
cols=$(grep -- ' -[AP] ' "$T/one.txt" | awk '{ print index($0, " -A ") + index($0, " -P ") }' |
	sort -u | wc -l)
[ "$cols" = 1 ] || fail "rule column not aligned: $(cat "$T/one.txt")"
ip netns exec "$R" "$IPTRACE" --port 53 --count 1 --duration 10 --color always \
	> "$T/color.txt" 2> "$T/color.err" & pid=$!
wait_ready "$T/color.err"
udp_send "$C" 10.96.0.10 53 color
wait $pid || fail "iptrace (colour) failed"
grep -q $'\033\\[' "$T/color.txt" || fail "--color always printed no colour"
pass "text: aligned rule column, NAT line, colour only with --color always"

snapshot "$R" | strip_counters > "$T/after"
# The inserted KUBE-SERVICES rule is the test's own change; take it out before comparing.
grep -v -- '-d 10.96.0.99/32' "$T/after" > "$T/after.cmp"
diff -u "$T/before" "$T/after.cmp" || fail "the tables differ after the captures"
pass "tables unchanged by the captures (counters aside)"
