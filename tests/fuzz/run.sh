#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/fuzz/run.sh: run every libFuzzer harness from seeds cut out of tests/data and hand-made ones
# In `make check`: a short deterministic run (a fixed number of inputs per harness, seed FUZZ_SEED). For hours of
# fuzzing use scripts/fuzz.sh, which calls this with a longer FUZZ_TIME and a corpus that is
# kept between runs. Without the harnesses (no clang with libFuzzer) it skips, which under
# CI=true is a failure.
# Environment: FUZZ_BIN_DIR (the built harnesses and the seeds tool), TEST_DATA_DIR, IPTRACE
# (optional: its own --nat-log text as seeds), FUZZ_RUNS (inputs per harness), FUZZ_TIME,
# FUZZ_CORPUS_DIR (keep the corpus there; default a temporary one), FUZZ_ARTIFACT_DIR (crash
# inputs; default $FUZZ_BIN_DIR/artifacts), FUZZ_LOG_DIR (keep each harness's libFuzzer
# output there, NAME.log; default a temporary one), FUZZ_HARNESSES (default: all),
# FUZZ_JOBS (harnesses at once).
set -uo pipefail
source "$TESTS_LIB"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${FUZZ_BIN_DIR:-}
# In `make check` the run is bounded and reproducible: a fixed seed and a fixed number of
# inputs, so one build replays the same inputs every time (a build elsewhere — another
# checkout path — may explore others: what it finds goes into regress/ with its fix).
# FUZZ_TIME (scripts/fuzz.sh) explores for as long as it is given.
# budget NAME: libFuzzer's limit for harness NAME. Without FUZZ_RUNS, 100000 inputs each,
# but a quarter of that for nftrace (four pipelines per input), ct (a file replayed per
# input), read and merge (each line read and printed twice, then all read twice more), and
# fewer for the slow ones: replay (a file of up to 320 KiB written and read twice per
# input), journal (up to 256 steps sent and parsed back), savetext (every step of every
# chain asked of the table reader, rounds and saves run), state (files made, listed and cleaned up): each harness stays under
# ~20 s on a 2-core machine, all thirteen under about two and a half minutes.
budget() {
	local runs
	if [ -n "${FUZZ_TIME:-}" ]; then
		echo "-max_total_time=$FUZZ_TIME"
		return
	fi
	case $1 in
		nftrace|ct|merge|state) runs=25000;;
		read|replay|journal|savetext) runs=5000;;
		*) runs=100000;;
	esac
	echo "-runs=${FUZZ_RUNS:-$runs} -seed=${FUZZ_SEED:-1}"
}
if [ -n "${FUZZ_TIME:-}" ]; then
	label="${FUZZ_TIME}s"
else
	label="seed ${FUZZ_SEED:-1}"
fi
all="nflog pkt logline nftrace ct natlog read merge replay journal savetext state options"
harnesses=${FUZZ_HARNESSES:-$all}
jobs=${FUZZ_JOBS:-1}

[ -n "$bin" ] || skip "FUZZ_BIN_DIR not set (run through make check or scripts/fuzz.sh)"
for h in $harnesses; do
	[ -x "$bin/fuzz_$h" ] ||
		skip "fuzz_$h not built: configure found no clang that links -fsanitize=fuzzer"
done
[ -x "$bin/seeds" ] || skip "the seeds tool is not built"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iptrace-fuzz.XXXXXX")
cleanup() {
	rm -rf "$tmp"
	lab_cleanup
}
trap cleanup EXIT

corpus=${FUZZ_CORPUS_DIR:-$tmp/corpus}
artifacts=${FUZZ_ARTIFACT_DIR:-$bin/artifacts}
logs=${FUZZ_LOG_DIR:-$tmp}
for h in $all; do
	mkdir -p "$tmp/seeds/$h" || fail "cannot create the seed directories"
done
mkdir -p "$artifacts" "$logs" || fail "cannot create $artifacts or $logs"

