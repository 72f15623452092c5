#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# legacy-trace.sh: `iptrace --port 53` and `iptrace --dest` on an iptables-legacy router that
# DNATs a service address through kube-proxy-like chains. Checks the JSON against what the
# kernel did (rule counters), the path and the DNAT, and that every table and nf_log/2 are
# as before.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy iptables-legacy-save jq
trap lab_cleanup EXIT
lab_up
lab_kube_nat
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# counters NS: "table chain rulenum pkts" for every rule of every legacy table.
counters() {
	local t
	for t in $(ip netns exec "$1" cat /proc/net/ip_tables_names); do
		ip netns exec "$1" iptables-legacy-save -c -t "$t" | awk -v t="$t" '
			/^\[/ { c = $1; gsub(/[^0-9:]/, "", c); split(c, a, ":");
				chain = $3; n[chain]++; print t, chain, n[chain], a[1] }'
	done | sort
}

# capture OUT SELECTOR...: run iptrace on R for one packet while C sends one datagram.
capture() {
	local out=$1; shift
	ip netns exec "$R" "$IPTRACE" "$@" --format json --count 1 --duration 20 \
		>"$out" 2>"$out.err" &
	local pid=$!
	wait_ready "$out.err"
	udp_send "$C" 10.96.0.10 53 "query-$RANDOM"
	wait "$pid" || fail "iptrace exited with $? ($(cat "$out.err"))"
}

check_packet() {
	local out=$1 what=$2 nmarks=$3
	[ "$(jq -s '[.[] | select(.type == "packet")] | length' "$out")" = 1 ] ||
		fail "$what: expected exactly one packet: $(cat "$out")"
	[ "$(tail -n 1 "$out" | jq -r .type)" = summary ] || fail "$what: summary is not last"
	jq -e 'select(.type == "summary") | .packets == 1 and .lost == 0 and .marker == "legacy"' \
		"$out" >/dev/null || fail "$what: bad summary"
	local p
	p=$(jq -c 'select(.type == "packet")' "$out")
	echo "$p" | jq -e '.family == "ipv4" and .proto == "udp" and .src == "10.0.1.2" and
		.dst == "10.96.0.10" and .dport == 53 and (.ipid | type) == "number" and
		(.id | type) == "string" and .len > 28' >/dev/null || fail "$what: bad header: $p"
	# The path in kernel order: raw PREROUTING → nat PREROUTING → user chains → filter
	# FORWARD → nat POSTROUTING (mangle where the lab has it).
	local path
	path=$(echo "$p" | jq -r '[.steps[] | "\(.table):\(.chain):\(.kind)"] | join(" ")')
	local want="raw:PREROUTING:policy mangle:PREROUTING:policy nat:PREROUTING:rule nat:KUBE-SERVICES:rule nat:KUBE-SVC-DNS:rule nat:KUBE-SEP-DNS:rule mangle:FORWARD:policy filter:FORWARD:rule mangle:POSTROUTING:rule nat:POSTROUTING:policy"
	[ "$path" = "$want" ] || fail "$what: path
  got:  $path
  want: $want"
	# iptrace's own marker rules are hidden; the raw policy number counts them though
	# (the marker rules + the lab's own rule + the policy).
	echo "$p" | jq -e --argjson n "$((nmarks + 2))" '.steps[0].rulenum == $n' >/dev/null ||
		fail "$what: raw policy number"
	# dst changes at the DNAT step: the DNAT rule sees the service address, the next
	# step the server's.
	echo "$p" | jq -e '.steps[5].dst == "10.96.0.10" and .steps[6].dst == "10.0.2.7" and
		.steps[6].dport == 53 and ([.steps[6:][] | .dst == "10.0.2.7"] | all) and
		([.steps[] | .src == "10.0.1.2"] | all)' >/dev/null || fail "$what: DNAT not visible"
	echo "$p" | jq -e '[.steps[] | select(.chain == "FORWARD" or .chain == "POSTROUTING") |
		.in == "r0" and .out == "r1"] | all' >/dev/null || fail "$what: interfaces"
	echo "$p" | jq -e '[.steps[] | .backend == "legacy" and (.ts | test("^20[0-9-]+T[0-9:.]+Z$"))] |
		all' >/dev/null || fail "$what: backend/ts"
	# The DNAT rule is the second rule of KUBE-SEP-DNS, as the kernel numbers it.
	local dnat_rule
	dnat_rule=$(ip netns exec "$R" iptables-legacy -t nat -S KUBE-SEP-DNS | grep -v '^-N' |
		grep -n DNAT | cut -d: -f1)
	echo "$p" | jq -e --argjson n "$dnat_rule" '.steps[5].rulenum == $n' >/dev/null ||
		fail "$what: DNAT rule number"
	# Every rule step the JSON names is a rule whose packet counter the kernel moved.
	echo "$p" | jq -r '.steps[] | select(.kind == "rule") | "\(.table) \(.chain) \(.rulenum)"' |
	while read -r t c n; do
		local b a
		b=$(awk -v k="$t $c $n" '$1" "$2" "$3 == k { print $4 }' "$tmp/c.before")
		a=$(awk -v k="$t $c $n" '$1" "$2" "$3 == k { print $4 }' "$tmp/c.after")
		[ -n "$b" ] && [ "$((a - b))" -ge 1 ] ||
			fail "$what: the kernel's counter of $t $c rule $n did not move ($b → $a)"
	done || exit 1
	pass "$what"
}

