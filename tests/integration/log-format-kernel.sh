#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# log-format-kernel.sh: `--format log` lines equal the kernel's own nf_log_syslog TRACE lines.
# Usage: log-format-kernel.sh [--save DIR]  (--save records the kernel lines, the NFLOG bytes
# and the interface names into DIR, e.g. tests/data, for the unit test test_logline).
#
# C sends crafted packets through R; R sends datagrams of its own, whose lines end with the
# socket's owner (UID= GID=). Two runs over identical labs (fixed MACs, permanent neighbours,
# crafted packets with fixed IP IDs, ports, sequence numbers and options), because one
# namespace's nf_log/2 binding sends TRACE either to syslog or to netlink, never both:
#   B: iptrace --format log in R (records go to nfnetlink_log); its raw rules are saved.
#   A: the same rules with nf_log/2 = nf_log_ipv4 (the default); lines read from dmesg. The
#      syslog logger is silent outside the initial namespace unless the host-wide
#      net.netfilter.nf_log_all_netns=1: set under a lock of our own, restored in the trap.
# Lines are compared exactly (trailing space included), except the IP ID and flow label of
# the replies the lab's kernels generate (ICMP errors, echo replies, RSTs), which are random.
set -u
source "$TESTS_LIB"
SAVE=
[ "${1:-}" = "--save" ] && SAVE=$2
need_root
need_cmd iptables-legacy iptables-legacy-restore ip6tables-legacy ip6tables-legacy-restore \
	python3 dmesg flock
SYSCTL=/proc/sys/net/netfilter/nf_log_all_netns
[ -w "$SYSCTL" ] || skip "no writable $SYSCTL"
dmesg >/dev/null 2>&1 || skip "cannot read the kernel log"

WORK=$(mktemp -d)
LOCK=/run/iptrace-test-nf_log_all_netns.lock
SAVED_ALL_NETNS=
cleanup() {
	[ -n "$SAVED_ALL_NETNS" ] && echo "$SAVED_ALL_NETNS" >"$SYSCTL"
	lab_cleanup
	rm -rf "$WORK"
}
trap cleanup EXIT

# A unique tag in the interface names: it finds our lines in the shared kernel log.
TAG=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
IC="lc$TAG"; IA="la$TAG"; IB="lb$TAG"; IS="ls$TAG"
LAB_IPV6=1

lab_build() {
	LAB_IFS="$IC $IA $IB $IS" \
	LAB_MACS="02:00:00:00:01:02 02:00:00:00:01:01 02:00:00:00:02:01 02:00:00:00:02:07" lab_up
	lab_kube_nat
	# A mark, so lines carry MARK=0x...
	ip netns exec "$R" iptables-legacy -w -t mangle -A PREROUTING -p udp --dport 53 \
		-j MARK --set-mark 0x4000
	# Legacy IPv6 tables in use too, so the marker traces IPv6 as well.
	ip netns exec "$R" ip6tables-legacy -w -A FORWARD -p udp --dport 53 -j ACCEPT
	# R's own datagrams go unanswered: an ICMP error would quote their random IP ID.
	ip netns exec "$C" iptables-legacy -w -A INPUT -p udp --dport 9 -j DROP
	ip netns exec "$C" ip6tables-legacy -w -A INPUT -p udp --dport 9 -j DROP
}

# The sender: raw sockets, so both runs send byte-identical packets.
cat >"$WORK/send.py" <<'PY'
import socket, struct, sys, time
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
def ph4(src, dst):
    return lambda p, l: socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack('!BBH', 0, p, l)
def ph6(src, dst):
    a = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
    return lambda p, l: a + struct.pack('!IxxxB', l, p)
def v4(src, dst, proto, l4, ident, tos=0, df=True, opts=b''):
    ihl = 5 + len(opts) // 4
    return struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, tos, ihl * 4 + len(l4), ident,
                       0x4000 if df else 0, 64, proto, 0, socket.inet_aton(src),
                       socket.inet_aton(dst)) + opts + l4
def v6(src, dst, nh, l4, tc=0, fl=0, ext=b''):
    return struct.pack('!IHBB', 6 << 28 | tc << 20 | fl, len(ext) + len(l4), nh, 64) + \
        socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + ext + l4
