#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nat-log.sh: --nat-log and --nat-table behind a masquerading, DNATing router namespace
source "$TESTS_LIB"
need_root
need_cmd python3 conntrack iptables-legacy
trap lab_cleanup EXIT
lab_up
ip netns exec "$R" iptables-legacy -w -t nat -A POSTROUTING -o r1 -j MASQUERADE
lab_kube_nat	# DNAT 10.96.0.10:53 -> 10.0.2.7:53
TMP=$(mktemp -d) || fail "mktemp"
trap 'lab_cleanup; rm -rf "$TMP"' EXIT

ip netns exec "$S" python3 -c '
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 53))
while True:
    d, a = u.recvfrom(100); u.sendto(d, a)
' &
disown	# lab_cleanup kills it
for i in $(seq 1 50); do
	ip netns exec "$S" ss -Hlun 'sport = :53' | grep -q . && break
	sleep 0.1
done

# udp_flow SPORT DST: one answered query from the client's SPORT.
udp_flow() {
	ip netns exec "$C" python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('10.0.1.2', $1)); s.settimeout(2)
s.sendto(b'q', ('$2', 53)); s.recv(10)" || fail "no answer from $2:53"
}

# Subscribe first: with nf_conntrack_events=2 only flows created after that are reported.
ip netns exec "$R" "$IPTRACE" --nat-log >"$TMP/log" 2>"$TMP/log.err" &
LOG_PID=$!
ip netns exec "$R" "$IPTRACE" --nat-log --port 53 --format json --count 4 \
	>"$TMP/json" 2>"$TMP/json.err" &
JSON_PID=$!
wait_ready "$TMP/log.err" "$LOG_PID"
wait_ready "$TMP/json.err" "$JSON_PID"

udp_flow 40000 10.0.2.7
udp_flow 40001 10.96.0.10
# A TCP flow to a closed port: NATed like the rest, but not port 53.
ip netns exec "$C" python3 -c "
import socket
try: socket.create_connection(('10.0.2.7', 9), 2)
except OSError: pass"
sleep 0.5

grep -Eq '^\+ udp 10\.0\.1\.2:40000 10\.0\.2\.7:53 10\.0\.2\.1:[0-9]+ \*:\* \(id [0-9]+\)$' "$TMP/log" ||
	{ cat "$TMP/log"; fail "no + line for the masqueraded flow"; }
grep -Eq '^\+ udp 10\.0\.1\.2:40001 10\.96\.0\.10:53 10\.0\.2\.1:[0-9]+ 10\.0\.2\.7:53 \(id [0-9]+\)$' "$TMP/log" ||
	{ cat "$TMP/log"; fail "no + line for the DNATed flow"; }
grep -Eq '^\+ tcp 10\.0\.1\.2:[0-9]+ 10\.0\.2\.7:9 10\.0\.2\.1:[0-9]+ \*:\* \(id [0-9]+\)$' "$TMP/log" ||
	{ cat "$TMP/log"; fail "no + line for the tcp flow"; }
pass "+ lines for new NAT entries"
grep -Eq '^- tcp 10\.0\.1\.2:[0-9]+ 10\.0\.2\.7:9 10\.0\.2\.1:[0-9]+ \*:\* \(id [0-9]+\)$' "$TMP/log" ||
	{ cat "$TMP/log"; fail "no - line for the tcp flow the RST ended"; }
pass "- line when a RST ends an entry"

# The ids are conntrack's own: compare with conntrack -L's view of the same flow.
id=$(sed -nE 's/^\+ udp 10\.0\.1\.2:40001 .* \(id ([0-9]+)\)$/\1/p' "$TMP/log")
ip netns exec "$R" conntrack -L -p udp --sport 40001 -o id 2>/dev/null | grep -q "id=$id\b" ||
	fail "id $id is not conntrack's id for the flow"
pass "ids are conntrack ids"

# --port 53 with --count 4: the two DNS flows (+, then = when the answer sets seen_reply),
# not the tcp one; then the run ends by itself.
for i in $(seq 1 50); do kill -0 $JSON_PID 2>/dev/null || break; sleep 0.1; done
kill -0 $JSON_PID 2>/dev/null && fail "--count 4 did not end the NAT log"
wait $JSON_PID || fail "--nat-log --count exited with $?"
python3 - "$TMP/json" <<'PY' || fail "json lines wrong: $(cat "$TMP/json")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
nat = [l for l in lines if l["type"] == "nat"]
assert len(nat) == 4 and lines[-1]["type"] == "summary", lines
for l in nat:
    assert set(l) >= {"op", "family", "proto", "local", "public", "alias", "proxy", "id",
                      "status", "timeout"}, l
    assert l["proto"] == "udp" and l["public"].endswith(":53"), l
    assert "src_nat" in l["status"] and isinstance(l["id"], int), l
plus = [l for l in nat if l["op"] == "+"]
upd = [l for l in nat if l["op"] == "="]
assert len(plus) == 2 and len(upd) == 2, nat
assert all("seen_reply" in l["status"] for l in upd), upd
assert sorted(l["id"] for l in plus) == sorted(l["id"] for l in upd), nat
assert sorted(l["proxy"] for l in plus if l["proxy"]) == ["10.0.2.7:53"], nat
PY
pass "--port 53 filter, json fields, = on seen_reply, --count"

