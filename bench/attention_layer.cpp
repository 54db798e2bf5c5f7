// One causal attention layer, forward and backward, as kat computes it: softmax (fused, O(N^2)),
// linear attention with elu features (the fused causal op), or the Performer (FAVOR+ features and
// the same op). Inputs q, k, v are (B, H, N, D) float32 with gradients.
//
//   attention_layer --method linear --n 4096 [--b 1 --h 8 --d 64 --features 64 --reps 5 --threads 2]
//
// Prints one JSON line: the median, min and max of the timed repetitions (after one warm-up), the
// peak of kat's tensor memory above the inputs, and the process's peak RSS growth above its size
// once the inputs exist (ru_maxrss). bench/attention.py runs it against the PyTorch peer
// (bench/peers/attention_peer.py) and prints the table.

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/kernels/blas_kernels.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "layers/attention/registry.h"

namespace {

long max_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

struct Args {
  std::string method = "linear";
  std::int64_t b = 1, h = 8, n = 4096, d = 64, features = 64;
  int reps = 5, threads = 2;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--method")
      a.method = v;
    else if (k == "--b")
      a.b = std::atoll(v);
    else if (k == "--h")
      a.h = std::atoll(v);
    else if (k == "--n")
      a.n = std::atoll(v);
    else if (k == "--d")
      a.d = std::atoll(v);
    else if (k == "--features")
      a.features = std::atoll(v);
    else if (k == "--reps")
      a.reps = std::atoi(v);
    else if (k == "--threads")
      a.threads = std::atoi(v);
    else {
      std::fprintf(stderr, "attention_layer: unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  kat::choose_blas_kernels(argc, argv);  // the kernels the kat command would run on
  using namespace kat;
  const Args a = parse(argc, argv);
  set_num_threads(a.threads);
  Rng rng(1);
  AttentionOptions o;
  o.type = a.method == "softmax" ? "softmax" : a.method == "linear" ? "linear" : "performer";
  o.features = a.features;
  auto kernel = make_attention(o, AttentionSetup{a.d, /*causal=*/true}, rng);

  const Shape shape{a.b, a.h, a.n, a.d};
  auto input = [&] {
    Tensor t = Tensor::empty(shape);
    fill_normal(t, rng, 0.0, 1.0);
    return Variable(t, true);
  };
  Variable q = input(), k = input(), v = input();
  Tensor g = Tensor::empty(shape);
  fill_normal(g, rng, 0.0, 1.0);

  const long rss_before = max_rss_kb();
  const std::int64_t live_before = memory_stats().live_bytes;
  reset_peak_memory();
  std::vector<double> ms;
  for (int r = 0; r <= a.reps; ++r) {
    q.zero_grad();
    k.zero_grad();
    v.zero_grad();
    const auto t0 = std::chrono::steady_clock::now();
    Variable out = kernel->forward(q, k, v, AttentionMask{});
    out.backward(g);
    const auto t1 = std::chrono::steady_clock::now();
    if (r > 0) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());  // r = 0 warms up
  }
  std::sort(ms.begin(), ms.end());
  const double peak_mb = static_cast<double>(memory_stats().peak_bytes - live_before) / 1e6;
  const double rss_mb = static_cast<double>(max_rss_kb() - rss_before) / 1e3;
  std::printf(
      "{\"impl\": \"kat\", \"method\": \"%s\", \"b\": %lld, \"h\": %lld, \"n\": %lld, \"d\": %lld, \"features\": %lld, "
      "\"threads\": %d, \"ms_median\": %.3f, \"ms_min\": %.3f, \"ms_max\": %.3f, \"tensor_peak_mb\": %.1f, "
      "\"rss_extra_mb\": %.1f}\n",
      a.method.c_str(), static_cast<long long>(a.b), static_cast<long long>(a.h), static_cast<long long>(a.n),
      static_cast<long long>(a.d), static_cast<long long>(a.features), a.threads, ms[ms.size() / 2], ms.front(),
      ms.back(), peak_mb, rss_mb);
  return 0;
}
