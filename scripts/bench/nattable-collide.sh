#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/nattable-collide.sh: `iptrace --nat-table FILE` on a NAT log whose ids all
# hash alike, against one with as many random ids: a keyed hash makes both take the same.
# Not part of `make check` (see BENCHMARKS.md).
#
# Usage: scripts/bench/nattable-collide.sh [-n RUNS]
#   -n RUNS   runs per log (default 5); prints each log's median wall time in seconds
# Environment: IPTRACE (default src/iptrace).
#
# The crafted ids are 15 pairs of "Ez" or "FY" (32,768 ids of 30 characters): for the
# classic h * 33 + c string hash both pairs add the same, so all ids share one full hash
# and one hash chain, whatever the table's size. The random ids are 30 random letters.
set -u
cd "$(dirname "$0")/../.."
: "${IPTRACE:=$PWD/src/iptrace}"
RUNS=5
while getopts "n:h" o; do
	case $o in
	n) RUNS=$OPTARG ;;
	*) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//; /^set -u/d'; exit 2 ;;
	esac
done
[ -x "$IPTRACE" ] || { echo "no $IPTRACE: build first (make)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One NAT log line per id, all '+' (the table keeps every row).
awk 'BEGIN {
	for (i = 0; i < 32768; i++) {
		id = ""
		for (b = 14; b >= 0; b--)
			id = id (int(i / 2 ^ b) % 2 ? "FY" : "Ez")
		printf "+ udp 10.0.0.1:%d 10.96.0.10:53 10.0.2.7:53 *:* (%s)\n", i % 65536, id
	}
}' >"$tmp/collide.log"
awk 'BEGIN {
	srand(1)
	for (i = 0; i < 32768; i++) {
		id = ""
		for (b = 0; b < 30; b++)
			id = id sprintf("%c", 65 + int(rand() * 26))
		printf "+ udp 10.0.0.1:%d 10.96.0.10:53 10.0.2.7:53 *:* (%s)\n", i % 65536, id
	}
}' >"$tmp/random.log"

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
for log in random collide; do
	for _ in $(seq 1 "$RUNS"); do
		s=$(date +%s.%N)
		"$IPTRACE" --nat-table "$tmp/$log.log" --all >"$tmp/out" || exit 1
		e=$(date +%s.%N)
		echo "$e - $s" | bc -l
	done | median >"$tmp/$log.t"
	rows=$(($(wc -l <"$tmp/out") - 1))
	printf '%-8s %6d rows  %.3f s (median of %d)\n' "$log" "$rows" "$(cat "$tmp/$log.t")" "$RUNS"
done
