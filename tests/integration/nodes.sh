#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nodes.sh: namespaces as Kubernetes nodes. Two node namespaces, each with a pod namespace;
# node A DNATs a service address (kube-proxy-like legacy nat chains) to the pod on node B,
# over a direct link and then over a VXLAN overlay. iptrace runs in each node (--netns,
# --node, --format json) while the pod on A asks the service once; `--merge` of the two
# outputs must give one packet for the query (A's steps with the DNAT, then B's, ending at
# B's pod) and one for the reply (B's, then A's) — from the files, and from one stream of
# `kubectl logs --prefix`-style lines, whole or interleaved, diagnostics mixed in.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy jq python3
tmp=$(mktemp -d)
# KEEP=1: leave the outputs (tests/data/merge-node-*.json come from its vxlan/ directory).
trap 'lab_cleanup; if [ -n "${KEEP:-}" ]; then echo "kept $tmp" >&2; else rm -rf "$tmp"; fi' EXIT

# kube_chains NS [DNAT]: the chains kube-proxy gives every node; the service's endpoint is
# the pod on B. The same on both nodes: only the packet's own node matches the service.
kube_chains() {
	local ipt="ip netns exec $1 iptables-legacy -w"
	$ipt -t nat -N KUBE-SERVICES
	$ipt -t nat -N KUBE-SVC-DNS
	$ipt -t nat -N KUBE-SEP-DNS
	$ipt -t nat -N KUBE-POSTROUTING
	$ipt -t nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
	$ipt -t nat -A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-DNS
	$ipt -t nat -A KUBE-SVC-DNS -j KUBE-SEP-DNS
	$ipt -t nat -A KUBE-SEP-DNS -p udp -m udp -j DNAT --to-destination 10.244.2.5:53
	$ipt -t nat -A POSTROUTING -j KUBE-POSTROUTING
	$ipt -t nat -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
	$ipt -t filter -A FORWARD -p udp -m udp -j ACCEPT
}

# veth NS1 IF1 ADDR1 NS2 IF2 ADDR2: a link between two namespaces, both ends up, and
# permanent neighbours both ways (no ARP to wait for or trace).
veth() {
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
	lab_neigh "$1" "$2" "${6%/*}" "$4" "$5"
	lab_neigh "$4" "$5" "${3%/*}" "$1" "$2"
}

# nodes_up direct|vxlan: pod PA 10.244.1.2 - node NA - node NB - pod PB 10.244.2.5.
nodes_up() {
	lab_cleanup
	NA="$NS_PREFIX-na"; NB="$NS_PREFIX-nb"; PA="$NS_PREFIX-pa"; PB="$NS_PREFIX-pb"
	for ns in "$NA" "$NB" "$PA" "$PB"; do
		ns_add "$ns"
	done
	veth "$PA" eth0 10.244.1.2/24 "$NA" vpa 10.244.1.1/24
	veth "$PB" eth0 10.244.2.5/24 "$NB" vpb 10.244.2.1/24
	veth "$NA" eth0 192.168.50.1/24 "$NB" eth0 192.168.50.2/24
	ip -n "$PA" route add default via 10.244.1.1
	ip -n "$PB" route add default via 10.244.2.1
	if [ "$1" = vxlan ]; then
		# flannel's vxlan backend, by hand: one VNI, the peer node as the static remote.
		for n in "A $NA 1 2" "B $NB 2 1"; do
			set -- $n
			ip -n "$2" link add vxlan0 type vxlan id 42 local 192.168.50.$3 \
				remote 192.168.50.$4 dstport 4789 dev eth0
			ip -n "$2" addr add 10.200.0.$3/24 dev vxlan0
			ip -n "$2" link set vxlan0 up
		done
		lab_neigh "$NA" vxlan0 10.200.0.2 "$NB" vxlan0
		lab_neigh "$NB" vxlan0 10.200.0.1 "$NA" vxlan0
		ip -n "$NA" route add 10.244.2.0/24 via 10.200.0.2 dev vxlan0
		ip -n "$NB" route add 10.244.1.0/24 via 10.200.0.1 dev vxlan0
		LINK=vxlan0
	else
		ip -n "$NA" route add 10.244.2.0/24 via 192.168.50.2
		ip -n "$NB" route add 10.244.1.0/24 via 192.168.50.1
		LINK=eth0
	fi
	for ns in "$NA" "$NB"; do
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
		kube_chains "$ns"
	done
	# The endpoint: answers each datagram with its payload reversed.
	udp_echo "$PB"
}

