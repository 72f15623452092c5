#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# read-limits.sh: what --read takes (issue 17, item 6) — a directory or an unreadable file
# is one line and exit 1; a line longer than the kernel's is skipped and said, in bounded
# memory; only the kernel's lines of a syslog file count (not logger's); an impossible
# time skips its line rather than wrap into another date.
set -u
source "$TESTS_LIB"
need_cmd jq setpriv
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'lab_cleanup; rm -rf "$tmp"' EXIT

TAIL='raw:PREROUTING:policy:1 IN=eth0 OUT= SRC=10.0.1.2 DST=10.0.2.7 LEN=60 TOS=0x00 PREC=0x00 TTL=64 PROTO=UDP SPT=1000 DPT=53 LEN=40 '
# line ID PREFIX: a kernel TRACE line of a packet with IP ID ID, after PREFIX.
line() {
	printf '%sTRACE: %s\n' "$2" "${TAIL/TTL=64/TTL=64 ID=$1}"
}

# one_error NAME WANT CMD...: exit 1, exactly one line on stderr (WANT), nothing on stdout.
one_error() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" = 1 ] || fail "$name: exit $rc, want 1"
	[ "$(wc -l <"$tmp/err")" = 1 ] || fail "$name: not one line: $(cat "$tmp/err")"
	grep -qF "$want" "$tmp/err" || fail "$name: want '$want': $(cat "$tmp/err")"
	[ -s "$tmp/out" ] && fail "$name: wrote to stdout: $(cat "$tmp/out")"
	return 0
}

mkdir "$tmp/dir"
for f in text json; do
	one_error "a directory ($f)" "cannot read '$tmp/dir': Is a directory" \
		"$IPTRACE" --read "$tmp/dir" --format "$f"
done
line 1 "" >"$tmp/secret"
chmod 600 "$tmp/secret"
if [ "$(id -u)" = 0 ]; then
	one_error "an unreadable file" "cannot open '$tmp/secret': Permission denied" \
		setpriv --reuid=nobody --regid=nogroup --clear-groups "$IPTRACE" --read "$tmp/secret"
fi
one_error "a missing file" "cannot open '$tmp/none': No such file or directory" \
	"$IPTRACE" --read "$tmp/none" --format json
pass "a directory, an unreadable or a missing file: one line, exit 1, no '0 packets'"

# --nat-table FILE reads its log the same way: a directory is said as one (was "Input/output
# error").
for f in text json; do
	one_error "--nat-table a directory ($f)" "cannot read '$tmp/dir': Is a directory" \
		"$IPTRACE" --nat-table "$tmp/dir" --format "$f"
done
pass "--nat-table of a directory: 'Is a directory', exit 1"
{ echo 'not a NAT line'; echo '+ udp 10.0.1.2:1000 10.96.0.10:53 10.0.2.1:1000 10.0.2.7:53 (id 7)'; } \
	>"$tmp/nat1.log"
"$IPTRACE" --nat-table "$tmp/nat1.log" >"$tmp/out" 2>"$tmp/err" || fail "--nat-table: exit $?"
grep -qxF "iptrace: warning: 1 line of '$tmp/nat1.log' is not a NAT log line: skipped" "$tmp/err" ||
	fail "--nat-table, one line skipped: $(cat "$tmp/err")"
pass "--nat-table: one skipped line said in the singular"

# A 64 MiB line between two kernel lines, read from a pipe with 20 MiB of address space:
# skipped and said; the lines around it read.
{ line 1 ""; head -c 64M /dev/zero | tr '\0' x; echo; line 2 "[ 5.0] "; } |
	(ulimit -v 20000; "$IPTRACE" --read - --format json) >"$tmp/long.json" 2>"$tmp/long.err" ||
	fail "a long line: exit $? ($(cat "$tmp/long.err"))"
jq -e -s '.[-1].type == "summary" and .[-1].records == 2' "$tmp/long.json" >/dev/null ||
	fail "a long line: $(tail -n 1 "$tmp/long.json")"