# The fold of the log equals the table dumped now (no traffic in between).
ip netns exec "$R" "$IPTRACE" --nat-table >"$TMP/dump" || fail "--nat-table failed"
"$IPTRACE" --nat-table "$TMP/log" >"$TMP/fold" 2>"$TMP/fold.err" || fail "--nat-table FILE failed"
head -1 "$TMP/dump" | grep -Eq '^Type +Local +Public +Alias +Proxy$' || fail "bad header: $(head -1 "$TMP/dump")"
# The tcp entry is gone already (the RST ended it): two rows.
[ "$(tail -n +2 "$TMP/dump" | wc -l)" -eq 2 ] || { cat "$TMP/dump" "$TMP/log"; fail "dump has not 2 rows"; }
diff <(tail -n +2 "$TMP/dump" | tr -s ' ' | sort) <(tail -n +2 "$TMP/fold" | tr -s ' ' | sort) ||
	fail "the fold of the log differs from the table"
grep -Eq '^udp +10\.0\.1\.2:40001 +10\.96\.0\.10:53 +10\.0\.2\.1:[0-9]+ +10\.0\.2\.7:53$' "$TMP/dump" ||
	fail "DNAT row missing from the dump"
pass "fold of the log == --nat-table dump"

# Flush: every entry goes, each with its - line, and both views become empty.
ip netns exec "$R" conntrack -F 2>/dev/null
sleep 0.5
for id in $(sed -nE 's/^\+ .* \(id ([0-9]+)\)$/\1/p' "$TMP/log"); do
	grep -Eq "^- .* \(id $id\)$" "$TMP/log" || { cat "$TMP/log"; fail "no - line for id $id"; }
done
[ "$(ip netns exec "$R" "$IPTRACE" --nat-table | wc -l)" -eq 1 ] || fail "table not empty after flush"
[ "$("$IPTRACE" --nat-table "$TMP/log" 2>/dev/null | wc -l)" -eq 1 ] || fail "fold not empty after flush"
pass "- lines on flush"

# A short UDP timeout in R: the entry expires and its - line comes without a flush. The
# kernel reaps expired entries lazily (gc worker, lookups, dumps): the dump reaps it at once.
ip netns exec "$R" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=1
udp_flow 40002 10.0.2.7
ip netns exec "$R" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30
sleep 1.5
ip netns exec "$R" "$IPTRACE" --nat-table | grep -q ':40002 ' && fail "expired entry still listed"
for i in $(seq 1 30); do
	grep -Eq '^- udp 10\.0\.1\.2:40002 ' "$TMP/log" && break
	sleep 0.1
done
grep -Eq '^- udp 10\.0\.1\.2:40002 ' "$TMP/log" || { cat "$TMP/log"; fail "no - line on timeout"; }
pass "- line on expiry"

# --duration ends the log by itself.
start=$(date +%s%N)
ip netns exec "$R" timeout 10 "$IPTRACE" --nat-log -d 0.5 >/dev/null 2>&1 || fail "--duration run exited with $?"
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 5000 ] || fail "--duration 0.5 took too long"
pass "--duration"

kill -INT $LOG_PID
wait $LOG_PID || fail "--nat-log exited with $? on SIGINT"
grep -q "conntrack events" "$TMP/log.err" || fail "no summary line on exit"

# Events switched off in the namespace: one line saying so, not silence.
ip netns exec "$R" sysctl -qw net.netfilter.nf_conntrack_events=0
ip netns exec "$R" "$IPTRACE" --nat-log -d 1 >"$TMP/off" 2>"$TMP/off.err" && fail "ran with events off"
[ "$(wc -l <"$TMP/off.err")" -eq 1 ] && grep -q nf_conntrack_events "$TMP/off.err" ||
	fail "events off: $(cat "$TMP/off.err")"
pass "events off is reported"

# Both spellings of the file argument fold the same; options that can't apply are usage errors.
diff <("$IPTRACE" --nat-table "$TMP/log" 2>/dev/null) <("$IPTRACE" --nat-table="$TMP/log" 2>/dev/null) ||
	fail "--nat-table FILE and --nat-table=FILE differ"
"$IPTRACE" --nat-log --iface r0 2>/dev/null; [ $? -eq 2 ] || fail "--nat-log --iface is not a usage error"
"$IPTRACE" --all --port 53 2>/dev/null; [ $? -eq 2 ] || fail "--all without a NAT mode is not a usage error"
pass "--nat-table FILE / =FILE, usage errors"

# --nat in trace mode: both packets of a DNATed query carry their conntrack entry.
ip netns exec "$R" "$IPTRACE" --nat --port 53 --format json -c 2 -d 10 >"$TMP/trace" 2>"$TMP/trace.err" &
TRACE_PID=$!
wait_ready "$TMP/trace.err"
udp_flow 40003 10.96.0.10
wait $TRACE_PID || fail "trace --nat exited with $?: $(cat "$TMP/trace.err")"
ctid=$(ip netns exec "$R" conntrack -L -p udp --sport 40003 -o id 2>/dev/null | sed -nE 's/.*id=([0-9]+).*/\1/p')
[ -n "$ctid" ] || fail "no conntrack entry for the traced flow"
python3 - "$TMP/trace" "$ctid" <<'PY' || fail "--nat annotation wrong: $(cat "$TMP/trace")"
import json, sys
pk = [p for p in map(json.loads, open(sys.argv[1])) if p["type"] == "packet"]
assert len(pk) == 2, pk
for p in pk:
    ct = p["ct"]
    assert ct["id"] == int(sys.argv[2]), ct
    assert ct["orig"] == {"proto": "udp", "src": "10.0.1.2", "dst": "10.96.0.10",
                          "sport": 40003, "dport": 53}, ct
    assert ct["reply"] == {"proto": "udp", "src": "10.0.2.7", "dst": "10.0.2.1",
                           "sport": 53, "dport": 40003}, ct
    assert ct["nat"] == ["snat", "dnat"] and "dst_nat" in ct["status"], ct
assert pk[0]["dst"] == "10.96.0.10" and pk[1]["src"] == "10.0.2.7", pk
PY
pass "--nat attaches the conntrack entry to traced packets"
