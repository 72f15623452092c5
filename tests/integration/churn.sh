#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# churn.sh: under kube-proxy-like churn (the whole nat table rewritten every 0.3 s, one
# KUBE-SERVICES rule more or less at its head, so every rule number shifts), no step names
# a rule the packet did not meet, and most KUBE-SERVICES steps still name theirs. The truth
# and the counting are scripts/bench/churn.sh's, at a size that runs in seconds.
source "$TESTS_LIB"
need_root
need_cmd iptables-legacy-restore iptables-legacy-save jq
T=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$T"' EXIT
CHURN_KEEP=$T IPTRACE=$IPTRACE "$SRCDIR/scripts/bench/churn.sh" -d 12 300:0.3 > "$T/table" \
	2> "$T/err"
rc=$?
[ $rc = 77 ] && skip "$(cat "$T/err")"
[ $rc = 0 ] || fail "churn.sh failed ($rc): $(cat "$T/err")"
cat "$T/table"
read -r services rules period steps ok nulls wrong pct split rest < <(tail -1 "$T/table")
[ "$services" = 300 ] || fail "no result row: $(cat "$T/table" "$T/err")"
[ "$wrong" = 0 ] || fail "$wrong step(s) name a rule the packet did not meet: $(cat "$T/err")"
pass "no wrong rule in $steps KUBE-SERVICES steps ($ok resolved, $nulls null)"
[ "$split" = 0 ] || fail "$split packet(s) without their first step (raw PREROUTING): split?"
pass "no packet split"
# The churn really moved the numbers under the packets: both versions were met.
for k in 151 152; do
	grep -q $'\tnat\tKUBE-SERVICES\trule\t'"$k"$'\t' "$T/churn-300.tsv" ||
		fail "no packet met KUBE-SERVICES rule $k: the churn did not shift the numbers"
done
pass "packets met both versions (rule 151 and 152)"
[ "$steps" -ge 40 ] || fail "only $steps KUBE-SERVICES steps in 9 s of queries"
[ "$ok" -ge $((steps / 2)) ] || fail "only $ok of $steps KUBE-SERVICES steps resolved"
pass "$ok of $steps resolved"
