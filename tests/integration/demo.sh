#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# demo.sh: `iptrace --demo` traces the query through the kube-proxy-like DNAT and the reply,
# prints them like a live capture, and leaves nothing: no namespace, no process, no host
# link, rule or sysctl changed — on a normal end, on SIGINT/SIGTERM at any moment of the
# build, after SIGKILL (its janitor), and after SIGKILL of them all (the next demo).
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy-restore jq
tmp=$(mktemp -d)
# Whatever a failed check leaves, the trap removes: every lab of a pid we started.
pids=()
cleanup() {
	local p ns
	# A job killed between fork and exec is still this shell, with its EXIT trap and the
	# handler bash runs it from on SIGTERM (the delay-0 kill below): only the script cleans.
	[ "$BASHPID" = "$$" ] || return 0
	for p in "${pids[@]}"; do
		kill -9 "$p" 2>/dev/null
		for ns in client router server; do
			ip netns del "iptrace-demo-$p-$ns" 2>/dev/null
		done
	done
	lab_cleanup
	rm -rf "$tmp"
}
trap cleanup EXIT

# The host's state the demo must not change (read only: nothing here creates a table).
host_state() {
	echo "links: $(ip -o link show | awk -F': ' '{ print $2 }' | sort | tr '\n' ' ')"
	echo "tables: $(sort /proc/net/ip_tables_names | tr '\n' ' ')"
	echo "tables6: $(sort /proc/net/ip6_tables_names 2>/dev/null | tr '\n' ' ')"
	for s in net/ipv4/ip_forward net/netfilter/nf_log/2 net/netfilter/nf_log/10 \
		net/ipv6/conf/all/disable_ipv6; do
		echo "$s: $(cat /proc/sys/$s 2>/dev/null)"
	done
	command -v nft >/dev/null && nft list ruleset 2>/dev/null | md5sum
}
# gone PID: no namespace and no process of that demo is left.
gone() {
	ip netns list | grep -q "^iptrace-demo-$1-" && fail "$2: namespaces of demo $1 left: $(ip netns list)"
	# The lab's children carry the parent's command line (a unique --duration) and die with it.
	pgrep -f -- "--duration $3" >/dev/null && fail "$2: processes left: $(pgrep -af -- "--duration $3")"
	return 0
}
host_state >"$tmp/host.before"

# The demo in JSON: two packets, query through DNAT and its reply.
"$IPTRACE" --demo --format json --duration 19.1 >"$tmp/out.json" 2>"$tmp/err" &
pid=$!; pids+=("$pid")
wait "$pid" || fail "--demo: exit $? ($(cat "$tmp/err"))"
grep -q "^iptrace: demo: client 10.0.1.2 → service 10.96.0.10:53, DNATed .* by router iptrace-demo-$pid-router to server 10.0.2.7:53" \
	"$tmp/err" || fail "no intro line: $(cat "$tmp/err")"
grep -q "tracing port 53 with the legacy marker" "$tmp/err" || fail "not a --port 53 capture: $(cat "$tmp/err")"
grep -q "^iptrace: demo: the client got an answer; lab removed$" "$tmp/err" ||
	fail "the client got no answer: $(cat "$tmp/err")"
[ "$(jq -s '[.[] | select(.type == "packet")] | length' "$tmp/out.json")" = 2 ] ||
	fail "want 2 packets: $(cat "$tmp/out.json")"
[ "$(tail -n 1 "$tmp/out.json" | jq -c '[.type, .packets, .lost]')" = '["summary",2,0]' ] ||
	fail "summary: $(tail -n 1 "$tmp/out.json")"
q=$(jq -c 'select(.type == "packet")' "$tmp/out.json" | sed -n 1p)
r=$(jq -c 'select(.type == "packet")' "$tmp/out.json" | sed -n 2p)
echo "$q" | jq -e '.proto == "udp" and .src == "10.0.1.2" and .dst == "10.96.0.10" and .dport == 53' \
	>/dev/null || fail "query header: $q"
path=$(echo "$q" | jq -r '[.steps[] | select(.table == "nat") | .chain] | join(" ")')
[ "${path#PREROUTING KUBE-SERVICES KUBE-SVC-DNS KUBE-SEP-DNS}" != "$path" ] ||
	fail "query's nat path: $path"
echo "$q" | jq -e '[.steps[] | select(.chain == "KUBE-SEP-DNS")][0] | .verdict == "DNAT" and .dst == "10.96.0.10"' \
	>/dev/null || fail "the DNAT rule step: $q"
echo "$q" | jq -e '[.steps[] | select(.table == "filter")][0] | .dst == "10.0.2.7" and .dport == 53 and
	.in == "r0" and .out == "r1"' >/dev/null || fail "after DNAT, towards the server: $q"
echo "$r" | jq -e --argjson sp "$(echo "$q" | jq .sport)" '.src == "10.0.2.7" and .sport == 53 and
	.dst == "10.0.1.2" and .dport == $sp and ([.steps[] | .in == "r1"] | all)' >/dev/null ||
	fail "reply: $r"
gone "$pid" "normal end" 19.1
pass "--demo: query through KUBE-SERVICES → KUBE-SVC-DNS → KUBE-SEP-DNS DNAT, and the reply"

