// One training step of the reference character language model (vocab 256, d_model 256, 4 layers,
// 4 heads, FFN 1024, pre-norm, dropout 0.1, Adam): forward, cross-entropy, backward, optimizer
// step, on random tokens.
//
//   train_step --attention softmax [--batch 16 --seq 256 --steps 10 --warmup 2 --threads 2 --features 64]
//
// Prints one JSON line: tokens/s (median over the timed steps after the warm-up steps), the
// achieved GEMM FLOP/s of the step (2 M N K per product, forward and backward, counted from the
// shapes), the peak of kat's tensor memory and of the process (ru_maxrss) above their values once
// the model and the batch exist, and the heap allocations of a timed step: every malloc of the
// process (bench/malloc_count.cpp), those of 64 KiB and more by size, and kat's tensor blocks by
// origin (block cache or system). bench/train_step.py and bench/compare.sh run it against PyTorch
// (bench/peers/train_step_peer.py).

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "bench/malloc_count.h"
#include "core/kernels/bfloat16.h"
#include "core/kernels/blas_kernels.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "layers/attention/softmax_attention_op.h"
#include "layers/models/language_model.h"
#include "optim/adam.h"

namespace {

long max_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// GEMM FLOPs of one forward and backward of the model per step: every product runs three times
// (forward, and the two gradients), 2 M N K each: the four projections and the two feed-forward
// products of each layer, the output projection, and for softmax attention Q K^T and P V over the
// `scores` (query, key) pairs of a layer's heads the op computes (softmax_attention_scores: under
// the causal mask, blocks of queries skip the keys after their last one). The running sums of
// linear attention are not GEMMs and are not counted.
double step_flops(std::int64_t b, std::int64_t n, std::int64_t d, std::int64_t ff, std::int64_t layers,
                  std::int64_t vocab, std::int64_t heads, double scores) {
  const double t = static_cast<double>(b * n);
  double per_layer = 2.0 * t * static_cast<double>(d * d) * 4 + 2.0 * t * static_cast<double>(d * ff) * 2;
  per_layer += 2.0 * scores * 2.0 * static_cast<double>(d / heads);
  return 3.0 * (per_layer * static_cast<double>(layers) + 2.0 * t * static_cast<double>(d * vocab));
}

}  // namespace

