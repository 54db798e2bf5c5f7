#!/usr/bin/env bash
# Data-parallel scaling on one host: tokens/s of the same training run as one process with all the
# cores as threads, and as P MPI ranks with a share of the cores each (threads x ranks = cores, so
# nothing is oversubscribed). The model is a synthetic-data language model large enough that a
# step is mostly matrix products; the figure is the mean tokens/s of the logged intervals after the
# first (start-up and the first steps' allocations left out).
#
#   bench/scaling.sh                      # 1 x 2 threads against 2 x 1 thread, 60 steps each
#   STEPS=200 CORES=4 bench/scaling.sh    # on a 4-core host: 1 x 4, 2 x 2, 4 x 1
#   KAT=build/bin/kat MPIEXEC=mpirun bench/scaling.sh --set model.d_model=256
#
# Extra arguments are passed to every `kat train` (--set KEY=VALUE). Take figures on a quiet
# machine: another job on the cores changes them more than the communication does.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT="${OMPI_ALLOW_RUN_AS_ROOT:-1}" OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}"
KAT="${KAT:-build/bin/kat}"
MPIEXEC="${MPIEXEC:-mpirun}"
STEPS="${STEPS:-60}"
CORES="${CORES:-$(nproc)}"
[[ -x "$KAT" ]] || { echo "scaling: no kat at $KAT (build it, or set KAT=...)" >&2; exit 2; }
command -v "$MPIEXEC" >/dev/null || { echo "scaling: no $MPIEXEC (scripts/install-deps.sh installs OpenMPI)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# configs/lm-tiny.yaml made larger: 2 layers of d 256, rows of 128 tokens, 32 rows a batch.
sets=(--set model.d_model=256 --set model.heads=4 --set model.d_ff=1024 --set model.dropout=0.1
      --set data.seq_len=128 --set data.batch_size=32 --set data.synthetic.symbols=64
      --set train.steps="$STEPS" --set schedule.total_steps=100000 --set schedule.warmup=10
      --set train.valid_interval=0 --set train.patience=0 --set train.checkpoint_interval=100000
      --set train.log_interval=10 "$@")

tokens_per_s() {  # the mean tokens_per_s of the training records of metrics.jsonl after the first
  python3 - "$1/metrics.jsonl" <<'PY'
import json, sys
rates = [r["tokens_per_s"] for r in map(json.loads, open(sys.argv[1])) if "tokens_per_s" in r]
print(f"{sum(rates[1:]) / max(1, len(rates) - 1):.0f}" if len(rates) > 1 else "n/a")
PY
}

printf '| processes x threads | tokens/s | relative |\n| --- | --- | --- |\n'
base=""
ranks=1
while (( ranks <= CORES )); do
  threads=$(( CORES / ranks ))
  dir="$work/r$ranks"
  if (( ranks == 1 )); then
    "$KAT" train configs/lm-tiny.yaml "${sets[@]}" --set train.threads="$threads" --set output.dir="$dir" \
      > "$work/log$ranks" 2>&1
  else
    # --bind-to none: each rank's threads may use any core; the thread counts keep the sum at CORES.
    "$MPIEXEC" -n "$ranks" --bind-to none "$KAT" train configs/lm-tiny.yaml "${sets[@]}" \
      --set train.threads="$threads" --set output.dir="$dir" > "$work/log$ranks" 2>&1
  fi || { echo "scaling: the run of $ranks process(es) failed:" >&2; tail -20 "$work/log$ranks" >&2; exit 1; }
  rate="$(tokens_per_s "$dir")"
  [[ -z "$base" ]] && base="$rate"
  rel="$(python3 -c "print(f'{float(\"$rate\") / float(\"$base\"):.2f}')" 2>/dev/null || echo n/a)"
  printf '| %d x %d | %s | %s |\n' "$ranks" "$threads" "$rate" "$rel"
  ranks=$(( ranks * 2 ))
done
