#!/usr/bin/env bash
# The conversion experiments of docs/convert.md on the character-level language model: the softmax
# run of configs/lm/softmax.yaml (3,000 steps) converted to linear attention with each learned
# feature map, fine-tuned for 10% and 20% of its steps (300 and 600), with and without 200 steps of
# attention distillation before them; then one table of all of them beside the source.
#
#   kat train configs/lm/softmax.yaml          # the source, once (~30 min on 2 cores)
#   configs/convert/lm.sh                      # ~1 hour on 2 cores; KAT=path/to/kat to choose the binary
#
# A conversion already made is kept; kat compare trains (or resumes) each converted run and reuses
# finished ones, so running the script again continues where it stopped.
set -euo pipefail
kat=${KAT:-build/bin/kat}
src=${SOURCE:-runs/lm/softmax}
runs=()
for map in t2r hedgehog; do
  for steps in 300 600; do
    for distill in 0 200; do
      out=runs/convert/lm-$map-$steps
      [[ $distill -gt 0 ]] && out+=-distill
      if [[ ! -e $out/checkpoints/last.h5 ]]; then
        "$kat" convert "$src" --feature-map "$map" --steps "$steps" --distill "$distill" -o "$out"
      fi
      runs+=("$out")
    done
  done
done
"$kat" compare "$src/config.yaml" "${runs[@]}" --out runs/convert/lm
