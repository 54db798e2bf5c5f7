// The fused causal linear attention op alone, row by row (chunk 0) against the chunked kernels,
// forward and backward, timed alternately in one process (a busy machine drifts; the ratios hold).
//
//   causal_linear_op [--b 4 --h 4 --n 1024 --m 64 --dv 64 --reps 9 --chunks 0,-1,32,64 --threads 1,2
//                     --inputs gemm,written]
//
// Chunk -1 is the default choice of the op (causal_linear_op.h): the register-tiled kernels where
// the CPU has AVX-512.
// Cases: "linear" (no stabilizer) and "performer" (a non-decreasing key stabilizer C, the running
// maximum of a random walk, as FAVOR+ reports it), each on 1 and 2 threads. Prints one line per
// (case, threads, chunk): median milliseconds of the forward and of the backward, and their ratio
// to chunk 0, and the rate of forward + backward counted as the recurrence's 12 N M Dv FLOPs per
// head, against the SGEMM ceiling (2048^3 through kat::gemm, timed in the same repetitions).
// Inputs (--inputs gemm,written): "gemm" runs the op right after that 48 MB product, which leaves
// its operands in memory or L3; "written" copies the inputs in just before the forward and the
// gradient just before the backward, as the ops around it in a training step leave them.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/kernels/blas_kernels.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"
#include "layers/attention/causal_linear_op.h"
#include "tests/test_util.h"

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

double median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

// Comma-separated words, and numbers.
std::vector<std::string> parse_words(const char* s) {
  std::vector<std::string> out;
  for (const char* p = s; *p != '\0';) {
    const char* end = std::strchr(p, ',');
    out.emplace_back(p, end != nullptr ? end : p + std::strlen(p));
    p = end != nullptr ? end + 1 : p + std::strlen(p);
  }
  return out;
}

std::vector<std::int64_t> parse_list(const char* s) {
  std::vector<std::int64_t> out;
  for (const std::string& w : parse_words(s)) out.push_back(std::strtoll(w.c_str(), nullptr, 10));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  kat::choose_blas_kernels(argc, argv);  // the kernels the kat command would run on
  using namespace kat;
  std::int64_t B = 4, H = 4, N = 1024, M = 64, Dv = 64;
  int reps = 9;
  std::vector<std::int64_t> chunks = {0, -1, 32, 64};
  std::vector<std::int64_t> thread_counts = {1, 2};
  std::vector<std::string> input_modes = {"gemm", "written"};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const char* val = argv[i + 1];
    if (key == "--b")
      B = std::atoll(val);
    else if (key == "--h")
      H = std::atoll(val);
    else if (key == "--n")
      N = std::atoll(val);
    else if (key == "--m")
      M = std::atoll(val);
    else if (key == "--dv")
      Dv = std::atoll(val);
    else if (key == "--reps")
      reps = std::atoi(val);
    else if (key == "--chunks")
      chunks = parse_list(val);
    else if (key == "--threads")
      thread_counts = parse_list(val);
    else if (key == "--inputs")
      input_modes = parse_words(val);
    else {
      std::fprintf(stderr, "causal_linear_op: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  Rng rng(1);
  const Tensor q = test::rand_uniform({B, H, N, M}, rng, 0.0, 1.0, DType::f32);
  const Tensor k = test::rand_uniform({B, H, N, M}, rng, 0.0, 1.0, DType::f32);
  const Tensor v = test::randn({B, H, N, Dv}, rng, DType::f32), g = test::randn({B, H, N, Dv}, rng, DType::f32);
  Tensor c = Tensor::empty({B, H, N, 1}, DType::f32);
  float* pc = c.data<float>();
  for (std::int64_t s = 0; s < B * H; ++s) {
    double walk = 0, run = -1e30;
    for (std::int64_t i = 0; i < N; ++i) pc[s * N + i] = static_cast<float>(run = std::max(run, walk += rng.normal()));
  }
  for (const std::string& mode : input_modes) {
    if (mode != "gemm" && mode != "written") {
      std::fprintf(stderr, "causal_linear_op: --inputs takes gemm and written, not %s\n", mode.c_str());
      return 2;
    }
  }
  // The op's inputs and its gradient, copied in from q, k, v and g before each run of "written".
  Tensor qw = q.clone(), kw = k.clone(), vw = v.clone(), gw = g.clone();
  const std::int64_t gn = 2048;
  Tensor ga = test::randn({gn, gn}, rng, DType::f32), gb = test::randn({gn, gn}, rng, DType::f32);
  Tensor gc = Tensor::empty({gn, gn}, DType::f32);
  const double op_flops = 12.0 * static_cast<double>(B * H * N * M * Dv);
  std::printf("B %lld H %lld N %lld M %lld Dv %lld, %s kernels, %.3f GFLOP counted per forward + backward\n",
              static_cast<long long>(B), static_cast<long long>(H), static_cast<long long>(N),
              static_cast<long long>(M), static_cast<long long>(Dv), blas_kernels().family.c_str(), op_flops / 1e9);
  for (const char* name : {"linear", "performer"}) {
    const Tensor log_scale = std::strcmp(name, "performer") == 0 ? c : Tensor();
    for (std::int64_t threads : thread_counts) {
      set_num_threads(static_cast<int>(threads));
      std::map<std::pair<std::int64_t, std::string>, std::vector<double>> fwd, bwd;
      std::vector<double> ceiling;
      for (int rep = 0; rep <= reps; ++rep) {
        for (std::int64_t chunk : chunks) {
          for (const std::string& mode : input_modes) {
            if (mode == "gemm") {
              const auto g0 = std::chrono::steady_clock::now();
              gemm(ga, gb, gc);
              if (rep > 0) ceiling.push_back(2.0 * gn * gn * gn / (ms_since(g0) * 1e6));
            } else {
              qw.copy_(q), kw.copy_(k), vw.copy_(v);
            }
            Variable a(qw, true), b(kw, true), d(vw, true);
            auto t0 = std::chrono::steady_clock::now();
            Variable out = causal_linear_attention(a, b, d, 1e-6, log_scale, chunk);
            const double f = ms_since(t0);
            if (mode == "written") gw.copy_(g);
            t0 = std::chrono::steady_clock::now();
            out.backward(gw);
            const double bk = ms_since(t0);
            if (rep == 0) continue;  // warm-up
            fwd[{chunk, mode}].push_back(f);
            bwd[{chunk, mode}].push_back(bk);
          }
        }
      }
      const double sgemm = ceiling.empty() ? 0.0 : median(ceiling);
      for (const std::string& mode : input_modes) {
        for (std::int64_t chunk : chunks) {
          const double f = median(fwd[{chunk, mode}]), bk = median(bwd[{chunk, mode}]);
          const double rate = op_flops / ((f + bk) * 1e6);
          std::printf(
              "%-9s threads %lld chunk %4lld  inputs %-7s  forward %8.3f ms (%.2fx)  backward %8.3f ms (%.2fx)  %6.1f "
              "GFLOP/s",
              name, static_cast<long long>(threads), static_cast<long long>(chunk), mode.c_str(), f,
              median(fwd[{chunks[0], mode}]) / f, bk, median(bwd[{chunks[0], mode}]) / bk, rate);
          if (sgemm > 0) std::printf(" = %.2f of SGEMM %.1f", rate / sgemm, sgemm);
          std::printf("\n");
        }
      }
    }
  }
  return 0;
}