# Text, as a normal capture prints it.
"$IPTRACE" --demo --duration 19.2 >"$tmp/out.txt" 2>"$tmp/err" || fail "text: exit $?"
[ "$(grep -c '^packet ' "$tmp/out.txt")" = 2 ] || fail "text: $(cat "$tmp/out.txt")"
grep -Eq '^packet 1  udp 10\.0\.1\.2:[0-9]+ → 10\.96\.0\.10:53 ' "$tmp/out.txt" || fail "text header"
grep -q 'dst 10.96.0.10:53 → 10.0.2.7:53' "$tmp/out.txt" || fail "text: DNAT not shown"
grep -q $'\033' "$tmp/out.txt" && fail "text: colour in a file"
grep -q '^iptrace: 2 packets, ' "$tmp/err" || fail "text summary: $(cat "$tmp/err")"
pass "--demo text output"

# While it runs: the lab exists, the host has no new link. Then SIGINT/SIGTERM end it cleanly.
n=0
for sig in INT TERM HUP; do
	n=$((n + 1))
	"$IPTRACE" --demo --port 9 --duration 19.3$n >/dev/null 2>"$tmp/err.$sig" &
	pid=$!; pids+=("$pid")
	wait_ready "$tmp/err.$sig"
	[ "$(ip netns list | grep -c "^iptrace-demo-$pid-")" = 3 ] || fail "lab not there while running"
	[ "$(host_state | head -n 1)" = "$(head -n 1 "$tmp/host.before")" ] ||
		fail "a link appeared in the host namespace: $(host_state | head -n 1)"
	kill -"$sig" "$pid"
	wait "$pid"; rc=$?
	[ "$rc" = 0 ] || fail "SIG$sig: exit $rc"
	gone "$pid" "SIG$sig" "19.3$n"
done
pass "running: lab in its namespaces only; SIGINT/SIGTERM/SIGHUP remove it"

# A signal at any moment of the build: the lab is removed, exit 0.
for delay in 0 0.005 0.01 0.02 0.04 0.07 0.1 0.15; do
	"$IPTRACE" --demo --port 9 --duration 19.4 >/dev/null 2>"$tmp/err" &
	pid=$!; pids+=("$pid")
	sleep "$delay"
	kill -TERM "$pid"
	wait "$pid"; rc=$?
	# 143: killed before main() set its handlers; then it had printed and built nothing.
	[ "$rc" = 0 ] || { [ "$rc" = 143 ] && [ ! -s "$tmp/err" ]; } ||
		fail "SIGTERM after ${delay}s: exit $rc ($(cat "$tmp/err"))"
	gone "$pid" "SIGTERM after ${delay}s" 19.4
done
pass "SIGTERM during the build"

# SIGKILL of iptrace: the lab's children die with it, its janitor deletes the namespaces,
# --cleanup removes the state file.
"$IPTRACE" --demo --port 9 --duration 19.5 >/dev/null 2>"$tmp/err.kill" &
killed=$!; pids+=("$killed")
wait_ready "$tmp/err.kill"
kill -KILL "$killed"; wait "$killed" 2>/dev/null
for i in $(seq 1 40); do
	ip netns list | grep -q "^iptrace-demo-$killed-" || break
	sleep 0.05
done
gone "$killed" "SIGKILL" 19.5
"$IPTRACE" --cleanup >"$tmp/cl" 2>&1 || fail "--cleanup: exit $?"
grep -q "iptrace:$killed: its network namespace is gone" "$tmp/cl" || fail "--cleanup: $(cat "$tmp/cl")"
pass "SIGKILL: lab removed by the janitor, state by --cleanup"

# SIGKILL of the whole process group, janitor included: the next demo removes the lab.
need_cmd setsid
setsid "$IPTRACE" --demo --port 9 --duration 19.7 >/dev/null 2>"$tmp/err.killall" &
killed=$!; pids+=("$killed")
wait_ready "$tmp/err.killall"
kill -KILL -- "-$killed"; wait "$killed" 2>/dev/null
sleep 0.2
[ "$(ip netns list | grep -c "^iptrace-demo-$killed-")" = 3 ] ||
	fail "group SIGKILL: expected its lab left: $(ip netns list)"
"$IPTRACE" --demo --duration 19.6 >/dev/null 2>"$tmp/err" || fail "demo after SIGKILL: exit $?"
for ns in router client server; do
	grep -q "removed namespace iptrace-demo-$killed-$ns left by a killed demo" "$tmp/err" ||
		fail "stale $ns not reported: $(cat "$tmp/err")"
done
gone "$killed" "group SIGKILL + next demo" 19.7
pass "SIGKILL of the whole group: the next demo removes the lab"

"$IPTRACE" --demo --netns foo >/dev/null 2>"$tmp/err"
[ $? = 2 ] && grep -q -- "--demo builds its own namespaces" "$tmp/err" || fail "--demo --netns: $(cat "$tmp/err")"

# Not root: one line that says so (it was ip(8)'s "mount --make-shared /run/netns failed"
# and a failed command), exit 1.
if command -v setpriv >/dev/null; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups "$IPTRACE" --demo >/dev/null 2>"$tmp/err"
	rc=$?
	[ "$rc" = 1 ] && [ "$(wc -l <"$tmp/err")" = 1 ] &&
		grep -q -- "--demo needs root" "$tmp/err" || fail "--demo as nobody: exit $rc: $(cat "$tmp/err")"
	pass "--demo as nobody: 'needs root', exit 1"
fi

host_state >"$tmp/host.after"
diff -u "$tmp/host.before" "$tmp/host.after" || fail "the host namespace changed"
pass "host links, tables, sysctls and nft ruleset unchanged"