# Seeds: every recorded recv() buffer (NFLOG, nf_tables trace, conntrack), every packet
# payload, every kernel TRACE line, every NAT log line.
"$bin/seeds" -t "$tmp/seeds/nftrace" -c "$tmp/seeds/ct" "$tmp/seeds/nflog" "$tmp/seeds/pkt" \
	"$TEST_DATA_DIR"/*.nlrec || fail "cannot cut seeds from $TEST_DATA_DIR/*.nlrec"
lines=("$TEST_DATA_DIR/kernel-trace.log" "$TEST_DATA_DIR/kube-dns-trace.messages")
n=0
for f in "${lines[@]}"; do
	[ -f "$f" ] || continue
	split -l 1 -a 5 -d "$f" "$tmp/seeds/logline/$(basename "$f")-" || fail "cannot split $f"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no kernel TRACE lines to seed the line parser with"
# The --read loop: each file whole, and names as a hostile namespace sets them, raw and as
# dmesg escapes them, among a logger line and an impossible time.
for f in "${lines[@]}"; do
	[ -f "$f" ] && cp "$f" "$tmp/seeds/read/$(basename "$f")"
done
printf '%s\n' \
	$'Dec  6 02:51:50 h kernel: TRACE: raw:CH\e[31mAIN:rule:1 IN=v\e[7mX OUT= MAC= SRC=10.0.1.2 DST=10.0.2.7 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=1 DPT=53 LEN=40 ' \
	'[ 12.5] TRACE: raw:CH\x1b[31mAIN:rule:1 IN=v\x1b[7mX\xff OUT= SRC=10.0.1.2 DST=10.0.2.7 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=1 DPT=53 LEN=40 ' \
	'Dec  6 02:51:50 h root: TRACE: raw:PREROUTING:policy:1 IN=a OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=1 ID=1 PROTO=47 ' \
	'Feb 31 99:99:99 h kernel: TRACE: raw:PREROUTING:policy:1 IN=a OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=20 TOS=0x00 PREC=0x00 TTL=1 ID=1 PROTO=47 ' \
	>"$tmp/seeds/read/hostile" || fail "cannot write the --read seeds"
cp "$tmp/seeds/read/hostile" "$tmp/seeds/logline/hostile" || fail "cannot copy the --read seeds"
# NAT logs: libalias's alias.log and iptrace's own --nat-log text of the recorded conntrack
# events (when the program is at hand), each whole (something to fold) and each line alone.
nat=("$TEST_DATA_DIR/natd-alias.log")
if [ -n "${IPTRACE:-}" ] && [ -x "$IPTRACE" ] && [ -f "$TEST_DATA_DIR/ct-events.nlrec" ] &&
	"$IPTRACE" --nat-log --all --replay "$TEST_DATA_DIR/ct-events.nlrec" \
		>"$tmp/ct-events.natlog" 2>/dev/null; then
	nat+=("$tmp/ct-events.natlog")
fi
# seed_lines HARNESS FILE...: each non-empty FILE whole and each of its lines alone.
seed_lines() {
	local h=$1 f
	shift
	for f in "$@"; do
		[ -s "$f" ] || continue
		cp "$f" "$tmp/seeds/$h/$(basename "$f")" &&
			split -l 1 -a 5 -d "$f" "$tmp/seeds/$h/$(basename "$f")-" ||
			fail "cannot split $f"
	done
}
seed_lines natlog "${nat[@]}"
[ -n "$(ls "$tmp/seeds/natlog")" ] || fail "no NAT log lines to seed the fold with"
# JSON lines for --merge: the two nodes' outputs recorded in the namespace lab (each file,
# both as one kubectl-like stream, each line alone), and the replays' own JSON.
json=("$TEST_DATA_DIR"/merge-node-*.json "$TEST_DATA_DIR/nflog-dnat-udp.nlrec.json")
if [ -n "${IPTRACE:-}" ] && [ -x "$IPTRACE" ]; then
	for f in "$TEST_DATA_DIR"/*.nlrec; do
		"$IPTRACE" --replay "$f" --format json --node "$(basename "$f" .nlrec)" \
			>"$tmp/$(basename "$f").json" 2>/dev/null && json+=("$tmp/$(basename "$f").json")
	done
fi
seed_lines merge "${json[@]}"
cat "$TEST_DATA_DIR"/merge-node-*.json >"$tmp/seeds/merge/both-nodes" 2>/dev/null
[ -n "$(ls "$tmp/seeds/merge")" ] || fail "no JSON lines to seed --merge with"

# seed NAME FILE FORMAT [ARG...]: a hand-made seed, printf's FORMAT (\xHH for any byte).
seed() {
	local h=$1 f=$2
	shift 2
	# shellcheck disable=SC2059 # the format is the seed
	printf -- "$@" >"$tmp/seeds/$h/$f" || fail "cannot write the seed $h/$f"
}
# --replay files (fuzz_replay.c's first byte: 0x00 the file as it is; 0x7f the file's
# chunks after a padding chunk that puts them across nlrec.c's 256 KiB block end), a
# truncated one, one with a bad chunk header, one without the magic.
for f in "$TEST_DATA_DIR"/*.nlrec; do
	b=$(basename "$f" .nlrec)
	{ printf '\x00' && cat "$f"; } >"$tmp/seeds/replay/$b" &&
		{ printf '\x7f\x00\xf8\x03' && tail -c +9 "$f"; } >"$tmp/seeds/replay/$b-pad" &&
		head -c 100 "$tmp/seeds/replay/$b" >"$tmp/seeds/replay/$b-cut" ||
		fail "cannot make replay seeds of $f"
done
seed replay bad-reserved '\x00IPTRNL01\x01\x00\x01\x00\x04\x00\x00\x00%8s\x14\x00\x00\x00' ''
seed replay no-magic '\x00IPTRNL02'
# Journal entries (fuzz_journal.c's layout): a packet of two steps with a rule and a
# verdict, names holding a newline, '=' and an escape; the same as --no-group records.
# a record: control (0x18: rule and verdict), family (0x04: IPv4 with ports), table,
# chain, in, out, rule number, handle, mark, rule, verdict, protocol, addresses, ports,
# length, IP ID, copies.
j1='\x18\x04\x06filter\x07FORWARD\x04eth0\x04eth1\x03\x00\x00\x00\x00\x00\x00\x00'
j1+='\x12-A FORWARD -j DROP\x04DROP\x06\x0a\x00\x00\x01\x0a\x00\x00\x02\x35\x00\x35\x00'
j1+='\x3c\x00\x12\x34\x00'
# an nft record that ends the packet (0x59), IPv6, names with a newline and an escape;
# in long-packet repeated 255 times: 256 steps, more than journald's 1024 fields hold.
j2='\x59\x02\x03n\nt\x07C=\x1b[31m\x00\x00\x07\x00\x09\x00\x00\x00\x00\x00\x05r\x01ule'
j2+='\x06accept\x11\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01'
j2+='\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00'
j2+='\x00\x05\x00\x00'
seed journal packet "\\x06$j1$j2"'\x00\x00'
seed journal long-packet "\\x00$j1$j2"'\xff\x01'
seed journal records "\\x01$j1$j2"'\x00'
# State files (fuzz_state.c's layout): one as state_save() writes it, for a dead pid; the
# same through state_save() itself; one with a tag of another pid; one world-writable.
st='pid=2000000007\nstarttime=0\nnetns=4:4026531840\nnetns_cookie=1\n'
st+='tag=iptrace:2000000007\nlegacy4=1\nlegacy6=0\nmarker=legacy\ndesc=udp or tcp port 53\n'
st+='nf_log/2=NONE\n'
seed state valid "\\x00\\x00\\x07$st"
seed state world-writable "\\x40\\x00\\x07$st"
seed state other-tag '\x00\x00\x07pid=2000000007\ntag=iptrace:1\n'
seed state saved '\x80\x00\x07legacy\x00\x00\x00\x00\x00\x00\x00\x00\x00udp port 53'
# iptables-save text (fuzz_savetext.c's first byte: 0x00 kube-v0's table, 0x01 misc's):
# what the save program printed for each recorded table.
{ printf '\x00' && cat "$TEST_DATA_DIR/kube-v0.save"; } >"$tmp/seeds/savetext/kube-v0" &&
	{ printf '\x01' && cat "$TEST_DATA_DIR/misc.save"; } >"$tmp/seeds/savetext/misc" ||
	fail "cannot make the save text seeds"
# Command lines, arguments separated by NULs.
seed options port '--port\x0053'
seed options host '--host\x0010.0.0.1/8\x00-4\x00--proto\x00udp,tcp'
seed options nat-table '--nat-table\x00saved.log\x00--all\x00--format\x00json'
seed options name '--dest\x00dns.test\x00--sport\x001-1024,53'
seed options live '-i\x00eth0\x00--mark\x000x10/0xff\x00--limit\x0010/s\x00-c\x005\x00-d\x001.5'
seed options v6 '--src\x00fe80::1/64\x00-6\x00--window\x00100\x00-w\x000\x00--rcvbuf\x004096'
seed options replay '--replay\x00x.nlrec\x00--format\x00journal\x00--no-group'
seed options demo '--demo\x00--output\x00/tmp/%F\x00--output-time\x00--color\x00never'
counts=
for h in $all; do
	counts="$counts${counts:+, }$(ls "$tmp/seeds/$h" | wc -l) $h"
done
echo "seeds: $counts"

# run_one NAME: seeds, then committed crash reproducers (tests/fuzz/regress/NAME), then
# FUZZ_TIME seconds of mutation (or its share of inputs). Temporary files a harness makes
# (fuzz_ct's replay file) go under $tmp, removed at the end even after a crash. A crash, leak, sanitizer report or timeout fails the run.
run_one() {
	local h=$1 dirs=() start=$SECONDS rc
	mkdir -p "$corpus/$h" || return 1
	dirs=("$corpus/$h" "$tmp/seeds/$h")
	[ -d "$here/regress/$h" ] && dirs+=("$here/regress/$h")
	# shellcheck disable=SC2046 # the budget is two words or one, none with spaces
	TMPDIR="$tmp" "$bin/fuzz_$h" $(budget "$h") -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$artifacts/$h-" "${dirs[@]}" \
		>"$logs/$h.log" 2>&1
	rc=$?
	echo $((SECONDS - start)) >"$tmp/$h.secs"
	return $rc
}

# report NAME RC: the harness's summary line, or its output when it failed.
report() {
	local h=$1 rc=$2 runs cov rate
	if [ "$rc" = 0 ]; then
		runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$logs/$h.log" |
			grep -Eo '[0-9]+$')
		cov=$(grep -Eo 'cov: [0-9]+' "$logs/$h.log" | tail -1)
		# libFuzzer's whole seconds: 0 for a run shorter than one, then not worth saying.
		rate=$(grep -Eo 'stat::average_exec_per_sec: *[0-9]+' "$logs/$h.log" |
			grep -Eo '[0-9]+$')
		[ "${rate:-0}" -gt 0 ] && rate=", $rate exec/s" || rate=
		echo "fuzz_$h: ${runs:-?} inputs ($label)$rate, $cov, clean, $(cat "$tmp/$h.secs")s"
		return 0
	fi
	echo "FAIL: fuzz_$h found a problem (exit $rc); its output:" >&2
	tail -60 "$logs/$h.log" >&2
	echo "reproduce: $bin/fuzz_$h $artifacts/$h-*" >&2
	return 1
}

status=0
if [ "$jobs" -le 1 ]; then
	for h in $harnesses; do
		run_one "$h"
		report "$h" $? || status=1
	done
else	# $jobs harnesses at a time (scripts/fuzz.sh: as many as there are cores)
	read -ra all <<<"$harnesses"
	for ((i = 0; i < ${#all[@]}; i += jobs)); do
		declare -A pids=()
		for h in "${all[@]:i:jobs}"; do
			run_one "$h" &
			pids[$h]=$!
		done
		for h in "${all[@]:i:jobs}"; do
			wait "${pids[$h]}"
			report "$h" $? || status=1
		done
	done
fi
exit $status
