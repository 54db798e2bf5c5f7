#include "train/step_benchmark.h"

#include "core/kernels/blas_kernels.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "autograd/functions/loss.h"
#include "core/parallel.h"
#include "layers/models/language_model.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/optimizers.h"
#include "train/task_model.h"
#include "train/trainer.h"
#include "train/training_data.h"

namespace kat {
namespace {

using Clock = std::chrono::steady_clock;

long max_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Ops whose FLOPs are products of matrices (the GEMM FLOP/s of the step counts these).
bool is_gemm(const std::string& op) { return op == "matmul" || op == "linear" || op == "softmax_attention"; }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

StepWorkload reference_lm_workload(const std::string& attention, std::int64_t batch, std::int64_t seq,
                                   std::int64_t features) {
  Rng rng(1);
  auto lm = std::make_shared<TransformerLM>(
      reference_lm_options(attention, features, /*dropout=*/0.1, std::max<std::int64_t>(seq, 4096)), rng);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(batch * (seq + 1)));
  for (auto& x : ids) x = static_cast<std::int64_t>(rng.below(256));
  const Tensor all = Tensor::from_vector(ids, {batch, seq + 1});
  const Tensor input = all.slice(1, 0, seq).contiguous(), target = all.slice(1, 1, seq + 1).contiguous();

