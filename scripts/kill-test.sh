#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/kill-test.sh: the full kill test (default 250 runs); make check runs a short one.
# Usage: scripts/kill-test.sh [RUNS]   (as root, after building)
cd "$(dirname "$0")/.." || exit 1
KILL_RUNS=${1:-250} IPTRACE="$PWD/src/iptrace" TESTS_LIB="$PWD/tests/lib.sh" \
	exec bash tests/integration/kill.sh