def udp(ph, sp, dp, data):
    u = struct.pack('!HHHH', sp, dp, 8 + len(data), 0) + data
    return u[:6] + struct.pack('!H', csum(ph(17, len(u)) + u) or 0xffff) + u[8:]
def tcp(ph, sp, dp, seq, ack, flags, res=0, urg=0, opts=b'', data=b''):
    t = struct.pack('!HHIIBBHHH', sp, dp, seq, ack, (5 + len(opts) // 4) << 4 | res, flags,
                    64240, 0, urg) + opts + data
    return t[:16] + struct.pack('!H', csum(ph(6, len(t)) + t)) + t[18:]
def icmp(typ, ident, seq, data, ph=None):
    i = struct.pack('!BBHHH', typ, 0, 0, ident, seq) + data
    return i[:2] + struct.pack('!H', csum((ph(58, len(i)) if ph else b'') + i)) + i[4:]
def send(fam, pkt, dst):
    socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_RAW).sendto(pkt, (dst, 0))
C4, SVC4, S4, C6, S6 = '10.0.1.2', '10.96.0.10', '10.0.2.7', '2001:db8:1::2', '2001:db8:2::2'
synopt = bytes.fromhex('020405b4' '0402' '080a0001e24000000000' '01' '030307')
pkts = [
    # UDP to the DNATed service: nat chains, MARK=0x4000, then S's ICMP port unreachable.
    (socket.AF_INET, v4(C4, SVC4, 17, udp(ph4(C4, SVC4), 40053, 53, b'iptrace-logfmt'), 0x1111), SVC4),
    # TCP SYN with ECN and options (OPT (...)); S answers RST.
    (socket.AF_INET, v4(C4, S4, 6, tcp(ph4(C4, S4), 40009, 9, 1000, 0, 0xc2, opts=synopt), 0x2222), S4),
    # Odd TCP: reserved bits and AE, URG ACK PSH FIN, URGP, TOS bits.
    (socket.AF_INET, v4(C4, S4, 6, tcp(ph4(C4, S4), 40010, 9, 5000, 77, 0x39, res=0xf, urg=3,
                                       data=b'xyz'), 0x2323, tos=0x1f), S4),
    # Echo request with IP options, no DF.
    (socket.AF_INET, v4(C4, S4, 1, icmp(8, 0x4242, 7, b'ping-logfmt'), 0x3333, tos=0x10, df=False,
                        opts=b'\x01\x01\x01\x00'), S4),
    # UDP over IPv6 with a destination options header, traffic class and flow label.
    (socket.AF_INET6, v6(C6, S6, 60, udp(ph6(C6, S6), 40653, 53, b'iptrace-logfmt-v6'), tc=0x20,
                         fl=0x12345, ext=bytes([17, 0, 1, 4, 0, 0, 0, 0])), S6),
    (socket.AF_INET6, v6(C6, S6, 58, icmp(128, 0x77, 3, b'ping6-logfmt', ph6(C6, S6))), S6),
    (socket.AF_INET6, v6(C6, S6, 6, tcp(ph6(C6, S6), 40609, 9, 9000, 0, 0x02, opts=synopt)), S6),
]
for fam, pkt, dst in pkts:
    send(fam, pkt, dst)
    time.sleep(0.15)
PY

# From R's own sockets: the kernel's line ends with the socket's owner (UID= GID=).
cat >"$WORK/send-local.py" <<'PY'
import socket, time
for fam, src, dst in ((socket.AF_INET, '10.0.1.1', '10.0.1.2'),
                      (socket.AF_INET6, '2001:db8:1::1', '2001:db8:1::2')):
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((src, 40099))
    s.sendto(b'iptrace-uid', (dst, 9))
    s.close()
    time.sleep(0.15)
PY

send_all() {
	ip netns exec "$C" python3 "$WORK/send.py" || fail "the sender failed"
	ip netns exec "$R" python3 "$WORK/send-local.py" || fail "the local sender failed"
	sleep 0.5
}

# The IP ID and flow label of packets the lab's kernels generate differ from run to run.
normalise() {
	sed -E '/ SRC=(10\.0\.1\.2|2001:0db8:0001:0000:0000:0000:0000:0002) /! {
		s/ TTL=([0-9]+) ID=[0-9]+ / TTL=\1 ID=N /
		s/ FLOWLBL=[0-9]+ / FLOWLBL=N /
	}'
}

