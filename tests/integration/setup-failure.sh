#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# setup-failure.sh: set-up fails half-way — the legacy marker's rules are in and the logger
# is bound when the second marker (nft) can't be installed — and everything done so far is
# undone: exit 1, one clear message, the firewall and nf_log exactly as before.
set -u
. "$TESTS_LIB"
need_root
need_cmd iptables-legacy nft
tmp=$(mktemp -d)
trap 'lab_cleanup; rm -rf "$tmp"' EXIT
N="$NS_PREFIX-f"
ns_add "$N"
# Legacy tables in use and an nf_tables base chain: auto picks legacy+nft.
ip netns exec "$N" iptables-legacy -w -t raw -A PREROUTING -p tcp --dport 9 -j ACCEPT
ip netns exec "$N" nft add table inet keep
ip netns exec "$N" nft add chain inet keep c '{ type filter hook input priority 0; }'
snapshot "$N" >"$tmp/before"

# The nft marker creates inet iptrace_<pid> exclusively: a table of that name, made by the
# shell that then execs iptrace (same pid), makes that second step fail.
ip netns exec "$N" bash -c 'nft add table inet "iptrace_$$" &&
	exec "$0" --port 53 --duration 5' "$IPTRACE" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" = 1 ] || fail "exit $rc, want 1: $(cat "$tmp/err")"
grep -q "cannot install the trace rules: .*iptrace_.*already exists" "$tmp/err" ||
	fail "no clear message: $(cat "$tmp/err")"
# Only the foreign table of that name remains: drop it, then compare with before.
leftover=$(ip netns exec "$N" nft list tables | awk '/iptrace_/ { print $3 }')
[ -n "$leftover" ] || fail "the pre-made table vanished: iptrace deleted a table not its own"
ip netns exec "$N" nft delete table inet "$leftover"
snapshot "$N" >"$tmp/after"
diff "$tmp/before" "$tmp/after" || fail "a failed set-up left the namespace changed"
ls "$IPTRACE_STATE_DIR"/*.state >/dev/null 2>&1 && fail "a state file was left"
pass "half-way set-up failure undone: legacy rules removed, nf_log restored, foreign table kept"
