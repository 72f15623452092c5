# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/bench/common.sh: what the benchmark scripts share, sourced right after their
# `set -u`: the top of the tree as the working directory ($TOP), IPTRACE (default the
# build's), tests/lib.sh's lab and checks, usage and need_iptrace.
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
TOP=$PWD
: "${IPTRACE:=$TOP/src/iptrace}"
export TESTS_LIB=$TOP/tests/lib.sh
. "$TESTS_LIB"

# usage: the script's header comment (its second line up to `set -u`) as help; exit 2.
usage() {
	sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//; /^set -u/d'
	exit 2
}

# need_iptrace: skip without a built iptrace.
need_iptrace() {
	[ -x "$IPTRACE" ] || skip "no $IPTRACE: build first (make)"
}
