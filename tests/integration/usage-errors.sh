#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# usage-errors.sh: every bad input is refused with exit 2, one clear line on stderr, nothing
# on stdout, nothing installed and nothing changed (checked inside a namespace of our own).
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy
trap lab_cleanup EXIT
N="$NS_PREFIX-u"
ns_add "$N"
ip netns exec "$N" iptables-legacy -w -t raw -A PREROUTING -p tcp --dport 9 -j ACCEPT
ip netns exec "$N" iptables-legacy -w -t nat -A PREROUTING -p udp --dport 53 -j ACCEPT
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
snapshot "$N" >"$tmp/before"

# Each line: arguments, then a word the message must contain (| separated).
cases=$(cat <<'EOC'
--port 0|port
--port 65536|port
--port abc|port
--port 90-80|reversed
--dport 0|port
--sport 70000|port
--dest 1.2.3|address
--dest 10.1|address
--dest 10.0.0.0/33|prefix
--dest ::g|address
--src 300.1.1.1|address
--host 10.0.0.0/|prefix
--proto foo|protocol
--proto 256|protocol
--proto icmp --port 53|port
-i nosuch0 --port 53|interface
-4 --dest 2001:db8::1|IPv6
-6 --dest 10.0.0.1|IPv4
--port 53 --count 0|count
--port 53 --count -3|count
--port 53 --count 1x|count
--port 53 --duration 0|duration
--port 53 --duration -1|duration
--port 53 --duration soon|duration
--port 53 --format xml|format
--port 53 --backend iptables|backend
--port 53 --window 0|window
--port 53 --wait -1|wait
--port 53 --wait soon|wait
--port 53 -w 1x|wait
--port 53 --color sometimes|colour
--port 53 --mark zz|mark
--port 53 --limit fast|rate
--port 53 --bogus|unknown option '--bogus'
-Z --port 53|unknown option '-Z'
--port 53 -vZ|unknown option '-Z'
--port 53 --list=1|option '--list' takes no argument
--port|needs an argument
--port 53 -4c|option '-c' needs an argument
--port 53 extra|unexpected argument
|no selector
--count 1|no selector
--host 10.0.0.1 --dest 10.0.0.2|--host
--netns no-such-netns-$$ --port 53|no such namespace
--netns /etc/passwd --port 53|not a network namespace
--dest no-such-host.invalid|cannot resolve
--merge|needs FILE
--merge a.json --limit 1/s|--limit is for the marker
--merge a.json --node n1|no --node
--merge a.json --format log|log
--merge a.json --no-group|no-group
--merge a.json --skew soon|skew
--port 53 --skew 100|--skew goes with --merge
--dest 0x7f.1|invalid address
--read a.log --replay b.nlrec|--replay can't be combined with --read
--cleanup --read a.log|--read can't be combined with --cleanup
--demo --read a.log|--read can't be combined with --demo
--nat-table --list|--list can't be combined with --nat-table
--cleanup --nat-log|--nat-log can't be combined with --cleanup
--read a.log --limit 1/s|--limit is for the marker
--replay a.nlrec --limit 1/s|--limit is for the marker
--replay a.nlrec -4 --dest 2001:db8::1|-4 given with an IPv6
--cleanup --port 53|no selectors
--list --host 10.0.0.1|no selectors
--read a.log --record r.nlrec|--record
--nat-table --record r.nlrec|--record
--nat-log --replay a.nlrec --record r.nlrec|--record
--list --record r.nlrec|--record
--port 53 --limit 10/fortnight|rate
--port 53 -4 -6|exclude each other
--port 53 -6 --ipv4|exclude each other
EOC
)
n=0
while IFS='|' read -r args want; do
	n=$((n + 1))
	# A case wrongly taken for a capture ends by the timeout (SIGTERM, exit 0): a failure.
	# shellcheck disable=SC2086
	timeout 20 ip netns exec "$N" "$IPTRACE" -o "$tmp/out.$n" $args >"$tmp/stdout" \
		2>"$tmp/stderr"
	rc=$?
	[ "$rc" = 2 ] || fail "'$args': exit $rc, want 2 ($(cat "$tmp/stderr"))"
	lines=$(wc -l <"$tmp/stderr")
	[ "$lines" -ge 1 ] && [ "$lines" -le 3 ] || fail "'$args': $lines lines on stderr"
	grep -qi -- "$want" "$tmp/stderr" || fail "'$args': message lacks '$want': $(cat "$tmp/stderr")"
	grep -q '^iptrace: ' "$tmp/stderr" || fail "'$args': message not prefixed"
	[ -s "$tmp/stdout" ] && fail "'$args': wrote to stdout"
	[ -e "$tmp/out.$n" ] && fail "'$args': created the output file"
done <<<"$cases"
snapshot "$N" >"$tmp/after"
diff "$tmp/before" "$tmp/after" || fail "a refused command changed the namespace"
pass "$n bad inputs refused with exit 2, one line, nothing changed"

# --help and --version need no selector and succeed.
"$IPTRACE" --help | grep -q '^Usage: iptrace' || fail "--help"
"$IPTRACE" --version | grep -Eq '^iptrace [0-9]+\.[0-9]+' || fail "--version"
pass "--help, --version"