# Run B: iptrace.
lab_build
ip netns exec "$R" "$IPTRACE" --host 10.0.1.2 --host 2001:db8:1::2 --format log \
	--record "$WORK/b.nlrec" --duration 60 >"$WORK/b.log" 2>"$WORK/b.err" &
pid=$!
wait_ready "$WORK/b.err"
ip netns exec "$R" iptables-legacy-save -t raw >"$WORK/raw4" || fail "cannot save raw"
ip netns exec "$R" ip6tables-legacy-save -t raw >"$WORK/raw6" || fail "cannot save raw6"
grep -q -- '-j TRACE' "$WORK/raw6" || fail "iptrace installed no IPv6 TRACE rule"
ip -n "$R" -o link show | awk -F': ' '{ print $1, $2 }' | sed 's/@.*//' >"$WORK/ifnames"
send_all
kill -INT "$pid"
wait "$pid" || { cat "$WORK/b.err" >&2; fail "iptrace exited with $?"; }
lab_cleanup

# Run A: the kernel's syslog logger, same rules, fresh lab (no conntrack state left).
lab_build
ip netns exec "$R" iptables-legacy-restore -T raw <"$WORK/raw4" || fail "cannot restore raw"
ip netns exec "$R" ip6tables-legacy-restore -T raw <"$WORK/raw6" || fail "cannot restore raw6"
[ "$(ip netns exec "$R" cat /proc/sys/net/netfilter/nf_log/2)" = nf_log_ipv4 ] ||
	skip "nf_log/2 of a new namespace is not nf_log_ipv4"
exec 9>"$LOCK"
flock -w 120 9 || fail "cannot lock $LOCK"
SAVED_ALL_NETNS=$(cat "$SYSCTL")
echo 1 >"$SYSCTL"
send_all
echo "$SAVED_ALL_NETNS" >"$SYSCTL"
SAVED_ALL_NETNS=
flock -u 9
dmesg | grep -E " (IN|OUT)=l[ab]$TAG " | sed 's/^.*TRACE: /TRACE: /' >"$WORK/a.log"

na=$(wc -l <"$WORK/a.log"); nb=$(wc -l <"$WORK/b.log")
[ "$na" -gt 0 ] || fail "the kernel logged no TRACE line (nf_log_all_netns ignored?)"
for want in 'PROTO=UDP SPT=40053 DPT=53 LEN=22 MARK=0x4000 $' 'OPT (020405B4' \
	'RES=0x38 AE URG ACK PSH FIN URGP=3 $' 'PROTO=ICMP TYPE=3 CODE=3 \[SRC=' \
	'OPT (01010100) PROTO=ICMP TYPE=8 CODE=0 ID=16962 SEQ=7 $' 'OPT ( ) PROTO=UDP' \
	'PROTO=ICMPv6 TYPE=128 CODE=0 ID=119 SEQ=3 $' 'PROTO=ICMPv6 TYPE=1 CODE=4 \[' \
	'TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=TCP' 'ACK RST' \
	'PROTO=UDP SPT=40099 DPT=9 LEN=19 UID=0 GID=0 $'; do
	grep -q -- "$want" "$WORK/a.log" || { cat "$WORK/a.log" >&2; fail "kernel lines lack '$want'"; }
done
[ "$na" = "$nb" ] || { diff "$WORK/a.log" "$WORK/b.log" >&2; fail "kernel $na lines, iptrace $nb"; }
# Grouped output comes per packet: compare as sets, the order is checked by the unit test.
if ! diff <(normalise <"$WORK/a.log" | sort) <(normalise <"$WORK/b.log" | sort) >"$WORK/diff"; then
	cat "$WORK/diff" >&2
	fail "--format log differs from the kernel's lines"
fi
pass "$nb --format log lines equal the kernel's nf_log_syslog lines"

if [ -n "$SAVE" ]; then
	cp "$WORK/a.log" "$SAVE/kernel-trace.log"
	cp "$WORK/b.nlrec" "$SAVE/kernel-trace.nlrec"
	cp "$WORK/ifnames" "$SAVE/kernel-trace.ifnames"
	echo "saved into $SAVE"
fi
