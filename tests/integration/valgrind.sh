#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# valgrind.sh: iptrace under valgrind — replay and --read in every format, then the --read
# fixture test and the live legacy capture test with every iptrace run through valgrind.
# Any valgrind error (invalid read/write, uninitialised value, definite or indirect leak)
# fails the run, also where the test only looks at the exit code.
set -u
source "$TESTS_LIB"
need_cmd valgrind jq
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/iptrace-vg.XXXXXX")
trap 'rm -rf "$tmp"; lab_cleanup' EXIT
# legacy-trace.sh also runs iptrace as nobody: the logs must be writable by anyone.
mkdir -m 1777 "$tmp/vg" && chmod 755 "$tmp" || fail "cannot create $tmp/vg"

export IPTRACE_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full \
--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
--log-file=$tmp/vg/vg.%p.log"
# Let lib.sh (sourced again by the child tests) wrap IPTRACE; this script too.
IPTRACE_REAL=
source "$TESTS_LIB"
[ -x "$IPTRACE_REAL" ] || fail "no iptrace at '$IPTRACE_REAL'"

# vg_clean WHAT: no valgrind report since the last call. Not a report: valgrind (3.19) not
# knowing Landlock's calls (444-446): it answers ENOSYS, and iptrace then confines nothing,
# as on a kernel without Landlock; the five lines of that warning are dropped.
vg_clean() {
	local f bad=0
	for f in "$tmp"/vg/vg.*.log; do
		[ -e "$f" ] || continue
		awk '/WARNING: unhandled amd64-linux syscall: 44[456]$/ { skip = 5 }
			skip > 0 { skip--; next } { print }' "$f" >"$f.kept" && mv "$f.kept" "$f"
		if [ -s "$f" ]; then
			echo "valgrind ($1):" >&2
			cat "$f" >&2
			bad=1
		fi
		rm -f "$f"
	done
	[ "$bad" = 0 ] || fail "valgrind reported errors in $1"
}

runs=0
# Recorded netlink bytes and kernel lines, every format, grouped and not.
for f in "$TEST_DATA_DIR"/*.nlrec; do
	# Conntrack recordings are NAT logs: replayed with --nat-log (its formats: text, json).
	case $(basename "$f") in
	ct-*)
		for fmt in json text; do
			"$IPTRACE" --nat-log --all --replay "$f" --format "$fmt" >"$tmp/out" 2>"$tmp/err" ||
				fail "--nat-log --replay $(basename "$f"): exit $? ($(cat "$tmp/err"))"
			[ -s "$tmp/out" ] || fail "--nat-log --replay $(basename "$f"): no output"
			runs=$((runs + 1))
		done
		continue ;;
	esac
	for fmt in json text log; do
		for ng in "" --no-group; do
			"$IPTRACE" --replay "$f" --format "$fmt" $ng >"$tmp/out" 2>"$tmp/err" ||
				fail "--replay $(basename "$f") --format $fmt $ng: exit $? ($(cat "$tmp/err"))"
			[ -s "$tmp/out" ] || fail "--replay $(basename "$f") --format $fmt: no output"
			runs=$((runs + 1))
		done
	done
done
for fmt in json text log; do
	"$IPTRACE" --read "$TEST_DATA_DIR/kernel-trace.log" --format "$fmt" --count 3 \
		>"$tmp/out" 2>"$tmp/err" || fail "--read --format $fmt: exit $? ($(cat "$tmp/err"))"
	runs=$((runs + 1))
done
"$IPTRACE" --replay /dev/null >/dev/null 2>&1	# not a recording: an error, still clean
runs=$((runs + 1))
vg_clean "replay and read"
pass "$runs replay/read runs clean"

# The existing tests, unchanged, with every "$IPTRACE" under valgrind.
for t in read-fixture legacy-trace; do
	bash "$here/$t.sh" >"$tmp/$t.out" 2>&1
	rc=$?
	if [ "$rc" != 0 ]; then
		cat "$tmp/$t.out" >&2
		[ "$rc" = 77 ] && skip "$t.sh skipped"
		vg_clean "$t.sh"
		fail "$t.sh under valgrind: exit $rc"
	fi
	vg_clean "$t.sh"
	pass "$t.sh under valgrind ($(grep -c '^PASS' "$tmp/$t.out") checks)"
done
