#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# install.sh: `make install DESTDIR=...` puts the program, iptrace(8) and the bash completion
# where configure said, each identical to the built one and working; `make uninstall` takes
# every file away again. Run from the build tree (also inside make distcheck).
set -u
. "$TESTS_LIB"
need_cmd make
builddir=$(cd "$(dirname "$IPTRACE")/.." && pwd)
srcdir=$(cd "$(dirname "$TESTS_LIB")/.." && pwd)
[ -f "$builddir/Makefile" ] || skip "no Makefile in $builddir"
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
# A make of our own: not the jobserver of the make running this test.
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$builddir" "$@" DESTDIR="$dest" \
		>"$dest.log" 2>&1 || { cat "$dest.log" >&2; rm -f "$dest.log"; fail "make $*"; }
	rm -f "$dest.log"
}
mk install

# one PATTERN: the single installed file whose path matches PATTERN.
one() {
	local found
	found=$(cd "$dest" && find . -type f -path "$1" | sed 's|^\.||')
	[ -n "$found" ] || fail "nothing installed matching $1: $(cd "$dest" && find . -type f)"
	[ "$(echo "$found" | wc -l)" = 1 ] || fail "more than one file matches $1: $found"
	echo "$dest$found"
}
bin=$(one '*/sbin/iptrace')
[ -x "$bin" ] || fail "$bin is not executable"
[ "$("$bin" --version)" = "$("$IPTRACE" --version)" ] || fail "installed --version differs"
"$bin" --help >/dev/null || fail "installed iptrace --help: exit $?"
pass "program: ${bin#"$dest"}"

man=$(one '*/man8/iptrace.8')
cmp -s "$man" "$builddir/iptrace.8" || fail "installed man page differs from the built one"
if command -v man >/dev/null; then
	MANWIDTH=80 man -l "$man" 2>/dev/null | grep -q 'SYNOPSIS' || fail "man -l cannot render $man"
fi
pass "man page: ${man#"$dest"}"

compl=$(one '*completion*/iptrace')
cmp -s "$compl" "$srcdir/completion/iptrace" || fail "installed completion differs from the source"
bash -c ". '$compl' && complete -p iptrace" >/dev/null || fail "installed completion does not load"
pass "completion: ${compl#"$dest"}"

mk uninstall
left=$(cd "$dest" && find . -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
pass "uninstall removes every file"
