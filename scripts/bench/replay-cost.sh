#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/replay-cost.sh: instructions per record for decode + group + JSON, from a
# recorded live capture replayed under callgrind (deterministic, unlike wall-clock time).
#
# Usage: scripts/bench/replay-cost.sh [DIR [RECORDS]]
#   Records a live capture of at least RECORDS (default 100000) trace records in a namespace
#   lab (raw, mangle and filter: 5 records per forwarded packet) with `iptrace --record`,
#   then runs `valgrind --tool=callgrind iptrace --replay FILE --format json -o /dev/null`
#   on it and on an empty recording; the difference over the record count is the figure.
#   DIR keeps the recording and the callgrind outputs (default a temp dir in /dev/shm).
#   REPLAY_FILE=path: use that recording instead of making one.
#   REPLAY_BACKEND=nft: record with the nft marker and three nf_tables tables instead (the
#   marker's, a mangle-like one and a filter-like one: 5 records per forwarded packet).
set -u
. "$(dirname "$0")/common.sh"
: "${UDPGEN:=$TOP/tests/bench/udpgen}"
OUT=${1:-$(mktemp -d /dev/shm/iptrace-replay.XXXXXX)}
WANT=${2:-100000}
PORT=5001
need_cmd valgrind callgrind_annotate jq
[ -x "$UDPGEN" ] || make -s tests/bench/udpgen >&2 || skip "cannot build $UDPGEN"
mkdir -p "$OUT"
rec=${REPLAY_FILE:-$OUT/capture.nlrec}
BACKEND=${REPLAY_BACKEND:-legacy}

if [ -z "${REPLAY_FILE:-}" ]; then
	need_root
	NS_PREFIX="ipt-bench-rc-$$"
	trap lab_cleanup EXIT
	lab_up
	ip netns exec "$S" iptables-legacy -w -A INPUT -p udp --dport $PORT -j DROP
	if [ "$BACKEND" = nft ]; then
		lab_nft_tables || fail "cannot build the nft lab"
	else
		ip netns exec "$R" iptables-legacy -w -t mangle -S >/dev/null
		ip netns exec "$R" iptables-legacy -w -t filter -S >/dev/null
	fi
	ip netns exec "$R" "$IPTRACE" --backend "$BACKEND" --port $PORT --format json \
		-o "$OUT/live.json" --record "$rec" 2>"$OUT/live.err" &
	pid=$!
	wait_ready "$OUT/live.err"
	# 5 records per packet; a few more packets than needed, at a rate nothing is lost at.
	ip netns exec "$C" "$UDPGEN" -d 10.0.2.7 -p $PORT -n $(( (WANT + 4) / 5 + 100 )) \
		-r 10000 >/dev/null
	sleep 0.5
	kill -INT "$pid"
	wait "$pid"
	lab_cleanup
	jq -e 'select(.type == "summary") | .lost == 0' "$OUT/live.json" >/dev/null ||
		echo "replay-cost: warning: the recorded capture lost records" >&2
fi

# Records in the file: what the replay's own summary counts.
records=$("$IPTRACE" --replay "$rec" --format json | tail -n 1 | jq -r .records)
head -c 8 "$rec" >"$OUT/empty.nlrec"
cg() {
	valgrind --tool=callgrind --callgrind-out-file="$2" "$IPTRACE" --replay "$1" \
		--format json -o /dev/null 2>"$2.log" >/dev/null
	sed -nE 's/.*Collected : ([0-9]+).*/\1/p' "$2.log"
}
full=$(cg "$rec" "$OUT/callgrind.full")
empty=$(cg "$OUT/empty.nlrec" "$OUT/callgrind.empty")
per=$(( (full - empty) / records ))
echo "replay: $records records ($(du -h "$rec" | cut -f1)); callgrind: $full instructions" \
	"($empty for an empty recording): $per instructions per record (decode + group + JSON)"
echo "profile: callgrind_annotate $OUT/callgrind.full"
