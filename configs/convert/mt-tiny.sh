#!/usr/bin/env bash
# The conversion experiments of docs/convert.md on the small translation model: the softmax run of
# configs/mt-tiny/softmax.yaml (400 steps) converted to linear attention with each learned feature
# map in every sublayer, and in the decoder's self-attention alone (the sublayer whose state
# decoding carries), fine-tuned for 20% of its steps (80), with and without 40 steps of attention
# distillation; then one table of all of them beside the source.
#
#   kat prepare bible corpora/bible-spm --tokenizer spm --vocab 8000
#   kat train configs/mt-tiny/softmax.yaml     # the source, once (a few minutes on 2 cores)
#   configs/convert/mt-tiny.sh                 # KAT=path/to/kat to choose the binary
set -euo pipefail
kat=${KAT:-build/bin/kat}
src=${SOURCE:-runs/mt-tiny/softmax}
runs=()
for map in t2r hedgehog; do
  for sublayers in all decoder; do
    for distill in 0 40; do
      out=runs/convert/mt-tiny-$map-$sublayers
      [[ $distill -gt 0 ]] && out+=-distill
      if [[ ! -e $out/checkpoints/last.h5 ]]; then
        "$kat" convert "$src" --feature-map "$map" --sublayers "$sublayers" --steps 80 --distill "$distill" -o "$out"
      fi
      runs+=("$out")
    done
  done
done
"$kat" compare "$src/config.yaml" "${runs[@]}" --out runs/convert/mt-tiny
