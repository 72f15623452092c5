# SPDX-License-Identifier: GPL-2.0-or-later
# tests/lib.sh: shared helpers for the integration tests — namespaces, lab, checks.
# Every test builds its own uniquely named namespaces and removes them in a trap; nothing
# here touches the host namespace's rules or sysctls.

: "${IPTRACE:=$(dirname "${BASH_SOURCE[0]}")/../src/iptrace}"
# IPTRACE_WRAPPER="valgrind --error-exitcode=99 ...": every "$IPTRACE" runs under that
# command. IPTRACE becomes tests/wrap-iptrace.sh, which execs the wrapper with the real
# binary (IPTRACE_REAL), so no test changes and `ip netns exec`/setpriv keep working.
if [ -n "${IPTRACE_WRAPPER:-}" ] && [ -z "${IPTRACE_REAL:-}" ]; then
	IPTRACE_REAL=$(cd "$(dirname "$IPTRACE")" && pwd)/$(basename "$IPTRACE")
	IPTRACE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wrap-iptrace.sh
	export IPTRACE IPTRACE_REAL IPTRACE_WRAPPER
fi
SKIP=77
# The source tree's top: its data (tests/data), scripts and unit files.
SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Each test keeps its own crash-recovery state: parallel tests never clean each other's.
# Named here, made by iptrace (0700) when a capture starts, removed by lab_cleanup: a script
# that starts no capture (a benchmark's replay, a usage check) leaves no directory behind.
if [ -z "${IPTRACE_STATE_DIR:-}" ]; then
	IPTRACE_STATE_DIR=$(mktemp -u "${TMPDIR:-/tmp}/iptrace-state.XXXXXX")
	OWN_STATE_DIR=$IPTRACE_STATE_DIR
fi
export IPTRACE_STATE_DIR

# skip REASON: exit 77, except under CI=true where a skip is a failure.
skip() {
	echo "SKIP: $*" >&2
	if [ "${CI:-}" = "true" ]; then
		echo "FAIL: CI must exercise the kernel, but: $*" >&2
		exit 1
	fi
	exit $SKIP
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

pass() {
	echo "PASS: $*"
}

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v ip >/dev/null || skip "needs iproute2"
	ip netns add "ipt-probe-$$" 2>/dev/null || skip "cannot create network namespaces"
	ip netns del "ipt-probe-$$"
}

need_cmd() {
	for c in "$@"; do
		command -v "$c" >/dev/null || skip "needs $c"
	done
}

# ns_prefix: a unique prefix for this test's namespaces.
NS_PREFIX="ipt-$(basename "$0" .sh | cut -c1-10)-$$"
LAB_NS=()

lab_cleanup() {
	local ns
	[ -n "${OWN_STATE_DIR:-}" ] && rm -rf "$OWN_STATE_DIR"
	for ns in "${LAB_NS[@]}"; do
		# Kill what still runs inside (a capture, a listener) before deleting.
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	LAB_NS=()
}

ns_add() {
	ip netns add "$1" || fail "cannot add namespace $1"
	LAB_NS+=("$1")
	ip -n "$1" link set lo up
	# Router solicitations and MLD on fresh veths move ip6tables counters: no IPv6 here
	# unless a test asks for it.
	if [ "${LAB_IPV6:-0}" = 0 ]; then
		ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	fi
}

# legacy_ns NAME: a namespace of this test whose legacy tables are in use (a raw rule of its
# own), so that --backend auto picks the libiptc marker there.
legacy_ns() {
	ns_add "$1"
	ip netns exec "$1" iptables-legacy -w -t raw -A PREROUTING -p tcp --dport 9 -j ACCEPT ||
		fail "cannot add a legacy rule in $1"
}