# trace_both OUTDIR: iptrace in each node for the one query and its reply, then the query.
trace_both() {
	local d=$1 pa pb
	mkdir -p "$d"
	"$IPTRACE" --netns "$NA" --node node-a --port 53 --format json --count 2 --duration 20 \
		>"$d/a.json" 2>"$d/a.err" &
	pa=$!
	wait_ready "$d/a.err" "$pa"
	"$IPTRACE" --netns "$NB" --node node-b --port 53 --format json --count 2 --duration 20 \
		>"$d/b.json" 2>"$d/b.err" &
	pb=$!
	wait_ready "$d/b.err" "$pb"
	ip netns exec "$PA" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect(("10.96.0.10", 53))
s.send(b"query-" + sys.argv[1].encode())
print(s.recv(512).decode())
' "$RANDOM" >"$d/answer" || fail "the pod on A got no answer from the service"
	wait "$pa" || fail "iptrace on A failed: $(cat "$d/a.err")"
	wait "$pb" || fail "iptrace on B failed: $(cat "$d/b.err")"
	for n in a b; do
		[ "$(jq -s '[.[] | select(.type == "packet")] | length' "$d/$n.json")" = 2 ] ||
			fail "node $n: expected the query and the reply: $(cat "$d/$n.json")"
	done
}

# check_merged FILE WHAT: the query, A then B, the DNAT on A, delivered on B; the reply,
# B then A.
check_merged() {
	local f=$1 what=$2 q r
	[ "$(jq -s '[.[] | select(.type == "packet")] | length' "$f")" = 2 ] ||
		fail "$what: expected 2 packets: $(cat "$f")"
	[ "$(tail -n 1 "$f" | jq -r .type)" = summary ] || fail "$what: summary not last"
	q=$(jq -c 'select(.type == "packet" and .dport == 53)' "$f")
	r=$(jq -c 'select(.type == "packet" and .sport == 53)' "$f")
	[ -n "$q" ] && [ -n "$r" ] || fail "$what: no query or no reply: $(cat "$f")"
	# Nodes in order, each step naming its own, one change of node.
	echo "$q" | jq -e '.node == "node-a" and
		([.steps[].node] | [.[0]] + [range(1; length) as $i | select(.[$i] != .[$i - 1]) |
		.[$i]]) == ["node-a", "node-b"]' >/dev/null || fail "$what: query nodes: $q"
	echo "$r" | jq -e '.node == "node-b" and
		([.steps[].node] | [.[0]] + [range(1; length) as $i | select(.[$i] != .[$i - 1]) |
		.[$i]]) == ["node-b", "node-a"]' >/dev/null || fail "$what: reply nodes: $r"
	# A's steps: the service address, DNATed by KUBE-SEP-DNS to the pod on B.
	echo "$q" | jq -e '.src == "10.244.1.2" and .dst == "10.96.0.10" and
		([.steps[] | select(.node == "node-a" and .chain == "KUBE-SEP-DNS" and
		  .verdict == "DNAT")] | length) == 1 and
		([.steps[] | select(.node == "node-a" and .nat.dst ==
		  ["10.96.0.10:53", "10.244.2.5:53"])] | length) == 1' >/dev/null ||
		fail "$what: the DNAT on A: $q"
	# B's steps: in from the link, out to the pod, the TTL A's last one (routed once by A;
	# B's first step is before its own routing).
	echo "$q" | jq -e --arg link "$LINK" '
		[.steps[] | select(.node == "node-b")] as $b |
		[.steps[] | select(.node == "node-a")] as $a |
		$b[0].in == $link and $b[-1].out == "vpb" and $b[-1].dst == "10.244.2.5" and
		$a[-1].out == $link and $b[0].ttl == $a[-1].ttl and $a[0].ttl == $b[0].ttl + 1' \
		>/dev/null || fail "$what: B's delivery: $q"
	echo "$r" | jq -e --arg link "$LINK" '
		[.steps[] | select(.node == "node-a")] as $a |
		.src == "10.244.2.5" and $a[0].in == $link and $a[-1].out == "vpa"' >/dev/null ||
		fail "$what: the reply's way back: $r"
	tail -n 1 "$f" | jq -e '.packets == 2 and .lost == 0' >/dev/null ||
		fail "$what: summary: $(tail -n 1 "$f")"
}

