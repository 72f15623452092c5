#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# hostile-names.sh: names a namespace's root chose never reach the output raw (issue 17,
# item 1): an interface v\e[7mX, a legacy chain CH\e[31mAIN and a rule comment with an OSC
# title, \e[2J and bytes that are not UTF-8, traced live in text (colours on), log and JSON;
# --read of such lines, raw and as dmesg escapes them; --nat-table of such a log; --list
# and the diagnostics of a capture selecting that interface.
set -u
source "$TESTS_LIB"
need_root
need_cmd iptables-legacy python3

IFR=$'v\e[7mX'
CHAIN=$'CH\e[31mAIN'
COMMENT=$'\e]0;pwned\a\e[2J\xff\xfe'
tmp=$(mktemp -d)
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	lab_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

# check KIND FILE...: the oracle, in python (strict UTF-8, strict JSON).
#   text: no byte below 0x20 but \n, no DEL, no C1 control, valid UTF-8; ESC only as
#         sink_text's own colours (with --color always).
#   json: every line a JSON value, its bytes valid UTF-8; every "K_hex" decodes to bytes
#         that are not UTF-8.
check() {
	python3 - "$@" <<-'EOF'
	import json, re, sys
	kind, files = sys.argv[1], sys.argv[2:]
	colours = re.compile(rb'\x1b\[(?:1|1;33|2|32|1;31|36|0)m')
	for name in files:
	    data = open(name, 'rb').read()
	    if kind == 'text':
	        bare = colours.sub(b'', data)
	        bad = [b for b in bare if (b < 0x20 and b != 0x0a) or b == 0x7f]
	        if bad:
	            sys.exit('%s: raw control byte 0x%02x' % (name, bad[0]))
	        text = data.decode('utf-8')     # strict: raises on invalid UTF-8
	        if any(0x80 <= ord(c) <= 0x9f for c in text):
	            sys.exit('%s: a C1 control' % name)
	    else:
	        for line in data.decode('utf-8').splitlines():
	            def hexes(o):
	                for k, v in o.items():
	                    if k.endswith('_hex'):
	                        raw = bytes.fromhex(v)
	                        try:
	                            raw.decode('utf-8')
	                            sys.exit('%s: %s holds valid UTF-8' % (name, k))
	                        except UnicodeDecodeError:
	                            pass
	                return o
	            json.loads(line, object_hook=hexes)
	EOF
}

LAB_IFS="c0 $IFR r1 s0" lab_up
ipt="ip netns exec $R iptables-legacy -w"
$ipt -N "$CHAIN" || fail "iptables-legacy refuses the chain name"
$ipt -A "$CHAIN" -p udp -m comment --comment "$COMMENT" -j ACCEPT || fail "cannot add the rule"
$ipt -A FORWARD -p udp --dport 53 -j "$CHAIN"

# trace FORMAT ARGS...: one datagram through R (in v\e[7mX, through CH\e[31mAIN) into
# $tmp/live.FORMAT, stderr into $tmp/live.FORMAT.err.
trace() {
	local f=$1
	shift
	ip netns exec "$R" "$IPTRACE" --backend legacy --port 53 --format "$f" "$@" \
		-o "$tmp/live.$f" 2>"$tmp/live.$f.err" &
	pid=$!
	wait_ready "$tmp/live.$f.err"
	udp_send "$C" 10.0.2.7 53 "names"
	sleep 0.5
	kill -INT "$pid"
	wait "$pid" || fail "$f: exit $? ($(cat "$tmp/live.$f.err"))"
	pid=
}

trace text --color always
check text "$tmp/live.text" "$tmp/live.text.err" || fail "text: raw bytes in the output"
grep -qF 'in v\x1b[7mX' "$tmp/live.text" || fail "text: no escaped interface name"
grep -qF 'CH\x1b[31mAIN' "$tmp/live.text" || fail "text: no escaped chain name"
grep -qF -- '--comment "\x1b]0;pwned\x07\x1b[2J\xff\xfe"' "$tmp/live.text" ||
	fail "text: no escaped comment: $(cat -v "$tmp/live.text")"
pass "text (colours on): names escaped, only iptrace's own colours"

trace log
check text "$tmp/live.log" || fail "log: raw bytes in the output"
grep -qF 'TRACE: filter:CH\x1b[31mAIN:rule:1 IN=v\x1b[7mX OUT=r1 ' "$tmp/live.log" ||
	fail "log: names not escaped as dmesg shows them: $(cat -v "$tmp/live.log")"
pass "log: the kernel's line with its names escaped, as dmesg shows it"

trace json
check json "$tmp/live.json" || fail "json: not strictly valid"
python3 - "$tmp/live.json" <<-'EOF' || fail "json: names not exact"
	import json, sys
	steps = [s for line in open(sys.argv[1], 'rb').read().decode('utf-8').splitlines()
	         for s in json.loads(line).get('steps', [])]
	mine = [s for s in steps if s['chain'] == 'CH\x1b[31mAIN']
	assert mine, 'no step in the chain'
	s = mine[0]
	assert s['in'] == 'v\x1b[7mX' and 'in_hex' not in s, s
	assert 'chain_hex' not in s, s
	assert '\ufffd\ufffd' in s['rule'], s['rule']
	raw = bytes.fromhex(s['rule_hex'])
	assert b'--comment "\x1b]0;pwned\x07\x1b[2J\xff\xfe"' in raw, raw
	assert raw.replace(b'\xff', b'\xef\xbf\xbd').replace(b'\xfe', b'\xef\xbf\xbd') == \
	       s['rule'].encode('utf-8'), 'the rule is not its bytes with U+FFFD'
	EOF
