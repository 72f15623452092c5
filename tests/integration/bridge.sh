#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bridge.sh: a bridged packet (br0 with ports p1, p2; br_netfilter on in the namespace), as
# on Docker and Kubernetes nodes: its steps name the bridge ports (log PHYSIN=/PHYSOUT=,
# the POSTROUTING line's PHYSIN= too, as the kernel's; JSON physin/physout), with the
# legacy marker for legacy tables and with the nft marker for an nft bridge family chain.
set -u
source "$TESTS_LIB"
need_root
need_cmd iptables-legacy ip6tables-legacy nft jq ping
WORK=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$WORK"' EXIT

LAB_IPV6=1
B="$NS_PREFIX-b"; H1="$NS_PREFIX-h1"; H2="$NS_PREFIX-h2"
ns_add "$B"; ns_add "$H1"; ns_add "$H2"
ip -n "$B" link add br0 type bridge
ip -n "$H1" link add e0 type veth peer name p1 netns "$B"
ip -n "$H2" link add e0 type veth peer name p2 netns "$B"
for p in p1 p2; do
	ip -n "$B" link set "$p" master br0
	ip -n "$B" link set "$p" up
done
ip -n "$B" link set br0 up
ip -n "$H1" addr add 10.0.5.1/24 dev e0
ip -n "$H1" addr add 2001:db8:5::1/64 dev e0 nodad
ip -n "$H2" addr add 10.0.5.2/24 dev e0
ip -n "$H2" addr add 2001:db8:5::2/64 dev e0 nodad
ip -n "$H1" link set e0 up
ip -n "$H2" link set e0 up
# br_netfilter's switches are per namespace: only this test's bridge namespace changes.
ip netns exec "$B" sysctl -qw net.bridge.bridge-nf-call-iptables=1 \
	net.bridge.bridge-nf-call-ip6tables=1 2>/dev/null || skip "no br_netfilter in this kernel"
# Neighbours resolved before the capture: its packets are the pings alone.
ip netns exec "$H1" ping -c1 -W2 10.0.5.2 >/dev/null || fail "no bridged IPv4 path"
ip netns exec "$H1" ping -6 -c1 -W2 2001:db8:5::2 >/dev/null || fail "no bridged IPv6 path"

# capture NAME ARGS...: iptrace in B while H1 pings H2 over IPv4 and IPv6.
capture() {
	local name=$1 pid
	shift
	ip netns exec "$B" "$IPTRACE" --host 10.0.5.1 --host 2001:db8:5::1 --duration 30 \
		"$@" >"$WORK/$name" 2>"$WORK/$name.err" &
	pid=$!
	wait_ready "$WORK/$name.err"
	ip netns exec "$H1" ping -c1 -W2 10.0.5.2 >/dev/null || fail "$name: no IPv4 answer"
	ip netns exec "$H1" ping -6 -c1 -W2 2001:db8:5::2 >/dev/null || fail "$name: no IPv6 answer"
	sleep 0.5
	kill -INT "$pid"
	wait "$pid" || { cat "$WORK/$name.err" >&2; fail "$name: iptrace exited with $?"; }
}

ipt="ip netns exec $B iptables-legacy -w"
$ipt -A FORWARD -m physdev --physdev-in p1 -j ACCEPT
$ipt -t mangle -A POSTROUTING -j ACCEPT
ip netns exec "$B" ip6tables-legacy -w -A FORWARD -m physdev --physdev-is-bridged -j ACCEPT

capture log --backend legacy --format log
grep -q 'TRACE: filter:FORWARD:rule:1 IN=br0 OUT=br0 PHYSIN=p1 PHYSOUT=p2 MAC=.* SRC=10.0.5.1 ' \
	"$WORK/log" || { cat "$WORK/log" >&2; fail "no bridged IPv4 FORWARD line with its ports"; }
# br_netfilter's POSTROUTING has no input device; the kernel's line still names the port.
grep -q 'TRACE: mangle:POSTROUTING:policy:1 IN= OUT=br0 PHYSIN=p1 PHYSOUT=p2 SRC=10.0.5.1 ' \
	"$WORK/log" || { cat "$WORK/log" >&2; fail "the POSTROUTING line lacks PHYSIN="; }
grep -q 'TRACE: filter:FORWARD:rule:1 IN=br0 OUT=br0 PHYSIN=p1 PHYSOUT=p2 MAC=.* SRC=2001:0db8:0005:0000:0000:0000:0000:0001 ' \
	"$WORK/log" || { cat "$WORK/log" >&2; fail "no bridged IPv6 FORWARD line with its ports"; }
pass "log: bridged steps name their ports, POSTROUTING's input port too"

capture json --backend legacy --format json
while read -r line; do
	jq -e . >/dev/null <<<"$line" || fail "not JSON: $line"
done <"$WORK/json"
pkt=$(jq -c 'select(.type=="packet" and .src=="10.0.5.1")' "$WORK/json")
pkt_is '.proto=="icmp" and .icmp_type==8' "the echo request"
pkt_is '[.steps[]|select(.table=="filter" and .chain=="FORWARD")][0]|.in=="br0" and .out=="br0" and
	.physin=="p1" and .physout=="p2" and .rule=="-A FORWARD -m physdev --physdev-in p1 -j ACCEPT"' \
	"FORWARD with its ports and rule"
pkt=$(jq -c 'select(.type=="packet" and .src=="2001:db8:5::2")' "$WORK/json")
pkt_is '.proto=="icmpv6" and .icmp_type==129 and
	([.steps[]|select(.table=="filter" and .chain=="FORWARD")][0]|.physin=="p2" and .physout=="p1")' \
	"the IPv6 echo reply's FORWARD with its ports"
pass "json: bridged steps carry physin/physout"

# The nft marker: an nft bridge family chain reports what br_netfilter let it mark.
$ipt -F
$ipt -t mangle -F
ip netns exec "$B" ip6tables-legacy -w -F
ip netns exec "$B" nft -f - <<-EOF || fail "cannot add the bridge table"
	table bridge brf {
		chain fw { type filter hook forward priority 0; policy accept; ether type ip6 counter; }
	}
	EOF
capture nft --backend nft --format json
pkt=$(jq -c 'select(.type=="packet" and .src=="2001:db8:5::1")' "$WORK/nft")
pkt_is '[.steps[]|select(.family=="bridge" and .table=="brf" and .chain=="fw")] | length==2
	and all(.in=="p1" and .out=="p2" and .hook=="FORWARD")' "the bridge chain's two steps"
pass "nft: a bridge family chain's steps, ports as its in/out"