# prefixed POD FILE: the lines as `kubectl logs --prefix` shows them (stderr mixed in).
prefixed() {
	sed "s|^|[pod/$1/iptrace] |" "$2"
}

for lab in direct vxlan; do
	nodes_up "$lab"
	d="$tmp/$lab"
	trace_both "$d"
	grep -q -- '-yreuq$' "$d/answer" ||
		fail "$lab: the endpoint's answer did not come back: $(cat "$d/answer")"
	# The node names, in each node's own output.
	# (jq -s: jq 1.6's -e says 4 when the last input gives no output)
	jq -se 'map(select(.type == "packet")) | all(.node == "node-a")' "$d/a.json" >/dev/null ||
		fail "$lab: node A's packets are not named node-a"
	[ "$(tail -n 1 "$d/b.json" | jq -r .node)" = node-b ] ||
		fail "$lab: node B's summary is not named node-b"

	"$IPTRACE" --merge "$d/a.json" "$d/b.json" --format json >"$d/merged.json" \
		2>"$d/merge.err" || fail "$lab: --merge failed: $(cat "$d/merge.err")"
	check_merged "$d/merged.json" "$lab --merge a b"
	# The order of the inputs doesn't matter.
	"$IPTRACE" --merge "$d/b.json" "$d/a.json" --format json >"$d/merged-ba.json" ||
		fail "$lab: --merge b a failed"
	diff <(jq -c 'select(.type == "packet")' "$d/merged.json") \
		<(jq -c 'select(.type == "packet")' "$d/merged-ba.json") ||
		fail "$lab: --merge b a differs from --merge a b"

	# kubectl logs -l app=iptrace --prefix | iptrace --merge -: one pod after the other,
	# each pod's stderr among its lines.
	{
		prefixed iptrace-7xkq2 "$d/a.err"
		prefixed iptrace-7xkq2 "$d/a.json"
		prefixed iptrace-p9d4w "$d/b.json"
		prefixed iptrace-p9d4w "$d/b.err"
	} >"$d/stream"
	"$IPTRACE" --merge - --format json <"$d/stream" >"$d/stream.json" 2>"$d/stream.err" ||
		fail "$lab: --merge - failed: $(cat "$d/stream.err")"
	check_merged "$d/stream.json" "$lab --merge - (kubectl logs --prefix)"
	# Lines of both nodes interleaved one by one (a log pipeline's order).
	paste -d '\n' <(prefixed iptrace-7xkq2 "$d/a.json") <(prefixed iptrace-p9d4w "$d/b.json") |
		grep -v '^$' | "$IPTRACE" --merge - --format json >"$d/interleaved.json" ||
		fail "$lab: --merge - of interleaved lines failed"
	check_merged "$d/interleaved.json" "$lab --merge - (interleaved)"
	for f in stream interleaved; do
		diff <(jq -c 'select(.type == "packet")' "$d/merged.json") \
			<(jq -c 'select(.type == "packet")' "$d/$f.json") ||
			fail "$lab: the $f merge differs from the files'"
	done
	# Text: one block per packet naming the nodes crossed, a node column.
	"$IPTRACE" --merge "$d/a.json" "$d/b.json" --color never >"$d/merged.txt" 2>"$d/txt.err" ||
		fail "$lab: --merge text failed"
	[ "$(grep -c '^packet .*  nodes node-a → node-b$' "$d/merged.txt")" = 1 ] &&
		[ "$(grep -c '^packet .*  nodes node-b → node-a$' "$d/merged.txt")" = 1 ] ||
		fail "$lab: text headers: $(cat "$d/merged.txt")"
	grep -Eq '^  node-a +nat +KUBE-SEP-DNS +rule 1 ' "$d/merged.txt" &&
		grep -Eq '^  node-b +' "$d/merged.txt" || fail "$lab: text node column: $(cat "$d/merged.txt")"
	grep -q '2 packets from 2 nodes: 2 seen on more than one' "$d/txt.err" ||
		fail "$lab: text summary: $(cat "$d/txt.err")"
	pass "$lab: one packet per query and per reply across node-a and node-b"
done
