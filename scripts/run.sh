#!/usr/bin/env bash
# The default job: installs what is missing, builds kat, prepares the Bible corpus from Debian's
# SWORD modules, trains three small character-level language models (softmax, linear and
# Performer attention) and prints their comparison (runs/lm-tiny/comparison.md).
#   scripts/run.sh                     the small comparison (under 10 minutes on 2 cores)
#   scripts/run.sh configs/lm/*.yaml   any set of experiments of one task
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --sword
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKAT_BUILD_TESTS=OFF -DKAT_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)"
build/bin/kat --version
if [[ $# -eq 0 ]]; then
  set -- configs/lm-tiny/softmax.yaml configs/lm-tiny/linear.yaml configs/lm-tiny/performer.yaml
fi
if grep -qs "corpora/bible-spm/" "$@"; then
  [[ -f corpora/bible-spm/en-es.train.h5 ]] || build/bin/kat prepare bible corpora/bible-spm --tokenizer spm --vocab 8000
fi
if grep -qs "corpora/bible/" "$@"; then
  [[ -f corpora/bible/en.train.h5 ]] || build/bin/kat prepare bible corpora/bible
fi
build/bin/kat compare "$@"
