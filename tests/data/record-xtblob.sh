#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# record-xtblob.sh: how tests/data/*.xtblob and *.save were made (root; a throw-away
# namespace; run from the top of the tree: bash tests/data/record-xtblob.sh).
#   kube-v0.xtblob / kube-v0.save   nat of scripts/bench/kube-gen.sh (3 services, the
#                                   second one's endpoints 10.0.2.7), as loaded
#   kube-v1.xtblob / kube-v1.save   the same with the extra rule at the head of
#                                   KUBE-SERVICES: every later number shifts by one
#   misc.xtblob / misc.save         filter: unconditional ACCEPT, goto, a rule without
#                                   target, tcp flags, negations, a fragment rule
#   misc6.xtblob                    ip6tables filter: a tcp port rule and an address rule
set -eu
cd "$(dirname "$0")/../.."
ns=xtblob-rec-$$
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
cc -O2 -o "/tmp/xtblob-dump-$$" tests/tools/xtblob-dump.c
dump="ip netns exec $ns /tmp/xtblob-dump-$$"
run="ip netns exec $ns"
scripts/bench/kube-gen.sh base | $run iptables-legacy-restore --noflush
KUBE_GEN_Q=1 scripts/bench/kube-gen.sh services 3 0 | $run iptables-legacy-restore --noflush
$dump 4 nat > tests/data/kube-v0.xtblob
$run iptables-legacy-save -t nat | grep -v '^#' > tests/data/kube-v0.save
KUBE_GEN_Q=1 scripts/bench/kube-gen.sh services 3 1 | $run iptables-legacy-restore --noflush
$dump 4 nat > tests/data/kube-v1.xtblob
$run iptables-legacy-save -t nat | grep -v '^#' > tests/data/kube-v1.save
$run iptables-legacy-restore <<'R'
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:LAB - [0:0]
-A INPUT -p tcp -m tcp --dport 22 --tcp-flags SYN,ACK SYN -j ACCEPT
-A INPUT ! -s 10.1.0.0/16 -p udp -m udp ! --dport 53 -j DROP
-A INPUT -f -j DROP
-A FORWARD -i r0 -p udp -m udp --sport 1000:2000
-A FORWARD -g LAB
-A FORWARD -j ACCEPT
-A LAB -d 10.0.2.7/32 -j MARK --set-xmark 0x1/0xffffffff
-A LAB -j RETURN
COMMIT
R
$dump 4 filter > tests/data/misc.xtblob
$run iptables-legacy-save -t filter | grep -v '^#' > tests/data/misc.save
$run ip6tables-legacy -A INPUT -p tcp -m tcp --dport 443 -j ACCEPT
$run ip6tables-legacy -A INPUT -s 2001:db8::/32 -j DROP
$dump 6 filter > tests/data/misc6.xtblob
rm -f "/tmp/xtblob-dump-$$"
