#pragma once
// Warm training steps of one model on one fixed batch, timed: what `kat bench` runs. A step is the
// trainer's (attention redraw, zero_grad, forward, loss, backward, gradient norm and clipping when
// the experiment sets them, optimizer step); optionally under the op profiler (autograd/profiler.h).
// Also counts where the step's tensor blocks came from (block cache or system), so a steady-state
// step that still asks the system for memory shows.
//
//   StepWorkload w = reference_lm_workload("softmax", 16, 256);
//   StepBenchmark r = run_step_benchmark(w, {.warmup = 2, .steps = 5, .profile = true});
//   std::fputs(format_step_benchmark(r).c_str(), stdout);

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/profiler.h"
#include "autograd/variable.h"
#include "core/kernels/bfloat16.h"
#include "core/storage.h"
#include "train/config/experiment.h"

namespace kat {

class AttentionKernel;
class Module;
class Optimizer;

// A model, its optimizer and one batch, with the step's loss.
struct StepWorkload {
  std::string description;      // one line: model, attention, batch
  std::shared_ptr<void> owner;  // the model, the data and the batch the loss reads
  Module* model = nullptr;      // owned by `owner`
  std::shared_ptr<Optimizer> optimizer;
  std::vector<AttentionKernel*> kernels;  // their on_train_step runs before each step
  std::function<Variable()> loss;         // forward and loss on the batch
  std::int64_t tokens = 0;                // target tokens per step
  bool grad_norm = false;                 // the trainer's gradient norm (and clipping) is part of the step
  double clip_norm = 0;                   // > 0: gradients clipped to this global norm
  MatmulPrecision precision = MatmulPrecision::float32;  // of the step's matrix products (train.precision)
};

// The reference character LM of the performance targets: vocab 256, d_model 256, 4 layers, 4
// heads, FFN 1024, pre-norm, dropout 0.1, sinusoidal positions, tied output; Adam (lr 1e-4); a
// batch of random tokens. attention: softmax | linear | performer (with `features` features).
StepWorkload reference_lm_workload(const std::string& attention, std::int64_t batch, std::int64_t seq,
                                   std::int64_t features = 64);

// The model, optimizer and first training batch of a validated experiment.
StepWorkload experiment_workload(const Experiment& e);

struct StepBenchmarkOptions {
  std::int64_t warmup = 2;  // untimed steps first (the cache fills, the optimizer makes its state)
  std::int64_t steps = 5;   // timed steps
  bool profile = false;     // run the timed steps under the op profiler
};

struct StepBenchmark {
  std::string description;
  std::int64_t tokens = 0;
  std::int64_t steps = 0;
  std::vector<double> step_seconds;                         // each timed step, in order
  std::vector<OpProfile> ops;                               // over the timed steps, when profiled
  std::vector<std::pair<std::string, double>> outside_ops;  // parts timed outside ops, seconds in total
  MemoryStats before, after;                                // tensor blocks around the timed steps
  std::int64_t tensor_peak_bytes = 0;                       // above the live bytes before the timed steps
  std::int64_t rss_extra_kb = 0;                            // peak resident set above its size before the steps
};

StepBenchmark run_step_benchmark(StepWorkload& w, const StepBenchmarkOptions& options);

// Summary lines (step time, tokens/s, memory, allocations per step) and, when profiled, the op table
// with the achieved GEMM FLOP/s.
std::string format_step_benchmark(const StepBenchmark& r);
// The same figures as one JSON object (ms_median, ms_min, ms_max, tokens_per_s, tensor_peak_mb,
// rss_extra_mb, steps, tokens, description).
std::string step_benchmark_json(const StepBenchmark& r);

}  // namespace kat