grep -q 'warning: 1 line longer than 4096 bytes skipped' "$tmp/long.err" ||
	fail "a long line: not said: $(cat "$tmp/long.err")"
pass "a line longer than 4 KiB: skipped and said, memory bounded (a 64 MiB line in 20 MiB)"

# A syslog file: the kernel's lines, and 'TRACE: ' lines other programs logged (logger).
{
	line 11 "Dec  6 02:51:50 host kernel: "
	line 12 "Dec  6 02:51:51 host root: "
	line 13 "Dec  6 02:51:52 host kernel: [ 1234.567890] "
	line 14 "Dec  6 02:51:53 host myapp[4242]: "
	line 15 "2026-12-06T02:51:54.123456+00:00 host kernel: "
	line 16 "<13>Dec  6 02:51:55 root: "
	line 17 "[ 1234.567890] "
	line 18 ""
} >"$tmp/messages"
"$IPTRACE" --read "$tmp/messages" --format json >"$tmp/syslog.json" 2>"$tmp/syslog.err" ||
	fail "syslog: exit $?"
got=$(jq -r 'select(.type == "packet") | .ipid' "$tmp/syslog.json" | sort -n | tr '\n' ' ')
[ "$got" = "11 13 15 17 18 " ] || fail "syslog: packets '$got', want the kernel's 11 13 15 17 18"
grep -q "warning: 3 TRACE lines that another program logged (not tagged 'kernel:') skipped" \
	"$tmp/syslog.err" || fail "syslog: not said: $(cat "$tmp/syslog.err")"
pass "a syslog file: only the kernel's lines count, logger's are skipped and said"

# Impossible times: the line is skipped and said, never wrapped into another date.
{
	line 21 "Feb 31 12:00:00 host kernel: "
	line 22 "Jan  5 99:99:99 host kernel: "
	line 23 "9999-12-31T23:59:59+00:00 host kernel: "
	line 24 "2026-12-06T02:51:50+00:00 host kernel: "
} >"$tmp/times"
"$IPTRACE" --read "$tmp/times" --format json >"$tmp/times.json" 2>"$tmp/times.err" ||
	fail "times: exit $?"
got=$(jq -r 'select(.type == "packet") | "\(.ipid) \(.steps[0].ts)"' "$tmp/times.json")
[ "$got" = "24 2026-12-06T02:51:50.000000Z" ] || fail "times: '$got'"
grep -q 'warning: 3 lines with an impossible time skipped' "$tmp/times.err" ||
	fail "times: not said: $(cat "$tmp/times.err")"
pass "impossible times (Feb 31, 99:99:99, year 9999): lines skipped and said"

# A recording of the other kind: the 0 packets (0 events) come with what to run instead.
"$IPTRACE" --replay "$SRCDIR/tests/data/ct-events.nlrec" >/dev/null 2>"$tmp/kind.err" ||
	fail "--replay of conntrack events: exit $?"
grep -q "holds conntrack events, no trace records: replay it with --nat-log --replay" \
	"$tmp/kind.err" || fail "--replay of conntrack events: $(cat "$tmp/kind.err")"
"$IPTRACE" --nat-log --replay "$SRCDIR/tests/data/nflog-dnat-udp.nlrec" >/dev/null \
	2>"$tmp/kind.err" || fail "--nat-log --replay of trace records: exit $?"
grep -q "holds trace records, no conntrack events: replay it with --replay" "$tmp/kind.err" ||
	fail "--nat-log --replay of trace records: $(cat "$tmp/kind.err")"
"$IPTRACE" --replay "$SRCDIR/tests/data/nflog-dnat-udp.nlrec" >/dev/null 2>"$tmp/kind.err"
grep -q 'note:' "$tmp/kind.err" && fail "a trace recording replayed: $(cat "$tmp/kind.err")"
pass "a recording of the other kind: said what to run instead"
