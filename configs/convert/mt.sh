#!/usr/bin/env bash
# The conversion experiments of docs/convert.md on the translation model: the softmax run of
# configs/mt/softmax.yaml (2,500 steps) converted to linear attention with a learned feature map,
# in the decoder's self-attention alone (the sublayer whose state decoding carries) and in every
# attention, each after 100 steps of attention distillation and fine-tuned for 20% of the source's
# steps (500); then one table of all of them beside the source (test BLEU and chrF2, decoding
# ms/token).
#
#   kat prepare bible corpora/bible-spm --tokenizer spm --vocab 8000
#   kat train configs/mt/softmax.yaml          # the source, once (~75 min on 2 cores)
#   configs/convert/mt.sh                      # ~20 min per conversion on 2 cores
#
# MAPS="t2r hedgehog" and SUBLAYERS="decoder all" (the defaults) choose the conversions; FEATURES=M
# sets the maps' width (default: each map's own, 2 x head_dim = 128 here); KAT chooses the binary.
# The README's rows: SUBLAYERS=decoder, and MAPS=t2r FEATURES=32 SUBLAYERS=decoder. A conversion
# already made is kept and kat compare resumes unfinished runs, so running the script again
# continues where it stopped.
set -euo pipefail
kat=${KAT:-build/bin/kat}
src=${SOURCE:-runs/mt/softmax}
runs=()
for map in ${MAPS:-t2r hedgehog}; do
  for sublayers in ${SUBLAYERS:-decoder all}; do
    out=runs/convert/mt-$map${FEATURES:-}-$sublayers-distill
    if [[ ! -e $out/checkpoints/last.h5 ]]; then
      "$kat" convert "$src" --feature-map "$map" ${FEATURES:+--features "$FEATURES"} --sublayers "$sublayers" \
        --steps 500 --distill 100 -o "$out"
    fi
    runs+=("$out")
  done
done
"$kat" compare "$src/config.yaml" "${runs[@]}" --out runs/convert/mt
