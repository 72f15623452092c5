#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# completion.sh: source completion/iptrace and complete a few command lines through
# COMP_WORDS/COMP_CWORD and _iptrace: options as --help lists them (and the fallback list
# in the file equal to --help), --format/--backend choices, `ip netns list` names (a stub ip
# on PATH, and a real namespace when root), interfaces, files, --opt=value.
set -u
. "$TESTS_LIB"
COMPL=$(dirname "$TESTS_LIB")/../completion/iptrace
[ -r "$COMPL" ] || fail "no $COMPL"
tmp=$(mktemp -d)
realns=
trap '[ -n "$realns" ] && ip netns del "$realns" 2>/dev/null; lab_cleanup; rm -rf "$tmp"' EXIT
# shellcheck source=/dev/null
. "$COMPL"
complete -p iptrace >/dev/null || fail "sourcing did not register a completion for iptrace"
"$IPTRACE" --help >"$tmp/help" || fail "--help: exit $?"

# comp CMD WORD...: complete the last WORD; prints the candidates sorted, one a line.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_iptrace "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort
}
# want WHAT GOT WANT
want() {
	[ "$2" = "$3" ] || fail "$1:
  got:  $(echo $2)
  want: $(echo $3)"
	pass "$1"
}

# Options: exactly the long options of --help (and the short ones for "-").
help_long=$(grep -oE -- '^ +(-[[:alnum:]], )?--[[:alnum:]-]+' "$tmp/help" | grep -oE -- '--[[:alnum:]-]+' | sort)
[ "$(echo "$help_long" | wc -l)" -ge 20 ] || fail "cannot parse --help"
want "options from --help" "$(comp "$IPTRACE" --)" "$help_long"
want "--for" "$(comp "$IPTRACE" --port 53 --for)" "--format"
help_short=$(grep -oE -- '^  -[[:alnum:]],' "$tmp/help" | tr -d ' ,' | sort)
want "short options" "$(comp "$IPTRACE" - | grep -v -- '^--')" "$help_short"
# The fallback list (iptrace not runnable) is --help's table.
_iptrace_table "$IPTRACE" | sed 's/ *$//' >"$tmp/table"
printf '%s\n' "$_iptrace_fallback" | sed 's/ *$//' >"$tmp/fallback"
diff -u "$tmp/table" "$tmp/fallback" || fail "the fallback list in $COMPL differs from --help"
want "fallback options" "$(comp /nonexistent/iptrace --)" "$help_long"

# Choices, as --help writes them after the option.
for opt in --format --backend --color; do
	choices=$(grep -oE -- "$opt [a-z|]+" "$tmp/help" | head -n 1 | cut -d' ' -f2 | tr '|' '\n' | sort)
	[ -n "$choices" ] || fail "no choices for $opt in --help"
	want "$opt choices" "$(comp "$IPTRACE" --port 53 "$opt" '')" "$choices"
done
want "--format=j" "$(comp "$IPTRACE" --format = j)" "$(grep -oE -- '--format [a-z|]+' "$tmp/help" |
	cut -d' ' -f2 | tr '|' '\n' | grep '^j' | sort)"
want "--port takes a number: nothing" "$(comp "$IPTRACE" --port '')" ""
# --proto: the names iptrace(8) lists, each one iptrace takes; after a comma, the next.
man_protos=$(sed -n '/^\.BI \\-\\-proto /,/^\.TP/p' "$(dirname "$IPTRACE")/../iptrace.8" |
	sed -nE 's/^\.BR ([a-z0-9]+)( ,)?$/\1/p' | sort)
[ "$(echo "$man_protos" | wc -l)" -ge 10 ] || fail "cannot read --proto's names in iptrace(8)"
want "--proto names" "$(comp "$IPTRACE" --proto '')" "$man_protos"
for p in $man_protos; do
	"$IPTRACE" --read - --proto "$p" </dev/null 2>/dev/null || fail "--proto $p offered, refused"
done
want "--proto tcp,ud" "$(comp "$IPTRACE" --proto tcp,ud)" "$(printf '%s\n' tcp,udp tcp,udplite)"

# --netns: the names `ip netns list` prints (with its "(id: N)" suffix dropped).
mkdir "$tmp/bin"
printf '#!/bin/sh\n[ "$1 $2" = "netns list" ] && printf "%%s\\n" "blue (id: 3)" "green" "black (id: 0)"\n' \
	>"$tmp/bin/ip"
chmod +x "$tmp/bin/ip"
want "--netns names (stub ip)" "$(PATH="$tmp/bin:$PATH" comp "$IPTRACE" --netns '')" \
	"$(printf '%s\n' black blue green)"
want "--netns b" "$(PATH="$tmp/bin:$PATH" comp "$IPTRACE" --port 53 --netns bl)" \
	"$(printf '%s\n' black blue)"
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns add "ipt-compl-$$" 2>/dev/null; then
	realns="ipt-compl-$$"
	comp "$IPTRACE" --netns "ipt-compl-" | grep -qx "$realns" || fail "--netns: $realns not offered"
	pass "--netns with a real namespace"
else
	echo "note: not root or no namespaces: the real 'ip netns list' was not tried"
fi

# --iface / -i: /sys/class/net.
want "-i" "$(comp "$IPTRACE" -i '')" "$(ls /sys/class/net | sort)"
want "--iface l" "$(comp "$IPTRACE" --iface l)" "$(ls /sys/class/net | grep '^l' | sort)"

# Files.
mkdir "$tmp/files"
touch "$tmp/files/trace-a.log" "$tmp/files/trace-b.nlrec" "$tmp/files/other"
cd "$tmp/files" || fail "cd"
for opt in --read --replay --output -o --record --nat-table; do
	want "$opt files" "$(comp "$IPTRACE" "$opt" tr)" "$(printf '%s\n' trace-a.log trace-b.nlrec)"
done
want "--nat-table then an option" "$(comp "$IPTRACE" --nat-table --al)" "--all"
