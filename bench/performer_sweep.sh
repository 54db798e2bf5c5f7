#!/usr/bin/env bash
# The Performer's width and feature redrawing on the budget of configs/lm-tiny (600 steps of 16 x 128
# characters): m = 64, 128 and 256 random features, redrawn every 100 steps or never, next to the
# softmax and linear runs of the same config, all in one `kat compare` table (test bits/char, over
# each window and its last quarter; training tokens/s; peak memory). Writes the variants' configs
# and runs under OUT (default runs/performer-sweep) and the table to OUT/comparison.md; about
# 15 minutes on 2 cores.
#
#   bench/performer_sweep.sh [--kat build/bin/kat] [--out runs/performer-sweep] [--seed 1]
#
# Needs the Bible corpus (kat prepare bible corpora/bible).
set -euo pipefail
cd "$(dirname "$0")/.."

kat=build/bin/kat
out=runs/performer-sweep
seed=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kat) kat="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "performer_sweep: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$kat" ]] || { echo "performer_sweep: no kat at $kat (build it, or give --kat)" >&2; exit 2; }
mkdir -p "$out/configs"

# A copy of configs/lm-tiny/NAME.yaml with its run folder under $out and the given lines of
# model.attention in place of the file's own.
variant() {  # variant NAME SOURCE ATTENTION_LINES...
  local name="$1" source="$2"
  shift 2
  local file="$out/configs/$name.yaml"
  awk -v dir="$out/$name" -v lines="$(printf '%s\n' "$@")" '
    /^  attention:/ { print; n = split(lines, l, "\n"); for (i = 1; i <= n; ++i) if (l[i] != "") print "    " l[i]; skip = 1; next }
    skip && /^    / { next }
    { skip = 0 }
    /^  dir:/ { print "  dir: " dir; next }
    { print }' "configs/lm-tiny/$source.yaml" > "$file"
  echo "$file"
}

files=(
  "$(variant softmax softmax 'type: softmax')"
  "$(variant linear linear 'type: linear')"
)
for m in 64 128 256; do
  for redraw in 0 100; do
    files+=("$(variant "performer-m$m-redraw$redraw" performer 'type: performer' "features: $m" \
      "redraw_interval: $redraw")")
  done
done
"$kat" compare "${files[@]}" --set train.seed="$seed" --out "$out"
