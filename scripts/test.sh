#!/usr/bin/env bash
# Installs what is missing, builds kat and its tests with warnings as errors, checks the
# formatting, and runs the whole test suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}"
jobs="$(nproc)"
cmake -S . -B build-tests -DCMAKE_BUILD_TYPE=Release -DKAT_WERROR=ON
cmake --build build-tests -j"$jobs"
scripts/check-format.sh
ctest --test-dir build-tests -j"$jobs" --output-on-failure
