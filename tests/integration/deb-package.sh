#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# deb-package.sh: scripts/deb-test.sh under make check: the Debian package builds from the
# tree (in a copy), has no lintian error, installs, runs --demo from /usr/sbin, and purges
# without a trace, undoing a capture killed with SIGKILL on the way.
set -u
. "$TESTS_LIB"
need_root
trap lab_cleanup EXIT
bash "$SRCDIR/scripts/deb-test.sh" "$SRCDIR"
rc=$?
[ "$rc" = "$SKIP" ] && skip "scripts/deb-test.sh cannot run here (its SKIP line says why)"
[ "$rc" = 0 ] || fail "scripts/deb-test.sh: exit $rc"
pass "the package builds, installs, runs the demo and purges clean"
