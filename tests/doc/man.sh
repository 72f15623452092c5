#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# man.sh: iptrace(8) says what --help says: the same synopsis (in the troff source and as man
# renders it), an item for every option of the options table and none that is gone, the
# exit codes, the version; and groff finds nothing to warn about.
set -u
. "$TESTS_LIB"
MAN=$(dirname "$IPTRACE")/../iptrace.8
[ -r "$MAN" ] || fail "no $MAN (make builds it from iptrace.8.in)"
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
"$IPTRACE" --help >"$tmp/help" || fail "--help: exit $?"

grep -n '@[A-Za-z_]*@' "$MAN" && fail "unsubstituted @VARIABLES@ in $MAN"

# The usage lines of --help, without "Usage: " and the indent.
sed -n '1,/^$/p' "$tmp/help" | sed -e '/^$/d' -e 's/^Usage: //' -e 's/^ *//' >"$tmp/usage"
[ "$(wc -l <"$tmp/usage")" -ge 2 ] || fail "cannot find the usage lines in --help"
# The SYNOPSIS of the troff source, font changes and escapes removed.
sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$MAN" | grep -v '^\.' |
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\&//g' -e 's/^ *//' >"$tmp/synopsis"
diff -u "$tmp/usage" "$tmp/synopsis" || fail "SYNOPSIS (troff source) differs from --help's usage"
pass "SYNOPSIS source equals --help"

if command -v man >/dev/null && command -v col >/dev/null; then
	MANWIDTH=200 MAN_KEEP_FORMATTING= man -l "$MAN" 2>"$tmp/man.err" | col -b >"$tmp/rendered" ||
		fail "man -l: $(cat "$tmp/man.err")"
	sed -n '/^SYNOPSIS/,/^[A-Z]/p' "$tmp/rendered" | sed -e '1d' -e '$d' -e '/^ *$/d' \
		-e 's/^ *//' -e 's/ *$//' -e 's/‐/-/g; s/−/-/g' >"$tmp/rsyn"
	diff -u "$tmp/usage" "$tmp/rsyn" || fail "SYNOPSIS (as man renders it) differs from --help"
	pass "SYNOPSIS rendered equals --help"
else
	echo "note: man or col missing, the rendered synopsis was not compared"
fi
if command -v groff >/dev/null; then
	groff -man -ww -z "$MAN" 2>"$tmp/groff.err"
	[ -s "$tmp/groff.err" ] && fail "groff warnings: $(cat "$tmp/groff.err")"
	pass "groff -ww: no warnings"
fi

# Every option of --help has an item (.TP, then the option on the tag line) in the page.
sed -nE 's/^ {2}(-[[:alnum:]]), (--[[:alnum:]-]+).*/\1 \2/p; s/^ {6}(--[[:alnum:]-]+).*/\1/p' \
	"$tmp/help" >"$tmp/opts"
[ "$(wc -l <"$tmp/opts")" -ge 20 ] || fail "cannot parse the options of --help"
awk '/^\.TP/ { getline; print }' "$MAN" | sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' >"$tmp/tags"
while read -r a b; do
	for o in $a ${b:-}; do
		grep -Eq -- "(^|[ \"])$o([ \",]|$)" "$tmp/tags" ||
			fail "option $o of --help has no item in iptrace(8)"
	done
done <"$tmp/opts"
pass "every option of --help is described"
# ... and every option item of SELECTORS and OPTIONS is one that --help still has.
sed -n '/^\.SH SELECTORS/,/^\.SH OUTPUT/p' "$MAN" | awk '/^\.TP/ { getline; print }' |
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' | grep -oE -- '--[[:alnum:]-]+' | sort -u >"$tmp/documented"
grep -oE -- '--[[:alnum:]-]+' "$tmp/opts" | sort -u >"$tmp/helpopts"
comm -23 "$tmp/documented" "$tmp/helpopts" >"$tmp/stale"
[ -s "$tmp/stale" ] && fail "iptrace(8) describes options --help does not have: $(cat "$tmp/stale")"
pass "no stale option items"

# Exit codes: the ones --help names, each an item of EXIT STATUS.
codes=$(grep -oE '[0-9] (normal end|runtime error|usage error)' "$tmp/help" | cut -c1 | tr -d '\n')
[ "$codes" = 012 ] || fail "--help's exit status line changed: $codes"
got=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$MAN" | awk '/^\.TP/ { getline; print $2 }' | tr -d '\n')
[ "$got" = "$codes" ] || fail "EXIT STATUS items '$got', --help has '$codes'"
for s in 'MARKER CHOICE' 'CRASH RECOVERY' 'THE DEMO' 'SYSTEMD UNIT' FILES EXAMPLES ENVIRONMENT \
	OUTPUT; do
	grep -q "^\.SH $s\$" "$MAN" || fail "no $s section"
done
sed -n '/^\.SH FILES/,/^\.SH /p' "$MAN" | grep -q '/run/iptrace' || fail "FILES lacks /run/iptrace"
grep -q -- '"type":"summary"' "$MAN" || fail "the JSON contract's summary is not shown"
version=$("$IPTRACE" --version | awk '{ print $2 }')
grep -q "^\.TH IPTRACE 8 .*\"iptrace $version\"" "$MAN" || fail ".TH does not carry version $version"
pass "sections, exit codes, version"