# lab_up: client C (10.0.1.2) — router R (10.0.1.1 | 10.0.2.1) — server S (10.0.2.7).
# R DNATs the service address 10.96.0.10:53 to S through kube-proxy-like user chains.
# LAB_IFS="C R-to-C R-to-S S" names the interfaces (default "c0 r0 r1 s0"); LAB_MACS gives
# them fixed MAC addresses in the same order; LAB_IPV6=1 adds 2001:db8:1::/64 and :2::/64.
lab_up() {
	local ic ia ib is mc ma mb ms
	read -r ic ia ib is <<<"${LAB_IFS:-c0 r0 r1 s0}"
	read -r mc ma mb ms <<<"${LAB_MACS:-}"
	C="$NS_PREFIX-c"; R="$NS_PREFIX-r"; S="$NS_PREFIX-s"
	ns_add "$C"; ns_add "$R"; ns_add "$S"
	ip -n "$C" link add "$ic" ${mc:+address "$mc"} type veth \
		peer name "$ia" ${ma:+address "$ma"} netns "$R"
	ip -n "$S" link add "$is" ${ms:+address "$ms"} type veth \
		peer name "$ib" ${mb:+address "$mb"} netns "$R"
	ip -n "$C" addr add 10.0.1.2/24 dev "$ic"
	ip -n "$R" addr add 10.0.1.1/24 dev "$ia"
	ip -n "$R" addr add 10.0.2.1/24 dev "$ib"
	ip -n "$S" addr add 10.0.2.7/24 dev "$is"
	if [ "${LAB_IPV6:-0}" = 1 ]; then
		ip -n "$C" addr add 2001:db8:1::2/64 dev "$ic" nodad
		ip -n "$R" addr add 2001:db8:1::1/64 dev "$ia" nodad
		ip -n "$R" addr add 2001:db8:2::1/64 dev "$ib" nodad
		ip -n "$S" addr add 2001:db8:2::2/64 dev "$is" nodad
		ip netns exec "$R" sysctl -qw net.ipv6.conf.all.forwarding=1
	fi
	for l in "$C $ic" "$R $ia" "$R $ib" "$S $is"; do
		set -- $l
		ip -n "$1" link set "$2" up
	done
	ip -n "$C" route add default via 10.0.1.1
	ip -n "$S" route add default via 10.0.2.1
	# Permanent neighbours: no ARP or neighbour discovery delays a test's packets (under load
	# a resolution can outlast a short capture) or adds packets of its own.
	lab_neigh "$C" "$ic" 10.0.1.1 "$R" "$ia"
	lab_neigh "$R" "$ia" 10.0.1.2 "$C" "$ic"
	lab_neigh "$R" "$ib" 10.0.2.7 "$S" "$is"
	lab_neigh "$S" "$is" 10.0.2.1 "$R" "$ib"
	if [ "${LAB_IPV6:-0}" = 1 ]; then
		lab_neigh "$C" "$ic" 2001:db8:1::1 "$R" "$ia"
		lab_neigh "$R" "$ia" 2001:db8:1::2 "$C" "$ic"
		lab_neigh "$R" "$ib" 2001:db8:2::2 "$S" "$is"
		lab_neigh "$S" "$is" 2001:db8:2::1 "$R" "$ib"
		ip -n "$C" -6 route add default via 2001:db8:1::1
		ip -n "$S" -6 route add default via 2001:db8:2::1
	fi
	ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1
}

# lab_neigh NS DEV ADDR PEER_NS PEER_DEV: a permanent neighbour entry for ADDR on DEV.
lab_neigh() {
	local mac
	mac=$(ip -n "$4" -br link show dev "$5" | awk '{ print $3 }')
	ip -n "$1" neigh replace "$3" lladdr "$mac" dev "$2" nud permanent
}

# lab_kube_nat: kube-proxy-like legacy nat chains on R.
lab_kube_nat() {
	local ipt="ip netns exec $R iptables-legacy -w"
	$ipt -t nat -N KUBE-SERVICES
	$ipt -t nat -N KUBE-SVC-DNS
	$ipt -t nat -N KUBE-SEP-DNS
	$ipt -t nat -N KUBE-MARK-MASQ
	$ipt -t nat -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
	$ipt -t nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
	$ipt -t nat -A KUBE-SERVICES -d 10.96.0.10/32 -p udp -m udp --dport 53 -j KUBE-SVC-DNS
	$ipt -t nat -A KUBE-SVC-DNS -j KUBE-SEP-DNS
	$ipt -t nat -A KUBE-SEP-DNS -s 10.0.2.7/32 -j KUBE-MARK-MASQ
	$ipt -t nat -A KUBE-SEP-DNS -p udp -m udp -j DNAT --to-destination 10.0.2.7:53
	$ipt -t filter -A FORWARD -p udp -m udp --dport 53 -j ACCEPT
	$ipt -t raw -A PREROUTING -p tcp --dport 9 -j ACCEPT
	$ipt -t mangle -A POSTROUTING -p udp -j ACCEPT
}

