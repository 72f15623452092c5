#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# read-repeated.sh: --read of a repeated flow. The kernel lines of two runs of one test (the
# same datagram: same IP ID and payload) 462 s apart, on another bridge port the second
# time, are two packets with their steps in kernel order, each with the line's time in JSON
# (ts for a calendar time, uptime for dmesg's seconds since boot) and in text; lines close in
# time but on another interface are two packets too; the field fixture keeps its 3 packets.
# Built from tests/data/kube-dns-trace.messages (its first datagram, IP ID 20539, 22 lines).
source "$TESTS_LIB"
need_cmd jq awk
FIXTURE=$SRCDIR/tests/data/kube-dns-trace.messages
OUT=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$OUT"' EXIT

grep ' ID=20539 ' "$FIXTURE" | sed 's/^.*kernel: //' >"$OUT/lines"
[ "$(wc -l <"$OUT/lines")" = 22 ] || fail "fixture: expected 22 lines of IP ID 20539"
# The chains in kernel (line) order, for comparing with each packet's steps.
want=$(sed -E 's/^TRACE: ([^:]+):([^:]+):([^:]+):([0-9]+) .*/\1:\2:\3:\4/' "$OUT/lines" | paste -sd' ')

# prefix FMT START STEP PORT: the lines with a time prefix, the bridge port renamed to PORT.
prefix() {
	awk -v fmt="$1" -v start="$2" -v step="$3" -v port="$4" '{
		sub(/PHYSIN=vethwepl84ee671/, "PHYSIN=" port)
		t = start + (NR - 1) * step
		if (fmt == "dmesg")
			printf "[%12.6f] %s\n", t, $0
		else if (fmt == "syslog")
			printf "Mar 30 19:%02d:%02d dev-node1 kernel: %s\n", int(t / 60), t % 60, $0
		else
			print
	}' "$OUT/lines"
}

# check NAME: two packets of 22 steps, each in kernel order; prints their first steps' times
check() {
	local n
	n=$(jq -c 'select(.type=="packet")' "$OUT/$1.json" | grep -c .)
	[ "$n" = 2 ] || fail "$1: expected 2 packets, got $n: $(jq -c 'select(.type=="packet") |
		[.id, (.steps | length)]' "$OUT/$1.json" | paste -sd' ')"
	jq -r 'select(.type=="packet") | [.steps[] | "\(.table):\(.chain):\(.kind):\(.rulenum)"] |
		join(" ")' "$OUT/$1.json" >"$OUT/$1.order"
	while read -r got; do
		[ "$got" = "$want" ] || fail "$1: steps not in kernel order:
 got    $got
 wanted $want"
	done <"$OUT/$1.order"
}

# 1. dmesg: seconds since boot, 462 s apart, the second run on another bridge port.
{ prefix dmesg 8123.456700 0.000010 vethwepl84ee671; prefix dmesg 8585.456700 0.000010 vethwepl0c1d2e3; } \
	>"$OUT/dmesg.log"
"$IPTRACE" --read "$OUT/dmesg.log" --format json >"$OUT/dmesg.json" || fail "--read failed"
check dmesg
[ "$(jq -r 'select(.type=="packet") | .steps[0].uptime' "$OUT/dmesg.json" | paste -sd' ')" = \
	"8123.4567 8585.4567" ] || fail "dmesg: uptime not carried: $(head -c 600 "$OUT/dmesg.json")"
jq -e -s '[.[] | select(.type=="packet") | .steps[] | select(has("ts"))] | length == 0' \
	"$OUT/dmesg.json" >/dev/null || fail "dmesg: a ts without a calendar time"
"$IPTRACE" --read "$OUT/dmesg.log" >"$OUT/dmesg.txt" || fail "--read (text) failed"
grep -q 'uptime 8585.456700' "$OUT/dmesg.txt" || fail "text: no uptime: $(head -3 "$OUT/dmesg.txt")"

# 2. syslog: a calendar time (whole seconds), 19:33:27 and 19:41:09.
{ prefix syslog $((33 * 60 + 27)) 0 vethwepl84ee671; prefix syslog $((41 * 60 + 9)) 0 vethwepl0c1d2e3; } \
	>"$OUT/syslog.log"
"$IPTRACE" --read "$OUT/syslog.log" --format json >"$OUT/syslog.json" || fail "--read failed"
check syslog
jq -r 'select(.type=="packet") | .steps[0].ts' "$OUT/syslog.json" | grep -c 'T19:3[3]:27\|T19:41:09' |
	grep -qx 2 || fail "syslog: ts not carried: $(jq -c 'select(.type=="packet") | .steps[0]' "$OUT/syslog.json")"

# 3. Place: the second run 50 ms later (inside the window) but on another bridge port.
{ prefix dmesg 100.000000 0.000010 vethwepl84ee671; prefix dmesg 100.050000 0.000010 vethwepl0c1d2e3; } \
	>"$OUT/place.log"
"$IPTRACE" --read "$OUT/place.log" --format json >"$OUT/place.json" || fail "--read failed"
check place
# ... and with no time at all: line order and place alone.
{ prefix none 0 0 vethwepl84ee671; prefix none 0 0 vethwepl0c1d2e3; } >"$OUT/bare.log"
"$IPTRACE" --read "$OUT/bare.log" --format json >"$OUT/bare.json" || fail "--read failed"
check bare

# 4. The field fixture as it is: 3 packets of 22, 21 and 22 steps.
"$IPTRACE" --read "$FIXTURE" --format json >"$OUT/field.json" || fail "--read failed"
[ "$(jq -r 'select(.type=="packet") | "\(.ipid)/\(.steps | length)"' "$OUT/field.json" | paste -sd' ')" = \
	"20539/22 20790/21 20808/22" ] || fail "field fixture: $(jq -c 'select(.type=="packet") |
	[.ipid, (.steps | length)]' "$OUT/field.json" | paste -sd' ')"
pass "--read: time and place separate packets, steps in kernel order, the line's time kept"
