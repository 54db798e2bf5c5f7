#!/usr/bin/env bash
# Installs what is missing, builds kat (Release) and runs the default job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
export OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKAT_BUILD_TESTS=OFF -DKAT_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)"
build/bin/kat --version
build/bin/kat demo "$@"
