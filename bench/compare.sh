#!/usr/bin/env bash
# kat against PyTorch on every case of the performance targets, in one run, printing one Markdown
# table (bench/compare.py): SGEMM ceiling on 1 and 2 threads; training step of the reference
# char-LM (tokens/s, GEMM FLOP/s, peak memory, heap allocations per step) for softmax B16 N256 and
# softmax, linear and Performer B4 N1024; generation ms/token at 256, 1024, 4096 and 16384.
# Builds what it needs (Release), installs the PyTorch peer if missing (scripts/install-deps.sh
# --bench, non-interactive), alternates kat and PyTorch, 5 fresh processes each per case.
# Run it on an idle machine: about 6 minutes on 2 cores (estimated; bench/RESULTS.md section 8.3).
#
#   bench/compare.sh [--build DIR] [--rounds 5] [--steps 3] [--threads 2] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."

build=build
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --rounds|--steps|--threads) args+=("$1" "$2"); shift 2 ;;
    --quick) args+=("$1"); shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

# OpenBLAS kernels: kat chooses the best for this CPU (a set OPENBLAS_CORETYPE wins); PyTorch gets the same.
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null || [[ ! -d /usr/lib/x86_64-linux-gnu/openblas-openmp ]]; then
  scripts/install-deps.sh --bench
fi
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target sgemm train_step generation >/dev/null
exec /usr/bin/python3 bench/compare.py --build "$build" "${args[@]}"