  StepWorkload w;
  w.description = fmt::format(
      "reference LM (vocab 256, d_model 256, 4 layers, 4 heads, FFN 1024, pre-norm, dropout 0.1, Adam), {} "
      "attention{}, batch {} x {} tokens, {} threads",
      attention, attention == "performer" ? fmt::format(" (m = {})", features) : "", batch, seq, num_threads());
  AdamOptions ao;
  ao.lr = 1e-4;
  w.optimizer = std::make_shared<Adam>(lm->parameters(), ao);
  w.kernels = attention_kernels(*lm);
  w.model = lm.get();
  w.loss = [m = lm.get(), input, target] { return cross_entropy(m->forward(input), target); };
  w.tokens = batch * seq;
  w.owner = lm;
  return w;
}

StepWorkload experiment_workload(const Experiment& e) {
  struct Parts {
    TrainingData data;
    std::unique_ptr<TaskModel> model;
    Batch batch;
  };
  auto parts = std::make_shared<Parts>();
  Rng rng(static_cast<std::uint64_t>(e.train.seed));
  parts->data = make_training_data(e, rng);
  parts->model = make_task_model(e, parts->data, rng);
  parts->batch = parts->data.train->next();

  StepWorkload w;
  const Batch& b = parts->batch;
  w.description = fmt::format("{} model ({} layers, d_model {}, {} heads, FFN {}), {} attention, {}: batch of {} x {}",
                              e.task, e.model.layers, e.model.d_model, e.model.heads, e.model.d_ff,
                              e.model.attention.type, parts->data.description, b.input.size(0), b.input.size(1));
  w.description += fmt::format(" ({} target tokens), {}, {} threads", b.tokens, e.optim.type, num_threads());
  w.model = &parts->model->module();
  w.optimizer = make_optimizer(e.optim, decay_groups(w.model->named_parameters(), e.optim.decay_all));
  w.kernels = attention_kernels(*w.model);
  CrossEntropyOptions ce;
  ce.ignore_index = parts->data.pad_id;
  ce.label_smoothing = e.train.label_smoothing;
  w.loss = [p = parts.get(), ce] { return cross_entropy(p->model->logits(p->batch), p->batch.target, ce); };
  w.tokens = b.tokens;
  w.grad_norm = true;
  w.clip_norm = e.train.clip_norm;
  w.precision = e.train.precision;
  w.owner = parts;
  return w;
}

StepBenchmark run_step_benchmark(StepWorkload& w, const StepBenchmarkOptions& options) {
  const MatmulPrecisionScope precision(w.precision);
  StepBenchmark r;
  r.description = w.description;
  if (w.precision != MatmulPrecision::float32) r.description += ", bfloat16 matrix products";
  r.tokens = w.tokens;
  r.steps = options.steps;
  const std::vector<Variable> params = w.optimizer->variables();
  const long rss_before = max_rss_kb();
  Profiler profiler;
  double redraw_s = 0, zero_s = 0, norm_s = 0, optim_s = 0;
  for (std::int64_t s = 0; s < options.warmup + options.steps; ++s) {
    const bool timed = s >= options.warmup;
    if (s == options.warmup) {
      reset_peak_memory();
      r.before = memory_stats();
    }
    std::optional<ProfileScope> scope;
    if (timed && options.profile) scope.emplace(profiler);
    const auto t0 = Clock::now();
    for (AttentionKernel* k : w.kernels) k->on_train_step(s + 1);
    const auto t1 = Clock::now();
    w.optimizer->zero_grad();
    const auto t2 = Clock::now();
    w.loss().backward();
    const auto t3 = Clock::now();
    if (w.grad_norm) {
      const double norm = grad_norm(params);
      if (w.clip_norm > 0 && norm > w.clip_norm) scale_grads(params, w.clip_norm / norm);
    }
    const auto t4 = Clock::now();
    w.optimizer->step();
    const auto t5 = Clock::now();
    if (!timed) continue;
    r.step_seconds.push_back(std::chrono::duration<double>(t5 - t0).count());
    redraw_s += std::chrono::duration<double>(t1 - t0).count();
    zero_s += std::chrono::duration<double>(t2 - t1).count();
    norm_s += std::chrono::duration<double>(t4 - t3).count();
    optim_s += std::chrono::duration<double>(t5 - t4).count();
  }
  r.after = memory_stats();
  r.tensor_peak_bytes = r.after.peak_bytes - r.before.live_bytes;
  r.rss_extra_kb = max_rss_kb() - rss_before;
  r.ops = profiler.ops();
  r.outside_ops = {{fmt::format("optimizer step ({})", w.optimizer->kind()), optim_s}, {"zero_grad", zero_s}};
  if (w.grad_norm) r.outside_ops.emplace_back(w.clip_norm > 0 ? "gradient norm and clipping" : "gradient norm", norm_s);
  if (!w.kernels.empty()) r.outside_ops.emplace_back("attention on_train_step (feature redraws)", redraw_s);
  return r;
}

std::string format_step_benchmark(const StepBenchmark& r) {
  const double med = median(r.step_seconds);
  const double lo = r.step_seconds.empty() ? 0 : *std::min_element(r.step_seconds.begin(), r.step_seconds.end());
  const double hi = r.step_seconds.empty() ? 0 : *std::max_element(r.step_seconds.begin(), r.step_seconds.end());
  const double n = static_cast<double>(std::max<std::int64_t>(r.steps, 1));
  const double tok = static_cast<double>(r.tokens);
  std::string s = fmt::format("{}\nmatrix products: {}\n", r.description, describe_blas_kernels());
  s += fmt::format("step: median {:.2f} ms [{:.2f}-{:.2f}] over {} steps; {:.0f} tokens/s [{:.0f}-{:.0f}]\n", 1e3 * med,
                   1e3 * lo, 1e3 * hi, r.steps, med > 0 ? tok / med : 0.0, hi > 0 ? tok / hi : 0.0,
                   lo > 0 ? tok / lo : 0.0);
  s += fmt::format(
      "memory: tensor peak {:.1f} MB above the model, its optimizer state and the batch; process peak "
      "resident set +{:.1f} MB\n",
      static_cast<double>(r.tensor_peak_bytes) / 1e6, static_cast<double>(r.rss_extra_kb) / 1e3);
  const MemoryStats& a = r.after;
  const MemoryStats& b = r.before;
  const double blocks = static_cast<double>(a.allocations - b.allocations) / n;
  const double hits = static_cast<double>(a.cache_hits - b.cache_hits) / n;
  const double sys = static_cast<double>(a.system_allocations - b.system_allocations) / n;
  const double sys_mb = static_cast<double>(a.system_bytes - b.system_bytes) / n / 1e6;
  const double small_reused = static_cast<double>(a.small_reused - b.small_reused) / n;
  s += fmt::format(
      "tensor blocks per step: {:.0f}; of 64 KiB and more, {:.0f} from the block cache and {:.1f} from the system "
      "({:.1f} MB); below 64 KiB, {:.0f} reused and {:.0f} from malloc\n",
      blocks, hits, sys, sys_mb, small_reused, blocks - hits - sys - small_reused);
  if (r.ops.empty()) return s;
  double gemm_flops = 0;
  for (const OpProfile& op : r.ops) {
    if (is_gemm(op.name)) gemm_flops += op.forward_flops + op.backward_flops;
  }
  double total = 0;
  for (double x : r.step_seconds) total += x;
  s += fmt::format(
      "GEMM work (matmul, linear, softmax_attention): {:.1f} GFLOP per step, {:.1f} GFLOP/s over the steps\n\n",
      gemm_flops / n / 1e9, total > 0 ? gemm_flops / total / 1e9 : 0.0);
  s += format_profile(r.ops, r.steps, total, r.outside_ops);
  return s;
}

std::string step_benchmark_json(const StepBenchmark& r) {
  const double med = median(r.step_seconds);
  nlohmann::ordered_json j;
  j["description"] = r.description;
  j["blas_kernels"] = blas_kernels().family;
  j["steps"] = r.steps;
  j["tokens"] = r.tokens;
  j["ms_median"] = 1e3 * med;
  j["ms_min"] = r.step_seconds.empty() ? 0.0 : 1e3 * *std::min_element(r.step_seconds.begin(), r.step_seconds.end());
  j["ms_max"] = r.step_seconds.empty() ? 0.0 : 1e3 * *std::max_element(r.step_seconds.begin(), r.step_seconds.end());
  j["tokens_per_s"] = med > 0 ? static_cast<double>(r.tokens) / med : 0.0;
  j["tensor_peak_mb"] = static_cast<double>(r.tensor_peak_bytes) / 1e6;
  j["rss_extra_mb"] = static_cast<double>(r.rss_extra_kb) / 1e3;
  return j.dump() + "\n";
}

}  // namespace kat
