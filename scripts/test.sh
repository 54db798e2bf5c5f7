#!/usr/bin/env bash
# Installs what is missing, builds kat and its tests with warnings as errors, checks the
# formatting, and runs the whole test suite through CTest; then builds the suite again with
# AddressSanitizer and UndefinedBehaviorSanitizer and runs it there (any report fails a test).
#   KAT_SANITIZERS=0 scripts/test.sh    skips the sanitizer pass (quicker local runs)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs="$(nproc)"
cmake -S . -B build-tests -DCMAKE_BUILD_TYPE=Release -DKAT_WERROR=ON
cmake --build build-tests -j"$jobs"
scripts/check-format.sh
ctest --test-dir build-tests -j"$jobs" --output-on-failure
if [[ "${KAT_SANITIZERS:-1}" != 0 ]]; then
  echo "test.sh: the same suite under AddressSanitizer and UndefinedBehaviorSanitizer"
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAT_SANITIZE=ON -DKAT_WERROR=ON \
    -DKAT_BUILD_BENCH=OFF
  cmake --build build-sanitize -j"$jobs"
  # Not the install test: programs built against the sanitized libraries would need the sanitizers too.
  ctest --test-dir build-sanitize -j"$jobs" --output-on-failure -LE install
fi