snapshot "$R" >"$tmp/snap.before"
# Selector, and how many marker rules it takes per chain (tcp and udp for ports).
for case in "2 --port 53" "1 --dest 10.96.0.10" "2 --dport 53 --src 10.0.1.0/24" \
	"1 --sport 1-65535 --proto udp" "1 --host 10.0.1.2 --proto udp"; do
	nmarks=${case%% *}; sel=${case#* }
	counters "$R" >"$tmp/c.before"
	# shellcheck disable=SC2086
	capture "$tmp/out.json" $sel
	counters "$R" >"$tmp/c.after"
	# --host A is two rules (src A, dst A); the first one matches this packet.
	[ "${sel#--host}" != "$sel" ] && nmarks=2
	check_packet "$tmp/out.json" "iptrace $sel" "$nmarks"
	# Nothing left: rules, every table, nf_log/2 as before (counters moved: strip them).
	snapshot "$R" >"$tmp/snap.after"
	diff <(strip_counters <"$tmp/snap.before") <(strip_counters <"$tmp/snap.after") ||
		fail "iptrace $sel: the firewall or nf_log/2 changed"
	ip netns exec "$R" iptables-legacy-save | grep -q iptrace && fail "iptrace rules left behind"
done
[ "$(ip netns exec "$R" cat /proc/sys/net/netfilter/nf_log/2)" = nf_log_ipv4 ] ||
	fail "nf_log/2 not restored"

# Text output: one block per packet, a header and one aligned line per step.
ip netns exec "$R" "$IPTRACE" --port 53 --count 1 --duration 20 >"$tmp/out.txt" 2>"$tmp/err" &
pid=$!
wait_ready "$tmp/err"
udp_send "$C" 10.96.0.10 53 text-query
wait "$pid" || fail "text run failed"
grep -Eq '^packet 1  udp 10\.0\.1\.2:[0-9]+ → 10\.96\.0\.10:53  id [0-9]+  len [0-9]+' "$tmp/out.txt" ||
	fail "text header: $(cat "$tmp/out.txt")"
[ "$(grep -cE '^  (raw|mangle|nat|filter) ' "$tmp/out.txt")" = 10 ] ||
	fail "text: expected 10 step lines: $(cat "$tmp/out.txt")"
# The NAT change is shown right under the step whose rule made it.
grep -A1 'KUBE-SEP-DNS' "$tmp/out.txt" | grep -q '↳ dst 10.96.0.10:53 → 10.0.2.7:53' ||
	fail "text: DNAT not shown under its rule"
grep -q $'\033' "$tmp/out.txt" && fail "text: colour codes in a pipe"
grep -q '1 packet, 10 records, 0 lost' "$tmp/err" || fail "text summary: $(cat "$tmp/err")"
pass "text output"

# Signals end the run the same way: exit 0, summary last, everything restored.
for sig in INT TERM HUP; do
	ip netns exec "$R" "$IPTRACE" --port 53 --format json >"$tmp/sig.json" 2>"$tmp/sig.err" &
	pid=$!
	wait_ready "$tmp/sig.err"
	udp_send "$C" 10.96.0.10 53 "sig-$sig"
	sleep 0.5
	kill -"$sig" "$pid"
	wait "$pid"; rc=$?
	[ "$rc" = 0 ] || fail "SIG$sig: exit $rc"
	[ "$(tail -n 1 "$tmp/sig.json" | jq -r .type)" = summary ] || fail "SIG$sig: summary not last"
	jq -e 'select(.type == "summary") | .packets == 1' "$tmp/sig.json" >/dev/null ||
		fail "SIG$sig: the open packet was not printed at exit"
	snapshot "$R" >"$tmp/snap.after"
	diff <(strip_counters <"$tmp/snap.before") <(strip_counters <"$tmp/snap.after") ||
		fail "SIG$sig: state changed"
done
pass "SIGINT/SIGTERM/SIGHUP restore"

# Output is flushed when the records stop (not per packet, not only at exit): a reader of a
# pipe sees the packet while iptrace still runs.
fifo=$tmp/live.fifo
mkfifo "$fifo"
ip netns exec "$R" "$IPTRACE" --port 53 --format json >"$fifo" 2>"$tmp/live.err" &
pid=$!
exec 3<"$fifo"
wait_ready "$tmp/live.err"
udp_send "$C" 10.96.0.10 53 "live-1"
line=
read -r -t 5 line <&3 || true
kill -0 "$pid" 2>/dev/null || fail "live output: iptrace ended early"
echo "$line" | jq -e '.type == "packet" and .dport == 53' >/dev/null ||
	fail "live output: no packet in the pipe while running (got '$line')"
kill -INT "$pid"
cat <&3 >/dev/null
exec 3<&-
wait "$pid" || fail "live output: exit $?"
pass "a pipe sees each packet while the capture runs"

# The reader goes away (stdout closed): the next write ends the run like a signal, and
# everything is restored.
( ip netns exec "$R" "$IPTRACE" --port 53 --format json 2>"$tmp/pipe.err"; echo "$?" >"$tmp/pipe.rc" ) |
	head -c 1 >/dev/null &
wait_ready "$tmp/pipe.err" -
for n in 1 2 3; do udp_send "$C" 10.96.0.10 53 "pipe-$n"; sleep 0.4; done
for i in $(seq 1 50); do [ -s "$tmp/pipe.rc" ] && break; sleep 0.1; done
[ "$(cat "$tmp/pipe.rc" 2>/dev/null)" = 0 ] || fail "closed stdout: exit '$(cat "$tmp/pipe.rc" 2>/dev/null)' $(cat "$tmp/pipe.err")"
snapshot "$R" >"$tmp/snap.after"
diff <(strip_counters <"$tmp/snap.before") <(strip_counters <"$tmp/snap.after") ||
	fail "closed stdout: state changed"
pass "closed stdout (SIGPIPE) restores"

# --duration with no traffic: exit 0, empty summary.
ip netns exec "$R" "$IPTRACE" --port 5555 --format json --duration 0.5 >"$tmp/d.json" 2>/dev/null ||
	fail "--duration: non-zero exit"
# (The node: the host's name, which --netns and `ip netns exec` leave alone.)
[ "$(jq -c 'del(.node)' "$tmp/d.json")" = '{"type":"summary","packets":0,"records":0,"lost":0,"dropped":0,"evicted":0,"marker":"legacy"}' ] &&
	[ "$(jq -r .node "$tmp/d.json")" = "$(uname -n)" ] ||
	fail "--duration summary: $(cat "$tmp/d.json")"
pass "--duration"

# NFLOG group 0 owned by another socket: exit 1, the owner's port id named, nothing changed.
ip netns exec "$R" "$IPTRACE" --port 53 --format json >"$tmp/first.json" 2>"$tmp/first.err" &
first=$!
wait_ready "$tmp/first.err"
owner=$(ip netns exec "$R" awk '$1 == 0 { print $2 }' /proc/net/netfilter/nfnetlink_log)
# Least privilege: once set up, only CAP_NET_ADMIN and CAP_NET_RAW (teardown's needs) remain,
# in every set, and nothing inheritable or ambient.
for set in CapPrm CapEff CapBnd; do
	[ "$(awk -v s="$set:" '$1 == s { print $2 }' "/proc/$first/status")" = 0000000000003000 ] ||
		fail "$set after set-up: $(grep "$set" "/proc/$first/status")"
done
for set in CapInh CapAmb; do
	[ "$(awk -v s="$set:" '$1 == s { print $2 }' "/proc/$first/status")" = 0000000000000000 ] ||
		fail "$set after set-up: $(grep "$set" "/proc/$first/status")"
done
ip netns exec "$R" "$IPTRACE" --port 53 --duration 2 >/dev/null 2>"$tmp/second.err"
rc=$?
[ "$rc" = 1 ] || fail "second iptrace: exit $rc, want 1"
grep -q "NFLOG group 0 is owned by netlink port id $owner" "$tmp/second.err" ||
	fail "second iptrace: $(cat "$tmp/second.err")"
[ "$(ip netns exec "$R" iptables-legacy-save -t raw | grep -c 'iptrace:')" = 4 ] ||
	fail "second iptrace touched the first one's rules"
kill -INT "$first"; wait "$first"
pass "NFLOG group 0 taken"

# Not root: a clear error, exit 1, nothing installed.
if command -v setpriv >/dev/null; then
	# The real binary even under IPTRACE_WRAPPER: valgrind, running as nobody, would have to
	# open it itself, and a checkout may sit in a directory only root can enter.
	ip netns exec "$R" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"${IPTRACE_REAL:-$IPTRACE}" --port 53 --duration 1 >/dev/null 2>"$tmp/nonroot.err"
	rc=$?
	[ "$rc" = 1 ] || fail "non-root: exit $rc"
	grep -q "need root or CAP_NET_ADMIN" "$tmp/nonroot.err" || fail "non-root: $(cat "$tmp/nonroot.err")"
	pass "not root"
fi

snapshot "$R" >"$tmp/snap.after"
diff <(strip_counters <"$tmp/snap.before") <(strip_counters <"$tmp/snap.after") ||
	fail "the firewall or nf_log/2 changed"
pass "state identical after all runs"
