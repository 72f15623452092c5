#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# selectors.sh: every selector, IPv4 and IPv6, on both markers. For each case, traffic that
# matches and traffic that doesn't cross the router; only the matching packets may come out,
# and the firewall is as before afterwards. Also --netns from outside and a name resolved.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy ip6tables-legacy nft jq ping
LAB_IPV6=1
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
lab_up
# Legacy tables of both families in use on R (so the legacy marker traces both), and an nft
# filter table (so auto adds the nft marker too; --backend picks one explicitly below).
ip netns exec "$R" iptables-legacy -w -t filter -A FORWARD -j ACCEPT
ip netns exec "$R" ip6tables-legacy -w -t filter -A FORWARD -j ACCEPT
# Warm the neighbour caches: no neighbour discovery during the cases below.
ip netns exec "$C" ping -q -c1 -W2 10.0.2.7 >/dev/null
ip netns exec "$C" ping -q -6 -c1 -W2 2001:db8:2::2 >/dev/null
# The first legacy capture creates the raw tables for good (the kernel keeps them): make
# them exist before the snapshot (a snapshot taken first would miss them).
ip netns exec "$R" iptables-legacy -w -t raw -S >/dev/null
ip netns exec "$R" ip6tables-legacy -w -t raw -S >/dev/null
snapshot "$R" >"$tmp/before"

# run_case MARKER WANT "IPTRACE ARGS" "JQ CHECK" -- SEND...: start iptrace on R, send, stop.
# WANT is the exact number of packets, or N+ for at least N.
run_case() {
	local marker=$1 want=$2 args=$3 check=$4
	shift 5
	# shellcheck disable=SC2086
	ip netns exec "$R" "$IPTRACE" --backend "$marker" $args --format json --window 100 \
		>"$tmp/out" 2>"$tmp/err" &
	local pid=$!
	wait_ready "$tmp/err"
	"$@"
	sleep 0.4
	kill -INT "$pid"
	wait "$pid" || fail "$marker $args: exit $? ($(cat "$tmp/err"))"
	local got
	got=$(jq -s '[.[] | select(.type == "packet")] | length' "$tmp/out")
	case $want in
	*+) [ "$got" -ge "${want%+}" ] ;;
	*) [ "$got" = "$want" ] ;;
	esac || fail "$marker $args: $got packets, want $want: $(cat "$tmp/out") $(cat "$tmp/err")"
	if [ "${want%+}" -gt 0 ]; then
		jq -e -s "[.[] | select(.type == \"packet\") | ($check)] | all" "$tmp/out" >/dev/null ||
			fail "$marker $args: packets don't satisfy '$check': $(cat "$tmp/out")"
	fi
	[ "$(tail -n 1 "$tmp/out" | jq -r .type)" = summary ] || fail "$marker $args: no summary"
	pass "$marker $args"
}

udp4() { udp_send "$C" 10.0.2.7 "$1" x; }
udp6() { ip netns exec "$C" bash -c "exec 3>/dev/udp/2001:db8:2::2/$1; printf x >&3"; }
tcp4() { ip netns exec "$C" bash -c "exec 3<>/dev/tcp/10.0.2.7/$1" 2>/dev/null; true; }
ping4() { ip netns exec "$C" ping -q -c1 -W1 10.0.2.7 >/dev/null; }
ping6() { ip netns exec "$C" ping -q -6 -c1 -W1 2001:db8:2::2 >/dev/null; }
mix() { udp4 53; udp4 54; udp6 53; udp6 54; tcp4 53; tcp4 80; ping4; ping6; }

for m in legacy nft; do
	# Nothing listens on S: a datagram gets an ICMP port unreachable (no port: never
	# marked by --port), a SYN gets a RST from port 53 (marked: both directions).
	run_case $m 4 "--port 53" '.sport == 53 or .dport == 53' -- mix
	run_case $m 3 "-4 --port 53" '.family == "ipv4" and (.dport == 53 or .sport == 53)' -- mix
	run_case $m 1 "-6 --dest 2001:db8:2::2 --port 53" \
		'.family == "ipv6" and .proto == "udp" and .dport == 53 and .dst == "2001:db8:2::2"' -- mix
	run_case $m 2 "--dport 53,54 --proto udp -4" '.proto == "udp" and (.dport == 53 or .dport == 54)' -- mix
	run_case $m 3 "--dport 50-60 -4" '.dport >= 50 and .dport <= 60' -- mix
	run_case $m 1 "--sport 53 --proto tcp" '.proto == "tcp" and .sport == 53' -- mix
	run_case $m 5 "--dest 10.0.2.0/24" '.dst == "10.0.2.7"' -- mix
	run_case $m 3+ "--src 2001:db8:1::/64" '.src == "2001:db8:1::2"' -- mix
	# --host matches either direction: the echo request and its reply.
	run_case $m 2 "--host 10.0.1.2 --proto icmp" \
		'.proto == "icmp" and (.src == "10.0.1.2" or .dst == "10.0.1.2")' -- ping4
	run_case $m 2+ "--host 2001:db8:1::2 --proto icmpv6" '.proto == "icmpv6"' -- ping6
	run_case $m 1 "-i r0 --proto icmp" '.steps[0].in == "r0" and .proto == "icmp"' -- ping4
	run_case $m 0 "-i r1 --dport 53" 'true' -- udp4 53
	# A socket mark set by the sender on R itself (OUTPUT).
	run_case $m 1 "--mark 0x10/0xff --proto icmp" '.proto == "icmp"' -- \
		sh -c "ip netns exec $R ping -q -c1 -W1 -m 16 10.0.2.7 >/dev/null; ip netns exec $R ping -q -c1 -W1 10.0.2.7 >/dev/null"
