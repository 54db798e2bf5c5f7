#!/usr/bin/env bash
# The reference training step (kat bench: softmax, B16 x N256) on the OpenBLAS kernels kat chooses
# by itself (no OPENBLAS_CORETYPE set) against each family set by hand, alternating, ROUNDS fresh
# processes each; prints the median tokens/s [min-max] of each and the ratio of kat's choice to
# the best family. Run on an idle machine.
#
#   bench/kernel_choice.sh [--kat build/bin/kat] [--rounds 5] [--families "Haswell SkylakeX Cooperlake"]
set -euo pipefail
cd "$(dirname "$0")/.."

kat=build/bin/kat
rounds=5
families="Haswell SkylakeX Cooperlake"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --kat) kat="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --families) families="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "kernel_choice: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x "$kat" ]] || { echo "kernel_choice: no kat at $kat (build it, or give --kat)" >&2; exit 2; }
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for ((r = 1; r <= rounds; ++r)); do
  for f in choice $families; do
    if [[ $f == choice ]]; then
      line=$(env -u OPENBLAS_CORETYPE -u KAT_BLAS_CHOICE "$kat" bench --json 2>/dev/null)
    else
      line=$(env -u KAT_BLAS_CHOICE OPENBLAS_CORETYPE="$f" "$kat" bench --json 2>/dev/null)
    fi
    echo "$f $line" >>"$out"
  done
  echo "round $r/$rounds" >&2
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    label, rest = line.split(" ", 1)
    d = json.loads(rest)
    runs.setdefault(label, []).append((d["tokens_per_s"], d["blas_kernels"]))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"kat bench (softmax B16 x N256), {cpu}, {len(runs['choice'])} rounds alternating\n")
print("| OpenBLAS kernels | tokens/s, median [min-max] |")
print("| --- | --- |")
med = {}
for label, v in runs.items():
    t = [x for x, _ in v]
    med[label] = statistics.median(t)
    name = f"kat's choice ({v[0][1]})" if label == "choice" else f"OPENBLAS_CORETYPE={label}"
    print(f"| {name} | {med[label]:.0f} [{min(t):.0f}-{max(t):.0f}] |")
best = max((m, l) for l, m in med.items() if l != "choice")
print(f"\nkat's choice / best family ({best[1]}): {med['choice'] / best[0]:.2f}")
PY
