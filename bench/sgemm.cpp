// The SGEMM ceiling of this machine through kat: kat::gemm on square float32 matrices (OpenBLAS
// underneath), on each thread count asked for.
//
//   sgemm [--n 2048 --reps 5 --threads 1,2]
//
// Prints one JSON line: the median GFLOP/s (2 n^3 per product) of `reps` products after one
// warm-up, per thread count. bench/compare.sh runs it against PyTorch (bench/peers/sgemm_peer.py);
// the training step's achieved GEMM FLOP/s is quoted against it.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/kernels/blas_kernels.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"
#include "core/rng.h"

int main(int argc, char** argv) {
  kat::choose_blas_kernels(argc, argv);  // the kernels the kat command would run on
  using namespace kat;
  std::int64_t n = 2048;
  int reps = 5;
  std::vector<int> threads = {1, 2};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--n") {
      n = std::atoll(v.c_str());
    } else if (k == "--reps") {
      reps = std::atoi(v.c_str());
    } else if (k == "--threads") {
      threads.clear();
      std::stringstream ss(v);
      for (std::string t; std::getline(ss, t, ',');) threads.push_back(std::atoi(t.c_str()));
    } else {
      std::fprintf(stderr, "sgemm: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  Rng rng(1);
  Tensor a = Tensor::empty({n, n}, DType::f32), b = Tensor::empty({n, n}, DType::f32);
  Tensor c = Tensor::empty({n, n}, DType::f32);
  fill_normal(a, rng, 0.0, 1.0);
  fill_normal(b, rng, 0.0, 1.0);
  const double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  nlohmann::ordered_json out;
  out["impl"] = "kat";
  out["n"] = n;
  out["blas_kernels"] = blas_kernels().family;
  auto& gflops = out["gflops"];
  for (std::size_t i = 0; i < threads.size(); ++i) {
    set_num_threads(threads[i]);
    std::vector<double> rates;
    for (int r = 0; r <= reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      gemm(a, b, c);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r > 0) rates.push_back(flops / s / 1e9);
    }
    std::sort(rates.begin(), rates.end());
    gflops[std::to_string(threads[i])] = std::round(rates[rates.size() / 2] * 10) / 10;
  }
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
