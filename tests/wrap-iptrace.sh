#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# tests/wrap-iptrace.sh: run the real iptrace under $IPTRACE_WRAPPER (set up by tests/lib.sh)
# IPTRACE_WRAPPER is split into words on purpose: "valgrind --error-exitcode=99 ...".
# shellcheck disable=SC2086
exec $IPTRACE_WRAPPER "$IPTRACE_REAL" "$@"
