#!/usr/bin/env bash
# The language model of configs/lm/softmax.yaml (3,000 steps) converted with a softmax window beside
# linear attention (docs/convert.md, "Results"): Hedgehog features (M = 256), per-head decay, and
# the last W keys of every query under softmax, for each W in WINDOWS; 200 steps of attention
# distillation, then 600 of fine-tuning (20% of the source's steps); then one table beside the source.
#
#   kat train configs/lm/softmax.yaml          # the source, once (~30 min on 2 cores)
#   configs/convert/lm-window.sh               # ~25 min per window on one core; KAT=path/to/kat
#
# WINDOWS="16 64" by default; DISTILL and STEPS change the two stages. A conversion already made is
# kept; kat compare trains (or resumes) each converted run and reuses finished ones.
set -euo pipefail
kat=${KAT:-build/bin/kat}
src=${SOURCE:-runs/lm/softmax}
distill=${DISTILL:-200}
steps=${STEPS:-600}
runs=()
for window in ${WINDOWS:-16 64}; do
  out=runs/convert/lm-hh256-decay-w$window
  [[ $distill != 200 || $steps != 600 ]] && out+=-$distill-$steps
  if [[ ! -e $out/checkpoints/last.h5 ]]; then
    "$kat" convert "$src" --feature-map hedgehog --features 256 --decay 0.75,0.9375,0.984375,1 \
      --window "$window" --distill "$distill" --steps "$steps" -o "$out"
  fi
  runs+=("$out")
done
"$kat" compare "$src/config.yaml" "${runs[@]}" --out runs/convert/lm-window