pass "json: strictly valid UTF-8; the exact names, and the comment's bytes in rule_hex"

# --read: iptrace's own log lines (dmesg's escapes) and the same with the raw bytes.
"$IPTRACE" --read "$tmp/live.log" --format json >"$tmp/read.json" 2>"$tmp/read.err" ||
	fail "--read of the log: exit $?"
check json "$tmp/read.json" || fail "--read json: not strictly valid"
python3 - "$tmp/read.json" <<-'EOF' || fail "--read: names not read back exactly"
	import json, sys
	steps = [s for line in open(sys.argv[1], 'rb').read().decode('utf-8').splitlines()
	         for s in json.loads(line).get('steps', [])]
	assert any(s['chain'] == 'CH\x1b[31mAIN' and s['in'] == 'v\x1b[7mX' for s in steps), steps
	EOF
FF=$'\xff'
printf '%s\n' "Dec  6 02:51:50 host kernel: TRACE: raw:$CHAIN:rule:1 IN=$IFR$FF OUT= SRC=10.0.1.2 DST=10.0.2.7 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=UDP SPT=1 DPT=53 LEN=40 " \
	>"$tmp/raw.log"
for f in text log json; do
	"$IPTRACE" --read "$tmp/raw.log" --format "$f" --color always >"$tmp/read.$f" \
		2>"$tmp/read.$f.err" || fail "--read raw bytes, $f: exit $?"
done
check text "$tmp/read.text" "$tmp/read.log" "$tmp/read.text.err" "$tmp/read.json.err" ||
	fail "--read of raw bytes: raw bytes in the output"
check json "$tmp/read.json" || fail "--read of raw bytes: json not strictly valid"
python3 - "$tmp/read.json" <<-'EOF' || fail "--read of raw bytes: names not exact"
	import json, sys
	lines = open(sys.argv[1], 'rb').read().decode('utf-8').splitlines()
	s = json.loads(lines[0])['steps'][0]
	assert s['chain'] == 'CH\x1b[31mAIN', s
	assert s['in'] == 'v\x1b[7mX\ufffd' and s['in_hex'] == '761b5b376d58ff', s
	EOF
grep -qF 'IN=v\x1b[7mX\xff OUT=' "$tmp/read.log" || fail "--read log: $(cat -v "$tmp/read.log")"
pass "--read: dmesg's escapes read back as the exact names, raw bytes printed safely"

# --nat-table of a log whose words hold escapes and bytes that are not UTF-8.
printf '+ udp\e[2J 10.0.1.2:1 10.0.2.7:53 \e]0;x\a\xff:1 *:* (id 7)\n' >"$tmp/nat.log"
"$IPTRACE" --nat-table "$tmp/nat.log" >"$tmp/nat.text" 2>"$tmp/nat.err" ||
	fail "--nat-table: exit $?"
"$IPTRACE" --nat-table "$tmp/nat.log" --format json >"$tmp/nat.json" 2>>"$tmp/nat.err" ||
	fail "--nat-table json: exit $?"
check text "$tmp/nat.text" "$tmp/nat.err" || fail "--nat-table: raw bytes in the table"
check json "$tmp/nat.json" || fail "--nat-table json: not strictly valid"
grep -qF 'udp\x1b[2J' "$tmp/nat.text" || fail "--nat-table: $(cat -v "$tmp/nat.text")"
grep -qF '"alias_hex":"1b5d303b7807ff3a31"' "$tmp/nat.json" || fail "--nat-table: no alias_hex"
pass "--nat-table: the folded log's words escaped in text, valid JSON with _hex"

# --list, and the diagnostics: a capture selecting the interface by its name.
ip netns exec "$R" "$IPTRACE" --backend legacy --iface "$IFR" --port 53 -o /dev/null \
	2>"$tmp/iface.err" &
pid=$!
wait_ready "$tmp/iface.err"
"$IPTRACE" --list >"$tmp/list" 2>"$tmp/list.err" || fail "--list: exit $?"
kill -INT "$pid"
wait "$pid" || fail "--iface capture: exit $?"
pid=
check text "$tmp/list" "$tmp/list.err" "$tmp/iface.err" || fail "--list or stderr: raw bytes"
grep -qF 'iface v\x1b[7mX' "$tmp/list" || fail "--list: $(cat -v "$tmp/list")"
grep -qF 'iface v\x1b[7mX' "$tmp/iface.err" || fail "stderr: $(cat -v "$tmp/iface.err")"
ip netns exec "$R" "$IPTRACE" --iface $'\e[2Jnone' --port 53 2>"$tmp/bad.err" && fail "no such iface"
check text "$tmp/bad.err" || fail "a diagnostic quoting a name: raw bytes"
grep -qF "unknown interface '\\x1b[2Jnone'" "$tmp/bad.err" || fail "$(cat -v "$tmp/bad.err")"
pass "--list and diagnostics: a selection's interface name escaped"
