#!/usr/bin/env bash
# Kills a small `kat train` run with SIGKILL at random moments (checkpoint writes and start-up
# included) and checks after each kill that every checkpoint loads, that last.h5 holds the newest
# checkpoint written and that `kat train --resume` continues from it; at the end the run must equal
# an uninterrupted one bit for bit. Prints "N kills (...), M losses"; fails on any loss.
#   scripts/crash_test.sh                  20 kills
#   scripts/crash_test.sh --kills 100      more
#   scripts/crash_test.sh --seed 7         the same kill moments again (as far as timing allows)
# Other arguments go to the driver (tests/train/crash_test.cpp): --steps, --dir DIR (kept), --verbose.
# CTest runs a quick version (5 kills) as crash_safety_quick.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${KAT_BUILD:-build}"
[[ -f "$build/CMakeCache.txt" ]] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target kat crash_test >/dev/null
args=("$@")
[[ " ${args[*]} " == *" --kills "* ]] || args+=(--kills 20)
exec "$build/tests/crash_test" --kat "$build/bin/kat" --verbose "${args[@]}"
