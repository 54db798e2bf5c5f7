// One training step of the reference character language model (vocab 256, d_model 256, 4 layers,
// 4 heads, FFN 1024, pre-norm, dropout 0.1, Adam): forward, cross-entropy, backward, optimizer
// step, on random tokens.
//
//   train_step --attention softmax [--batch 16 --seq 256 --steps 10 --threads 2 --features 64]
//
// Prints one JSON line: tokens/s (median over the timed steps after two warm-up steps), the
// achieved GEMM FLOP/s of the step (2 M N K per product, forward and backward, counted from the
// shapes), and the peak of kat's tensor memory and of the process (ru_maxrss) above their values
// once the model and the batch exist. bench/train_step.py runs it against PyTorch
// (bench/peers/train_step_peer.py).

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/parallel.h"
#include "core/storage.h"
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
// products of each layer, the output projection, and for softmax attention Q K^T and P V. The
// running sums of linear attention are not GEMMs and are not counted.
double step_flops(std::int64_t b, std::int64_t n, std::int64_t d, std::int64_t ff, std::int64_t layers,
                  std::int64_t vocab, bool softmax) {
  const double t = static_cast<double>(b * n);
  double per_layer = 2.0 * t * static_cast<double>(d * d) * 4 + 2.0 * t * static_cast<double>(d * ff) * 2;
  if (softmax) per_layer += 2.0 * 2.0 * t * static_cast<double>(n * d);
  return 3.0 * (per_layer * static_cast<double>(layers) + 2.0 * t * static_cast<double>(d * vocab));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kat;
  std::string attention = "softmax";
  std::int64_t batch = 16, seq = 256, features = 64;
  int steps = 10, threads = 2;
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
    else if (k == "--threads")
      threads = std::atoi(v.c_str());
    else if (k == "--features")
      features = std::atoll(v.c_str());
    else {
      std::fprintf(stderr, "train_step: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  set_num_threads(threads);
  Rng rng(1);
  StackOptions o;
  o.vocab = 256;
  o.layers = 4;
  o.layer.d_model = 256;
  o.layer.heads = 4;
  o.layer.d_ff = 1024;
  o.layer.dropout = 0.1;
  o.layer.norm = NormPlacement::pre;
  o.layer.attention.type = attention;
  o.layer.attention.features = features;
  o.max_len = seq;
  TransformerLM lm(o, rng);
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
  for (int s = 0; s < steps + 2; ++s) {
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    Variable loss = cross_entropy(lm.forward(input), target);
    loss.backward();
    opt.step();
    const auto t1 = std::chrono::steady_clock::now();
    if (s >= 2) secs.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  const double med = secs[secs.size() / 2];
  const double tokens = static_cast<double>(batch * seq);
  const double gflops = step_flops(batch, seq, 256, 1024, 4, 256, attention == "softmax") / med / 1e9;
  std::printf(
      "{\"impl\": \"kat\", \"attention\": \"%s\", \"batch\": %lld, \"seq\": %lld, \"threads\": %d, \"tokens_per_s\": "
      "%.1f, \"tokens_per_s_min\": %.1f, \"tokens_per_s_max\": %.1f, \"step_ms\": %.2f, \"gemm_gflops\": %.1f, "
      "\"tensor_peak_mb\": %.1f, \"rss_extra_mb\": %.1f}\n",
      attention.c_str(), static_cast<long long>(batch), static_cast<long long>(seq), threads, tokens / med,
      tokens / secs.back(), tokens / secs.front(), 1e3 * med, gflops,
      static_cast<double>(memory_stats().peak_bytes - live_before) / 1e6,
      static_cast<double>(max_rss_kb() - rss_before) / 1e3);
  return 0;
}
