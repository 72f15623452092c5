#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# scripts/fuzz.sh: the long fuzzing run — every harness for SECONDS, corpus kept between runs
# Usage: scripts/fuzz.sh [SECONDS] [HARNESS...]   (default 3600 s; every harness)
# Run from a configured tree (./configure found clang with libFuzzer). The corpus grows in
# tests/fuzz/corpus/NAME (ignored by git); crash inputs land in tests/fuzz/artifacts/, each
# harness's libFuzzer output in tests/fuzz/artifacts/logs/NAME.log. Copy a
# crash input into tests/fuzz/regress/NAME with its fix, so `make check` replays it for good.
# The harnesses run side by side, as many as there are cores (FUZZ_JOBS to change that).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-3600}
shift || true
harnesses=${*:-nflog pkt logline nftrace ct natlog read merge replay journal savetext state options}
case $seconds in
	''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS] [HARNESS...]" >&2; exit 2;;
esac
[ -f Makefile ] || { echo "fuzz: configure the tree first (./configure)" >&2; exit 1; }

targets="tests/fuzz/seeds src/iptrace"	# iptrace: its own --nat-log text seeds fuzz_natlog
for h in $harnesses; do
	targets="$targets tests/fuzz/fuzz_$h"
done
make -j"$(nproc)" $targets

export FUZZ_BIN_DIR="$PWD/tests/fuzz"
export TESTS_LIB="$PWD/tests/lib.sh"
export TEST_DATA_DIR="$PWD/tests/data"
export IPTRACE="$PWD/src/iptrace"
export FUZZ_TIME="$seconds"
export FUZZ_HARNESSES="$harnesses"
export FUZZ_CORPUS_DIR="${FUZZ_CORPUS_DIR:-$PWD/tests/fuzz/corpus}"
export FUZZ_LOG_DIR="${FUZZ_LOG_DIR:-$PWD/tests/fuzz/artifacts/logs}"
export FUZZ_JOBS="${FUZZ_JOBS:-$(nproc)}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
echo "fuzz: $harnesses for ${seconds}s each, corpus in $FUZZ_CORPUS_DIR"
exec tests/fuzz/run.sh
