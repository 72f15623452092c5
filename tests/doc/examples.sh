#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# examples.sh: the README's examples that need no root print what the README shows: the
# --merge of tests/data's two nodes, line for line, its messages on stderr included; and
# the summary counts what --count left open, in text as in JSON.
set -u
. "$TESTS_LIB"
DATA=${TEST_DATA_DIR:-$SRCDIR/tests/data}
README=$SRCDIR/README.md
[ -r "$README" ] || fail "no $README"
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# The README's console block after "$ iptrace --merge a.json b.json", to its end.
sed -n '/^\$ iptrace --merge a\.json b\.json$/,/^```$/p' "$README" | sed '1d;$d' >"$tmp/shown"
[ "$(grep -c '^packet ' "$tmp/shown")" = 2 ] || fail "cannot find the --merge example in README.md"
grep -v '^iptrace: ' "$tmp/shown" >"$tmp/shown.out"
grep '^iptrace: ' "$tmp/shown" >"$tmp/shown.err"
"$IPTRACE" --merge "$DATA/merge-node-a.json" "$DATA/merge-node-b.json" >"$tmp/out" 2>"$tmp/err" ||
	fail "--merge: exit $? ($(cat "$tmp/err"))"
diff -u "$tmp/shown.out" "$tmp/out" || fail "README's --merge example differs from the output"
diff -u "$tmp/shown.err" "$tmp/err" || fail "README's --merge example differs from the messages"
pass "README's --merge example is what --merge prints"

# kernel-trace.nlrec: when its first packet completes, the records of 3 others are in.
"$IPTRACE" --replay "$DATA/kernel-trace.nlrec" --count 1 >/dev/null 2>"$tmp/err" ||
	fail "--replay --count 1: exit $? ($(cat "$tmp/err"))"
grep -qx 'iptrace: 3 open packets dropped at --count' "$tmp/err" ||
	fail "the text summary does not count the packets --count dropped: $(cat "$tmp/err")"
"$IPTRACE" --replay "$DATA/kernel-trace.nlrec" --count 1 --format json >"$tmp/json" ||
	fail "--replay --count 1 --format json: exit $?"
tail -n 1 "$tmp/json" | grep -q '"dropped":3,' || fail "JSON summary: $(tail -n 1 "$tmp/json")"
pass "--count: 3 open packets dropped, said in text and JSON"
