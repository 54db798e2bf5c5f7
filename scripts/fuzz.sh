#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer, UndefinedBehaviorSanitizer)
# in build-fuzz/ and runs each for a bounded time, one after the other. Fails when any target
# crashes, leaks, hangs, runs out of memory or gets a sanitizer report; the input that did it is
# written to tests/fuzz/regressions/<target>/, where test_fuzz_regressions replays it once fixed.
#   scripts/fuzz.sh                       every target, 60 s each
#   scripts/fuzz.sh tokenizer dataset     these targets only
#   KAT_FUZZ_SECONDS=300 scripts/fuzz.sh  longer runs
# The corpus each run grows stays in build-fuzz/corpus/<target>/ and is reused by the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --fuzz
seconds="${KAT_FUZZ_SECONDS:-60}"
build="${KAT_FUZZ_BUILD:-build-fuzz}"
all=(tokenizer records bleu dataset experiment checkpoint plot)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target '$t' (targets: ${all[*]})" >&2; exit 2; }
done

CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKAT_FUZZ=ON \
  -DKAT_BUILD_TESTS=OFF -DKAT_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

# Sanitizer reports abort the run (libFuzzer then saves the input); leaks are checked per input.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$build/logs"
failed=()
summary=()
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  regressions="tests/fuzz/regressions/$t"
  mkdir -p "$corpus" "$regressions"
  log="$build/logs/$t.log"
  echo "fuzz.sh: $t for ${seconds} s (log: $log)"
  status=0
  # The grown corpus first (new inputs go there), then the committed seeds and regressions.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$regressions/" "$corpus" "tests/fuzz/seeds/$t" "$regressions" >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  if [[ $status -ne 0 ]]; then
    failed+=("$t")
    summary+=("$(printf '%-10s %12s runs  FAILED (exit %d)' "$t" "${runs:-?}" "$status")")
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|terminate called|  what\(\)|artifact_prefix|Test unit written)' "$log" |
      head -20 >&2 || true
  else
    summary+=("$(printf '%-10s %12s runs  ok' "$t" "${runs:-?}")")
  fi
done
printf '%s\n' "fuzz.sh: ${seconds} s a target" "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: failed: ${failed[*]}; inputs in tests/fuzz/regressions/<target>/ (replay one with" \
    "$build/tests/fuzz/fuzz_<target> FILE)" >&2
  exit 1
fi
