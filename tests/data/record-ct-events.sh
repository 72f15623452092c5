#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# record-ct-events.sh: re-record tests/data/ct-events.nlrec (conntrack events behind a NAT router)
# Run as root from the build tree: IPTRACE=src/iptrace bash tests/data/record-ct-events.sh
# Flows, all from the client 10.0.1.2 / 2001:db8:1::2 through the router R, which masquerades
# out of r1 (IPv4 and IPv6) and DNATs 10.96.0.10:53 to the server 10.0.2.7:53:
#   udp to 10.0.2.7:53 (answered), udp to 10.96.0.10:53 (DNAT, answered), tcp to 10.0.2.7:80
#   (connect, close), an ICMP echo to 10.0.2.7, udp to [2001:db8:2::2]:53 (answered);
#   then `conntrack -F` in R, so every entry also has its DESTROY event.
set -e
cd "$(dirname "$0")/../.."
source tests/lib.sh
OUT=${1:-tests/data/ct-events.nlrec}
NS_PREFIX=ipt-ctrec-$$
LAB_IPV6=1
trap lab_cleanup EXIT
lab_up
ip netns exec "$R" iptables-legacy -w -t nat -A POSTROUTING -o r1 -j MASQUERADE
ip netns exec "$R" ip6tables-legacy -w -t nat -A POSTROUTING -o r1 -j MASQUERADE
lab_kube_nat
ip netns exec "$S" python3 -c '
import socket, select
u4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u4.bind(("0.0.0.0", 53))
u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); u6.bind(("::", 53))
t = socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); t.bind(("0.0.0.0", 80)); t.listen()
while True:
    for s in select.select([u4, u6, t], [], [])[0]:
        if s is t:
            c, _ = t.accept(); c.recv(100); c.close()
        else:
            d, a = s.recvfrom(100); s.sendto(d, a)
' &
sleep 0.5
ip netns exec "$R" "$IPTRACE" --nat-log --all --record "$OUT" -d 4 >/dev/null 2>&1 &
sleep 0.5
ip netns exec "$C" python3 -c '
import socket, struct
def udp(fam, dst):
    s = socket.socket(fam, socket.SOCK_DGRAM); s.settimeout(1); s.sendto(b"q", (dst, 53)); s.recv(10)
udp(socket.AF_INET, "10.0.2.7")
udp(socket.AF_INET, "10.96.0.10")
udp(socket.AF_INET6, "2001:db8:2::2")
c = socket.create_connection(("10.0.2.7", 80), 1); c.send(b"x"); c.close()
i = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); i.settimeout(1)
h = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1)
cs = sum(struct.unpack("!4H", h)); cs = (cs >> 16) + (cs & 0xffff); cs = ~cs & 0xffff
i.sendto(struct.pack("!BBHHH", 8, 0, cs, 0x1234, 1), ("10.0.2.7", 0)); i.recv(100)
'
sleep 0.5
ip netns exec "$R" conntrack -F 2>/dev/null
wait %2
echo "recorded $OUT"
