#!/usr/bin/env bash
# Runs clang-tidy with the checks of .clang-tidy (every warning an error) on kat's sources.
#   scripts/tidy.sh                 every source of the library and the command (not tests, bench)
#   scripts/tidy.sh --changed [REF] the sources changed since REF (default: main's merge base),
#                                   a changed header bringing in the source of the same name
#   scripts/tidy.sh FILE...         the given sources
# It configures build-tidy/ for the compile commands (nothing is compiled). Not part of CI: a run
# over every source takes about 15 minutes of one core.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v run-clang-tidy >/dev/null || { echo "tidy: run-clang-tidy not found (apt-get install clang-tidy)" >&2; exit 2; }
files=()
if [[ "${1:-}" == "--changed" ]]; then
  ref="${2:-$(git merge-base HEAD main)}"
  while IFS= read -r f; do
    case "$f" in
      tests/* | bench/*) ;;
      *.cpp) [[ -f "$f" ]] && files+=("$f") ;;
      *.h) [[ -f "${f%.h}.cpp" ]] && files+=("${f%.h}.cpp") ;;
    esac
  done < <(git diff --name-only "$ref" -- '*.cpp' '*.h'; git ls-files --others --exclude-standard -- '*.cpp' '*.h')
  mapfile -t files < <(printf '%s\n' "${files[@]}" | sort -u | sed '/^$/d')
  [[ ${#files[@]} -eq 0 ]] && { echo "tidy: no source changed since $ref"; exit 0; }
elif [[ $# -gt 0 ]]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.cpp' | grep -vE '^(tests|bench)/')
fi
cmake -S . -B build-tidy -DCMAKE_BUILD_TYPE=Release -DKAT_BUILD_TESTS=OFF -DKAT_BUILD_BENCH=OFF >/dev/null
paths=()
for f in "${files[@]}"; do paths+=("$PWD/$f"); done
# run-clang-tidy takes regular expressions: escape the dots of the paths.
run-clang-tidy -p build-tidy -quiet -j "$(nproc)" "${paths[@]//./\\.}" 2>&1 | tee build-tidy/tidy.log |
  grep -E '(warning|error): ' || true
if grep -qE '(warning|error): ' build-tidy/tidy.log; then
  echo "tidy: $(grep -cE '(warning|error): ' build-tidy/tidy.log) findings in ${#files[@]} files (build-tidy/tidy.log)" >&2
  exit 1
fi
echo "tidy: ${#files[@]} files, no findings"
