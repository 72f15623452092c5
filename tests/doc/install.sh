#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# install.sh: `make install DESTDIR=...` puts the program, iptrace(8), the bash completion,
# the example conf and the systemd units where configure said, each identical to the built
# one and pointing at the others; `make uninstall` takes every file away again. Run from the build tree (also inside make distcheck).
set -u
. "$TESTS_LIB"
need_cmd make
builddir=$(cd "$(dirname "$IPTRACE")/.." && pwd)
srcdir=$(cd "$(dirname "$TESTS_LIB")/.." && pwd)
[ -f "$builddir/Makefile" ] || skip "no Makefile in $builddir"
dest=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$dest"' EXIT
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

if [ -f "$srcdir/systemd/iptrace@.service.in" ]; then
	conf=$(one '*/iptrace/dns.conf.example')
	cmp -s "$conf" "$srcdir/systemd/dns.conf.example" || fail "installed example conf differs"
	pass "example conf: ${conf#"$dest"}"
	# The units are installed unless configure was told --with-systemdsystemunitdir=no.
	if grep -q '^nodist_systemdsystemunit_DATA = ' "$builddir/Makefile"; then
		unit=$(one '*/iptrace@.service')
		one '*/iptrace@.timer' >/dev/null
		grep -q "^ExecStart=${bin#"$dest"} " "$unit" ||
			fail "the unit does not start the installed program: $(grep ExecStart "$unit")"
		confdir=${conf#"$dest"}
		grep -q "^EnvironmentFile=${confdir%/dns.conf.example}/%i.conf" "$unit" ||
			fail "the unit does not read the installed conf directory"
		pass "units: ${unit#"$dest"} (+ timer), ExecStart and EnvironmentFile match"
	fi
fi

mk uninstall
left=$(cd "$dest" && find . -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
pass "uninstall removes every file"
