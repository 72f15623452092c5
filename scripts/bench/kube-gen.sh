#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# kube-gen.sh: kube-proxy-like nat rules in iptables-restore syntax, for the churn benchmark
# and test.
#
#   kube-gen.sh base                   the base-chain jumps (run once, plain restore --noflush)
#   kube-gen.sh services N [EXTRA]     every KUBE-* chain for N services; EXTRA=1 puts one
#                                      more service rule at the head of KUBE-SERVICES, so
#                                      every later rule's number shifts by one
#
# Shape (as kube-proxy 1.32 writes it in iptables mode): per service, one KUBE-SERVICES rule
# (-d VIP/32 -p udp --dport 53 -j KUBE-SVC-x), a KUBE-SVC-x chain (masquerade mark for
# off-cluster sources, two endpoints picked by -m statistic), and a KUBE-SEP-x chain per
# endpoint (mark hairpin, DNAT): 8 rules and 3 chains a service. Base: PREROUTING and OUTPUT
# jump to KUBE-SERVICES, POSTROUTING to KUBE-POSTROUTING. N services: 8N + 8 rules in
# 3N + 4 user chains (10,000 services: 80,008 rules, 30,004 chains).
# Service i has VIP 10.96.(i/250).(i%250+1) and endpoints 10.244.(i/250).(2*(i%125)+{2,3});
# service $KUBE_GEN_Q (none by default) has both endpoints at 10.0.2.7, the lab's server
# (tests/lib.sh lab_up).
set -eu
case ${1:-} in
base)
	cat <<'B'
*nat
:KUBE-SERVICES - [0:0]
:KUBE-POSTROUTING - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
COMMIT
B
	;;
services)
	awk -v n="${2:?services N}" -v extra="${3:-0}" -v q="${KUBE_GEN_Q:--1}" 'function name(kind, i, k) {
		# A stable 16-character chain suffix per service and kind, like kube-proxy'"'"'s
		# base32 hashes.
		return sprintf("KUBE-%s-%08X%08X", kind, (i * 2654435761 + k) % 4294967296,
			       (i * 40503 + k * 977) % 4294967296)
	}
	BEGIN {
		print "*nat"
		print ":KUBE-SERVICES - [0:0]"
		print ":KUBE-NODEPORTS - [0:0]"
		print ":KUBE-POSTROUTING - [0:0]"
		print ":KUBE-MARK-MASQ - [0:0]"
		for (i = 0; i < n; i++) {
			print ":" name("SVC", i, 0) " - [0:0]"
			print ":" name("SEP", i, 1) " - [0:0]"
			print ":" name("SEP", i, 2) " - [0:0]"
		}
		if (extra) {
			print ":KUBE-SVC-EXTRA0000000000 - [0:0]"
			print "-A KUBE-SERVICES -d 10.97.0.1/32 -p tcp -m comment --comment \"default/churn:http cluster IP\" -m tcp --dport 80 -j KUBE-SVC-EXTRA0000000000"
			print "-A KUBE-SVC-EXTRA0000000000 -j KUBE-MARK-MASQ"
		}
		for (i = 0; i < n; i++) {
			vip = sprintf("10.96.%d.%d", int(i / 250), i % 250 + 1)
			c = sprintf("\"ns%d/svc%d:dns cluster IP\"", i % 50, i)
			printf "-A KUBE-SERVICES -d %s/32 -p udp -m comment --comment %s -m udp --dport 53 -j %s\n", vip, c, name("SVC", i, 0)
		}
		print "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
		print "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"
		print "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
		print "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0"
		print "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
		for (i = 0; i < n; i++) {
			vip = sprintf("10.96.%d.%d", int(i / 250), i % 250 + 1)
			svc = name("SVC", i, 0)
			for (e = 1; e <= 2; e++)
				ep[e] = i == q ? "10.0.2.7" : sprintf("10.244.%d.%d", int(i / 125), 2 * (i % 125) + e + 1)
			c = sprintf("\"ns%d/svc%d:dns cluster IP\"", i % 50, i)
			printf "-A %s ! -s 10.244.0.0/16 -d %s/32 -p udp -m comment --comment %s -m udp --dport 53 -j KUBE-MARK-MASQ\n", svc, vip, c
			printf "-A %s -m comment --comment \"ns%d/svc%d:dns -> %s:53\" -m statistic --mode random --probability 0.50000000000 -j %s\n", svc, i % 50, i, ep[1], name("SEP", i, 1)
			printf "-A %s -m comment --comment \"ns%d/svc%d:dns -> %s:53\" -j %s\n", svc, i % 50, i, ep[2], name("SEP", i, 2)
			for (e = 1; e <= 2; e++) {
				sep = name("SEP", i, e)
				printf "-A %s -s %s/32 -m comment --comment \"ns%d/svc%d:dns\" -j KUBE-MARK-MASQ\n", sep, ep[e], i % 50, i
				printf "-A %s -p udp -m comment --comment \"ns%d/svc%d:dns\" -m udp -j DNAT --to-destination %s:53\n", sep, i % 50, i, ep[e]
			}
		}
		print "COMMIT"
	}'
	;;
*)
	echo "usage: kube-gen.sh base | services N [EXTRA]" >&2
	exit 2
	;;
esac
