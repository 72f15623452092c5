#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nft-listing.sh: reading nft rules never holds up the trace. A query every 10 ms crosses a
# kube-proxy-like nat table of 2,000 services (16,008 rules, iptables-nft-restore) while
# iptrace lists its chains — on the first packet, and again after each of two whole-table
# rewrites that move every KUBE-SERVICES handle to the next rule of the chain: each query
# is one packet with all its steps (none split, none merged), and no step names a rule the
# packet did not meet. The lab and the counting are scripts/bench/nft-big.sh's, at a size
# that runs in seconds.
source "$TESTS_LIB"
need_root
need_cmd iptables-nft-restore iptables-nft-save jq
T=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$T"' EXIT
IPTRACE=$IPTRACE "$SRCDIR/scripts/bench/nft-big.sh" -g -s 2000 -r 2 -i 10 >"$T/out" 2>&1
rc=$?
[ $rc = 77 ] && skip "$(cat "$T/out")"
[ $rc = 0 ] || fail "nft-big.sh failed ($rc): $(cat "$T/out")"
cat "$T/out"
read -r _ steps _ resolved _ unresolved _ wrong < <(grep '^steps ' "$T/out")
read -r _ packets _ split _ merged _ queries _ < <(grep '^packets ' "$T/out")
[ -n "$wrong" ] && [ -n "$merged" ] || fail "no counts in: $(cat "$T/out")"
[ "$wrong" = 0 ] || fail "$wrong nat step(s) name a rule the packet did not meet"
pass "no wrong rule in $steps nat steps ($resolved resolved, $unresolved null)"
[ "$split" = 0 ] || fail "$split query(ies) printed as more than one packet, or without their first step"
[ "$merged" = 0 ] || fail "$merged packet(s) hold more than one query"
# Queries that cross while a rewrite swaps the table meet no nat chain (only iptrace's own
# table, whose steps are not shown): a few per rewrite are no packet at all.
[ "$packets" -ge $((queries * 9 / 10)) ] || fail "only $packets packets for $queries queries"
pass "$packets packets for $queries queries, each whole"
[ "$resolved" -ge $((steps * 3 / 4)) ] || fail "only $resolved of $steps nat steps resolved"
pass "$resolved of $steps nat steps resolved"