int main(int argc, char** argv) {
  kat::choose_blas_kernels(argc, argv);  // the kernels the kat command would run on
  using namespace kat;
  std::string attention = "softmax";
  std::int64_t batch = 16, seq = 256, features = 64;
  int steps = 10, warmup = 2, threads = 2;
  std::string precision = "fp32";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--attention")
      attention = v;
    else if (k == "--batch")
      batch = std::atoll(v.c_str());
    else if (k == "--seq")
      seq = std::atoll(v.c_str());
    else if (k == "--steps")
      steps = std::atoi(v.c_str());
    else if (k == "--warmup")
      warmup = std::atoi(v.c_str());
    else if (k == "--threads")
      threads = std::atoi(v.c_str());
    else if (k == "--features")
      features = std::atoll(v.c_str());
    else if (k == "--precision" && (v == "fp32" || v == "bf16"))
      precision = v;
    else {
      std::fprintf(stderr, "train_step: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  set_num_threads(threads);
  // bf16: the matrix products with bfloat16 operands (train.precision bf16, core/kernels/bfloat16.h).
  if (precision == "bf16") {
    try {
      set_matmul_precision(MatmulPrecision::bfloat16);
    } catch (const Error& e) {
      std::fprintf(stderr, "train_step: %s\n", e.what());
      return 1;
    }
  }
  Rng rng(1);
  TransformerLM lm(reference_lm_options(attention, features, /*dropout=*/0.1, seq), rng);
  AdamOptions ao;
  ao.lr = 1e-4;
  Adam opt(lm.parameters(), ao);
  std::vector<std::int64_t> ids(static_cast<std::size_t>(batch * (seq + 1)));
  for (auto& x : ids) x = static_cast<std::int64_t>(rng.below(256));
  const Tensor all = Tensor::from_vector(ids, {batch, seq + 1});
  const Tensor input = all.slice(1, 0, seq).contiguous(), target = all.slice(1, 1, seq + 1).contiguous();

  const long rss_before = max_rss_kb();
  const std::int64_t live_before = memory_stats().live_bytes;
  reset_peak_memory();
  std::vector<double> secs;
  MemoryStats blocks_before;
  bench::MallocCounts mallocs_before;
  std::int64_t phase_mallocs[3] = {0, 0, 0};  // forward and loss, backward, optimizer step
  for (int s = 0; s < steps + warmup; ++s) {
    if (s == warmup) {
      blocks_before = memory_stats();
      mallocs_before = bench::malloc_counts();
    }
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    const std::int64_t m0 = bench::malloc_calls();
    Variable loss = cross_entropy(lm.forward(input), target);
    const std::int64_t m1 = bench::malloc_calls();
    loss.backward();
    const std::int64_t m2 = bench::malloc_calls();
    opt.step();
    const std::int64_t m3 = bench::malloc_calls();
    if (s >= warmup) {
      phase_mallocs[0] += m1 - m0;
      phase_mallocs[1] += m2 - m1;
      phase_mallocs[2] += m3 - m2;
    }
    const auto t1 = std::chrono::steady_clock::now();
    if (s >= warmup) secs.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  const bench::MallocCounts mallocs = bench::malloc_counts() - mallocs_before;
  const MemoryStats blocks = memory_stats();
  const double n = static_cast<double>(steps);
  std::sort(secs.begin(), secs.end());
  const double med = secs[secs.size() / 2];
  const double tokens = static_cast<double>(batch * seq);
  // Scores of one layer's softmax attention (4 heads, causal), and their share of all B H N N.
  const double scores =
      attention == "softmax" ? softmax_attention_scores(AttentionMask{true, {}}, batch, 4, seq, seq) : 0.0;
  const double score_share = scores / static_cast<double>(batch * 4 * seq * seq);
  const double gflops = step_flops(batch, seq, 256, 1024, 4, 256, 4, scores) / med / 1e9;
  std::printf(
      "{\"impl\": \"kat\", \"attention\": \"%s\", \"batch\": %lld, \"seq\": %lld, \"threads\": %d, \"tokens_per_s\": "
      "%.1f, \"tokens_per_s_min\": %.1f, \"tokens_per_s_max\": %.1f, \"step_ms\": %.2f, \"gemm_gflops\": %.1f, "
      "\"attention_score_share\": %.4f, \"tensor_peak_mb\": %.1f, \"rss_extra_mb\": %.1f, \"mallocs_per_step\": %.1f, "
      "\"malloc_mb_per_step\": %.2f, "
      "\"large_mallocs_per_step\": %.2f, \"large_mallocs\": \"%s\", \"tensor_blocks_per_step\": %.1f, "
      "\"tensor_blocks_from_system_per_step\": %.2f, \"mallocs_forward\": %.1f, \"mallocs_backward\": %.1f, "
      "\"mallocs_optimizer\": %.1f}\n",
      attention.c_str(), static_cast<long long>(batch), static_cast<long long>(seq), threads, tokens / med,
      tokens / secs.back(), tokens / secs.front(), 1e3 * med, gflops, score_share,
      static_cast<double>(memory_stats().peak_bytes - live_before) / 1e6,
      static_cast<double>(max_rss_kb() - rss_before) / 1e3, static_cast<double>(mallocs.calls) / n,
      static_cast<double>(mallocs.bytes) / n / 1e6, static_cast<double>(mallocs.large_calls) / n,
      bench::describe_large(mallocs).c_str(), static_cast<double>(blocks.allocations - blocks_before.allocations) / n,
      static_cast<double>(blocks.system_allocations - blocks_before.system_allocations) / n,
      static_cast<double>(phase_mallocs[0]) / n, static_cast<double>(phase_mallocs[1]) / n,
      static_cast<double>(phase_mallocs[2]) / n);
  return 0;
}