done

# --limit: what the limit left unmarked is counted by the kernel and said in the summary.
# 20 datagrams, all selected: every one is either traced or counted as unmarked.
for m in legacy nft; do
	ip netns exec "$R" "$IPTRACE" --backend $m --dport 53 -4 --limit 1/s --format json \
		--window 100 >"$tmp/lim" 2>"$tmp/lim.err" &
	pid=$!
	wait_ready "$tmp/lim.err"
	for n in $(seq 1 20); do udp4 53; done
	sleep 0.4
	kill -INT "$pid"
	wait "$pid" || fail "$m --limit: exit $?"
	jq -e -s '(map(select(.type == "packet")) | length) as $p | .[-1] |
		.type == "summary" and .unmarked > 0 and $p > 0 and $p + .unmarked == 20' \
		"$tmp/lim" >/dev/null || fail "$m --limit: $(tail -n 1 "$tmp/lim")"
	pass "$m --limit 1/s: $(jq -r 'select(.type == "summary") | "\(.packets) traced, \(.unmarked) unmarked"' "$tmp/lim")"
done

# --limit keeps its unit: 10/min goes in as 10/min (it was rounded up to 1/s, 60/min). With
# --port 53 the nft marker has 8 rules, a counter dump past 4 KiB: still read back. 8
# datagrams, burst 5: the rest are unmarked.
for m in legacy nft; do
	ip netns exec "$R" "$IPTRACE" --backend $m --port 53 --limit 10/min --format json \
		--window 100 >"$tmp/lim" 2>"$tmp/lim.err" &
	pid=$!
	wait_ready "$tmp/lim.err"
	if [ $m = legacy ]; then
		ip netns exec "$R" iptables-legacy-save -t raw | grep -q -- '-m limit --limit 10/min ' ||
			fail "legacy --limit 10/min: $(ip netns exec "$R" iptables-legacy-save -t raw)"
	else
		ip netns exec "$R" nft list ruleset | grep -q 'limit rate 10/minute ' ||
			fail "nft --limit 10/min: $(ip netns exec "$R" nft list ruleset)"
	fi
	for n in $(seq 1 8); do udp4 53; done
	sleep 0.4
	kill -INT "$pid"
	wait "$pid" || fail "$m --limit 10/min: exit $?"
	grep -q 'cannot read the --limit counters' "$tmp/lim.err" && fail "$m: $(cat "$tmp/lim.err")"
	jq -e -s '(map(select(.type == "packet")) | length) as $p | .[-1] |
		.type == "summary" and .unmarked >= 2 and $p + .unmarked == 8' \
		"$tmp/lim" >/dev/null || fail "$m --limit 10/min: $(tail -n 1 "$tmp/lim")"
	pass "$m --limit 10/min: the rule says 10/min; $(jq -r 'select(.type == "summary") | "\(.packets) traced, \(.unmarked) unmarked"' "$tmp/lim")"
done

# Above 10000/s xt_limit would be no limit at all: refused where --backend auto takes the
# legacy marker (R has legacy tables), as with --backend legacy; nft takes it.
for b in auto legacy; do
	ip netns exec "$R" "$IPTRACE" --backend $b --port 53 --limit 10001/s -o "$tmp/fast" \
		2>"$tmp/fast.err"
	rc=$?
	[ "$rc" = 2 ] && grep -q 'above 10000/s' "$tmp/fast.err" && [ ! -e "$tmp/fast" ] ||
		fail "--backend $b --limit 10001/s: exit $rc: $(cat "$tmp/fast.err")"
done
ip netns exec "$R" "$IPTRACE" --backend nft --port 53 --limit 10001/s --duration 0.2 \
	2>"$tmp/fast.err" || fail "nft --limit 10001/s: $(cat "$tmp/fast.err")"
pass "--limit 10001/s: refused by the legacy marker (auto too), taken by nft"

# --netns from outside: the same capture, entered by name and by path.
iptrace_outside() {
	"$IPTRACE" --netns "$1" --host 10.0.1.2 --proto icmp --format json --count 1 --duration 10 \
		>"$tmp/ns.out" 2>"$tmp/ns.err" &
	local pid=$!
	wait_ready "$tmp/ns.err"
	ping4
	wait "$pid" || fail "--netns $1: exit $?"
	jq -e -s '[.[] | select(.type == "packet")] | length == 1 and
		(.[0] | .proto == "icmp" and .steps[0].in == "r0")' "$tmp/ns.out" >/dev/null || fail "--netns $1: $(cat "$tmp/ns.out")"
	pass "--netns $1"
}
iptrace_outside "$R"
iptrace_outside "/run/netns/$R"
rpid=$(ip netns pids "$R" | head -1)
[ -n "$rpid" ] && iptrace_outside "$rpid"

# A host name is resolved once, at start, and the addresses used are printed.
ip netns exec "$R" "$IPTRACE" --dest localhost --proto icmp --duration 0.3 >/dev/null 2>"$tmp/err" ||
	fail "--dest localhost failed: $(cat "$tmp/err")"
grep -q 'dst 127.0.0.1/32' "$tmp/err" || fail "resolved address not printed: $(cat "$tmp/err")"
pass "host name resolved and printed"

snapshot "$R" >"$tmp/after"
diff <(strip_counters <"$tmp/before") <(strip_counters <"$tmp/after") || fail "firewall changed"
ip netns exec "$R" nft list tables | grep -q iptrace && fail "an iptrace table was left"
pass "state identical"