# lab_nft_tables: in R, the two nf_tables tables beside the marker's that the benchmarks' nft
# lab has (a mangle-like one on three hooks, a filter-like one on forward): with the
# marker's, 5 records per forwarded packet.
lab_nft_tables() {
	ip netns exec "$R" nft -f - <<-EOF
	table ip bmangle {
		chain bpre { type filter hook prerouting priority -150; policy accept; }
		chain bfwd { type filter hook forward priority -150; policy accept; }
		chain bpost { type filter hook postrouting priority -150; policy accept; }
	}
	table ip bfilter {
		chain bfwd { type filter hook forward priority 0; policy accept; }
	}
	EOF
}

# snapshot NS: every legacy table with counters, and the logger bindings.
snapshot() {
	local ns=$1
	{
		for t in $(ip netns exec "$ns" cat /proc/net/ip_tables_names | sort); do
			echo "## ip $t"
			ip netns exec "$ns" iptables-legacy-save -c -t "$t" | grep -v '^#'
		done
		for t in $(ip netns exec "$ns" cat /proc/net/ip6_tables_names 2>/dev/null | sort); do
			echo "## ip6 $t"
			ip netns exec "$ns" ip6tables-legacy-save -c -t "$t" | grep -v '^#'
		done
		echo "## nf_log/2 $(ip netns exec "$ns" cat /proc/sys/net/netfilter/nf_log/2)"
		echo "## nf_log/10 $(ip netns exec "$ns" cat /proc/sys/net/netfilter/nf_log/10)"
		echo "## nft"
		ip netns exec "$ns" nft list ruleset 2>/dev/null
	}
}

# strip_counters: drop [pkts:bytes] so snapshots around traffic compare.
strip_counters() {
	sed -E 's/\[[0-9]+:[0-9]+\]/[-]/g'
}

# udp_send NS DST PORT [PAYLOAD] [SPORT]: one datagram, from bash's /dev/udp.
udp_send() {
	ip netns exec "$1" bash -c "exec 3>/dev/udp/$2/$3; printf '%s' '${4:-hello}' >&3"
}

# udp_echo NS: a server in NS that answers each datagram to port 53 with its payload
# reversed (killed by lab_cleanup); returns once it listens.
udp_echo() {
	ip netns exec "$1" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    d, a = s.recvfrom(512)
    s.sendto(d[::-1], a)
' &
	disown $!	# no job report when lab_cleanup kills it
	for i in $(seq 1 50); do
		ip netns exec "$1" ss -Hlun 'sport = :53' | grep -q . && return 0
		sleep 0.1
	done
	fail "the UDP server in $1 did not start"
}

# one_packet FILE: $pkt, the one packet line of JSON output FILE to the lab's service
# 10.96.0.10:53 (fail unless there is exactly one).
one_packet() {
	pkt=$(jq -c 'select(.type=="packet" and .dst=="10.96.0.10" and .dport==53)' "$1")
	[ "$(printf '%s\n' "$pkt" | grep -c .)" = 1 ] ||
		fail "expected one packet to 10.96.0.10:53: $(cat "$1")"
}

# pkt_is FILTER WHY: fail with WHY and the packet unless jq -e FILTER holds for $pkt.
pkt_is() {
	jq -e "$1" <<<"$pkt" >/dev/null || fail "$2: $pkt"
}

# wait_ready FILE [PID|-]: wait until iptrace PID (default: $!, the job just started) printed
# its ready line ("tracing ..." naming its pid) on stderr. Matching the pid matters: the
# shell truncates FILE in the child, so FILE may still hold an earlier run's ready line.
# "-" accepts any ready line (a FILE no earlier run wrote).
wait_ready() {
	local i pid=${2:-$!} pat
	if [ "$pid" = - ]; then
		pat='tracing'
	else
		pat="tracing.*(iptrace:|pid )$pid([^0-9]|\$)"
	fi
	for i in $(seq 1 100); do
		grep -Eq "$pat" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	cat "$1" >&2
	fail "iptrace did not become ready"
}
