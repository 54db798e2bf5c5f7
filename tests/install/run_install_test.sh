#!/usr/bin/env bash
# See CMakeLists.txt. Usage: run_install_test.sh --build BUILD --source SOURCE --work DIR
set -euo pipefail
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --source) source="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    *) echo "run_install_test: unknown option $1" >&2; exit 2 ;;
  esac
done
rm -rf "$work"
mkdir -p "$work"
cd "$work"
fail() { echo "FAILED: $*" >&2; exit 1; }
expect_exit() {  # CODE MESSAGE COMMAND...: the command exits CODE and says MESSAGE on standard error
  local code="$1" message="$2"; shift 2
  local got=0
  "$@" >out.txt 2>err.txt || got=$?
  [[ $got -eq $code ]] || fail "exit $got, expected $code: $* ($(cat err.txt))"
  grep -qF -- "$message" err.txt || fail "no '$message' in the error of $*: $(cat err.txt)"
}

echo "== install into a temporary prefix"
cmake --install "$build" --prefix "$work/prefix" >install.log
kat="$work/prefix/bin/kat"
[[ -f "$work/prefix/include/kat/autograd/ops.h" ]] || fail "headers not under include/kat"
grep -q '#include "kat/core/' "$work/prefix/include/kat/autograd/variable.h" || fail "installed headers not under kat/"
[[ -f "$work/prefix/lib/cmake/kat/katConfig.cmake" ]] || fail "no katConfig.cmake"

echo "== examples/library through find_package(kat)"
cmake -S "$source/examples/library" -B library -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build library -j2 >/dev/null
library/train_tiny_lm >library.txt
grep -q "step 60: loss" library.txt || fail "the library example did not train: $(cat library.txt)"

echo "== examples/feature_map_plugin"
cmake -S "$source/examples/feature_map_plugin" -B plugin -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build plugin -j2 >/dev/null
plugin="$work/plugin/libkat_example_maps.so"
[[ -f "$plugin" ]] || fail "no plugin built"

echo "== a small character corpus"
grep -m 200 -v '^\s*$' "$source/README.md" >corpus.txt  # -m: no pipe for SIGPIPE to fail under pipefail
"$kat" tokenizer train --kind chars --input corpus.txt --output chars.tok 2>/dev/null
"$kat" prepare dataset train.h5 --side en=corpus.txt --tokenizer chars.tok 2>/dev/null
cat >lm.yaml <<YAML
task: lm
data: {kind: corpus, train: $work/train.h5, valid: $work/train.h5, seq_len: 64, batch_size: 8}
model: {layers: 1, d_model: 32, heads: 2, d_ff: 64, dropout: 0.1, attention: {type: linear}}
optim: {lr: 0.003}
schedule: {type: cosine, warmup: 2, total_steps: 20}
train: {steps: 20, valid_interval: 10, checkpoint_interval: 10}
output: {dir: $work/unused}
YAML
config="$work/lm.yaml"
common=()
for map in dpfp elu-proj; do
  echo "== $map: train, resume bit for bit, evaluate, generate"
  extra=()
  [[ $map == dpfp ]] && extra=(--set model.attention.nu=2)
  "$kat" train "$config" --plugin "$plugin" --set "model.attention.feature_map=$map" "${extra[@]}" "${common[@]}" \
    --set train.steps=20 --set "output.dir=$work/$map-straight" 2>>train.log
  "$kat" train "$config" --plugin "$plugin" --set "model.attention.feature_map=$map" "${extra[@]}" "${common[@]}" \
    --set train.steps=10 --set "output.dir=$work/$map-split" 2>>train.log
  "$kat" train --resume "$work/$map-split" --set train.steps=20 2>>train.log  # the plugin from the run folder
  a=$("$kat" eval "$work/$map-straight" --checkpoint last --split valid --json - 2>/dev/null)
  b=$("$kat" eval "$work/$map-split" --checkpoint last --split valid --json - 2>/dev/null)
  loss_a=$(grep '"loss"' <<<"$a"); loss_b=$(grep '"loss"' <<<"$b")
  [[ -n "$loss_a" && "$loss_a" == "$loss_b" ]] || fail "$map: the resumed run differs: $loss_a vs $loss_b"
  g1=$("$kat" generate "$work/$map-straight" --prompt "The " --tokens 20 --seed 3 --checkpoint last 2>/dev/null)
  g2=$("$kat" generate "$work/$map-split" --prompt "The " --tokens 20 --seed 3 --checkpoint last 2>/dev/null)
  [[ -n "$g1" && "$g1" == "$g2" ]] || fail "$map: generation differs after the resume"
  grep -q "\"$map\"" "$work/$map-straight/plugins.json" || fail "$map: plugins.json does not record the map"
done

echo "== a typo in a plugin map's option is located with did-you-mean"
printf 'plugins: [%s]\ntask: lm\nmodel:\n  attention: {type: linear, feature_map: dpfp, nux: 2}\n' "$plugin" >typo.yaml
expect_exit 2 "typo.yaml:4:48: unknown key 'model.attention.nux' (did you mean 'model.attention.nu'?)" \
  "$kat" config check typo.yaml

echo "== refused: not a plugin, another kat's plugin, a missing plugin, a changed plugin"
expect_exit 2 "not a kat plugin" "$kat" config check "$config" --plugin "$work/prefix/lib/libkat_core.so"
cat >other.cpp <<'CPP'
#include <kat/layers/plugin.h>
#undef KAT_PLUGIN_ABI
#define KAT_PLUGIN_ABI "0000000000000000"
void nothing() {}
KAT_PLUGIN("from-another-kat", nothing)
CPP
c++ -std=c++20 -shared -fPIC -I"$work/prefix/include" other.cpp -o libother.so
expect_exit 2 "built against kat" "$kat" config check "$config" --plugin "$work/libother.so"
expect_exit 2 "plugin $work/nowhere.so: no such file" "$kat" config check "$config" --plugin "$work/nowhere.so"
cp "$plugin" copy.so
"$kat" train "$config" --plugin "$work/copy.so" --set model.attention.feature_map=dpfp "${common[@]}" \
  --set train.steps=10 --set "output.dir=$work/with-copy" 2>>train.log
printf 'x' >>copy.so  # other bytes: another build
expect_exit 2 "changed since the run was trained" "$kat" eval "$work/with-copy" --split valid
rm copy.so
expect_exit 2 "is missing" "$kat" eval "$work/with-copy" --split valid
expect_exit 2 "is missing" "$kat" generate "$work/with-copy" --prompt "The "
echo "install test: ok"
