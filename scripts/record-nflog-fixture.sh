#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/record-nflog-fixture.sh: record real NFLOG TRACE messages from a namespace lab into
# tests/data/ (run once, as root; the unit tests replay the bytes through the live decoder).
# It records: one UDP datagram to a DNATed service address (client → router → server), and a
# TCP SYN that is answered with a RST, both traced on the router with --port.
set -euo pipefail
cd "$(dirname "$0")/.."
IPTRACE=${IPTRACE:-$PWD/src/iptrace}
TESTS_LIB=$PWD/tests/lib.sh
. "$TESTS_LIB"
need_root
trap lab_cleanup EXIT
lab_up
lab_kube_nat
out=${1:-tests/data/nflog-dnat-udp.nlrec}
ip netns exec "$R" "$IPTRACE" --port 53 --format json --count 2 --duration 10 \
	--record "$out" >"$out.json" 2>"$out.err" &
pid=$!
wait_ready "$out.err"
udp_send "$C" 10.96.0.10 53 "first-query"
sleep 0.3
udp_send "$C" 10.96.0.10 53 "second-query"
wait "$pid"
rm -f "$out.err"
echo "recorded $out ($(stat -c %s "$out") bytes); iptrace printed $out.json"
