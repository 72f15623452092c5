#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# systemd-unit.sh: the capture unit and its timer pass `systemd-analyze verify`, and the
# unit's exposure by `systemd-analyze security --offline=yes` is at most 2.0.
set -u
. "$TESTS_LIB"
unit=$(dirname "$IPTRACE")/../systemd/iptrace@.service
timer=$SRCDIR/systemd/iptrace@.timer
max_exposure=2.0
# Not a skip: systemd-analyze is a test dependency that scripts/setup.sh installs.
command -v systemd-analyze >/dev/null ||
	fail "systemd-analyze is missing: install the 'systemd' package (scripts/setup.sh)"
[ -f "$unit" ] || fail "$unit was not built"
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT

# verify wants the commands to exist: point the unit's iptrace at the one just built.
bin=$(sed -n 's|^ExecStopPost=\([^ ]*\) .*|\1|p' "$unit")
[ -n "$bin" ] || fail "no ExecStopPost= line in $unit"
sed "s|$bin|$IPTRACE|g" "$unit" >"$tmp/iptrace@.service"
cp "$timer" "$tmp/iptrace@.timer"
grep -q "^ExecStopPost=$IPTRACE --cleanup$" "$tmp/iptrace@.service" ||
	fail "ExecStopPost= does not run iptrace --cleanup"
# The state the cleanup reads is the directory systemd keeps for it.
grep -q '^Environment=.*IPTRACE_STATE_DIR=%t/iptrace/%i' "$unit" &&
	grep -q '^RuntimeDirectory=iptrace/%i$' "$unit" &&
	grep -q '^RuntimeDirectoryPreserve=yes$' "$unit" ||
	fail "the state directory and RuntimeDirectory= disagree"

(cd "$tmp" && systemd-analyze verify --man=no iptrace@dns.service iptrace@dns.timer) \
	>"$tmp/verify" 2>&1
rc=$?
cat "$tmp/verify"
[ "$rc" = 0 ] && [ ! -s "$tmp/verify" ] || fail "systemd-analyze verify is not clean (rc $rc)"
pass "systemd-analyze verify: clean"

(cd "$tmp" && systemd-analyze security --offline=yes --no-pager iptrace@dns.service) \
	>"$tmp/security" 2>&1 || true
grep -v '✓' "$tmp/security"
score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$tmp/security")
[ -n "$score" ] || fail "no exposure level in systemd-analyze security's output"
awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' ||
	fail "exposure $score is above $max_exposure"
pass "systemd-analyze security: exposure $score (at most $max_exposure)"
