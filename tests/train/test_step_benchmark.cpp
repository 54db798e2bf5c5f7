// kat bench's training steps: the profiled step covers the model's ops with the calls its layers
// make, the table shows them, and a steady-state step takes its large tensor blocks from the cache.
#include <doctest/doctest.h>

#include "core/parallel.h"
#include "optim/optimizer.h"
#include "tests/train/train_test_util.h"
#include "train/step_benchmark.h"

using namespace kat;

namespace {

const OpProfile* find(const std::vector<OpProfile>& ops, const std::string& name) {
  for (const OpProfile& op : ops) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a profiled step of a small LM covers its ops, with the calls its layers make") {
  test::ScratchDir dir("step-benchmark");
  const Experiment e = test::tiny_lm(dir.file("run"));  // 2 layers, pre-norm, tied output, dropout 0.1
  StepWorkload w = experiment_workload(e);
  StepBenchmarkOptions o;
  o.warmup = 1;
  o.steps = 2;
  o.profile = true;
  const StepBenchmark r = run_step_benchmark(w, o);
  REQUIRE(r.step_seconds.size() == 2);

  // Per step: q, k, v, o and two feed-forward products per layer (linear, with their biases), and
  // the output projection (matmul with the tied embedding); the feed-forward's relu and dropout are
  // one op (relu_dropout), each residual branch's dropout and sum another (dropout_add), and the
  // embedding has its dropout.
  const std::vector<std::pair<std::string, std::int64_t>> calls = {
      {"linear", 6 * 2},      {"matmul", 1},       {"softmax_attention", 2}, {"layer_norm", 2 * 2 + 1}, {"dropout", 1},
      {"dropout_add", 2 * 2}, {"relu_dropout", 2}, {"embedding", 1},         {"cross_entropy", 1}};
  for (const auto& [name, n] : calls) {
    CAPTURE(name);
    const OpProfile* op = find(r.ops, name);
    REQUIRE(op != nullptr);
    CHECK(op->forward_calls == 2 * n);
    CHECK(op->backward_calls == 2 * n);
  }
  CHECK(find(r.ops, "matmul")->forward_flops > 0);
  CHECK(find(r.ops, "linear")->backward_flops > 0);
  CHECK(find(r.ops, "softmax_attention")->backward_flops > 0);
  const OpProfile* acc = find(r.ops, "accumulate_grad");
  REQUIRE(acc != nullptr);
  CHECK(acc->backward_calls == 2 * static_cast<std::int64_t>(w.optimizer->variables().size()));
  // Every recorded node runs backward once: forward and backward calls agree op by op.
  for (const OpProfile& op : r.ops) {
    CAPTURE(op.name);
    if (op.forward_calls > 0) CHECK(op.backward_calls == op.forward_calls);
  }

  const std::string text = format_step_benchmark(r);
  for (const auto& [name, n] : calls)
    CHECK(text.find("| " + name + " | " + std::to_string(n) + " / ") != std::string::npos);
  CHECK(text.find("| optimizer step (adamw) |") != std::string::npos);
  CHECK(text.find("| gradient norm") != std::string::npos);
  CHECK(text.find("| step | | | | ") != std::string::npos);
  CHECK(text.find("tokens/s") != std::string::npos);
}

TEST_CASE("after two warm-up steps a training step takes every large tensor block from the cache") {
  const int saved = num_threads();
  set_num_threads(1);  // one order of allocations
  StepWorkload w = reference_lm_workload("softmax", 1, 32);
  StepBenchmarkOptions o;
  o.warmup = 2;
  o.steps = 2;
  const StepBenchmark r = run_step_benchmark(w, o);
  set_num_threads(saved);
  CHECK(r.ops.empty());  // not profiled
  CHECK(r.after.cache_hits - r.before.cache_hits > 0);
  CHECK(r.after.system_allocations == r.before.system_allocations);
  CHECK(r.after.system_bytes == r.before.system_bytes);
}
