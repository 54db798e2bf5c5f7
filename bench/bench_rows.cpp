// Row kernels over the last axis, forward and backward, on (8192, 512) float32: kat::softmax +
// kat::softmax_backward and kat::layer_norm + kat::layer_norm_backward, each against a naive
// reference written here (std::exp, a divide, two passes for the statistics). The references
// split rows with kat::parallel_for like the kernels, so both sides get the same threads.
// bytes_per_second counts the tensors each side must read and write: forward x -> y, backward
// (g, y or x) -> dx, 5 x 16 MiB per iteration for both ops; items_per_second counts rows.

#include <algorithm>
#include <cmath>
#include <vector>

#include "bench/bench_util.h"
#include "core/kernels/norm.h"
#include "core/kernels/softmax.h"

namespace {

using kat::Tensor;

constexpr std::int64_t kRows = 8192;
constexpr std::int64_t kCols = 512;
constexpr std::int64_t kRowGrain = 32;      // rows per parallel task, as the kernels choose for C = 512
constexpr std::int64_t kRowsPerBlock = 64;  // rows per partial sum of dgamma and dbeta
constexpr double kEps = 1e-5;

// Forward reads x and writes y; backward reads g and y (softmax) or x (layer norm) and writes dx.
constexpr double kBytesPerPass = 5.0 * kRows * kCols * sizeof(float);

void report_traffic(benchmark::State& state) {
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kBytesPerPass));
  state.SetItemsProcessed(state.iterations() * kRows);
}

// ---- softmax ----

void softmax_reference(const float* x, float* y, std::int64_t r0, std::int64_t r1) {
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * kCols;
    float* yr = y + r * kCols;
    float m = xr[0];
    for (std::int64_t i = 1; i < kCols; ++i) m = std::max(m, xr[i]);
    float s = 0.0f;
    for (std::int64_t i = 0; i < kCols; ++i) {
      yr[i] = std::exp(xr[i] - m);
      s += yr[i];
    }
    for (std::int64_t i = 0; i < kCols; ++i) yr[i] /= s;
  }
}

// dx = y * (g - dot(g, y)) per row.
void softmax_backward_reference(const float* g, const float* y, float* dx, std::int64_t r0, std::int64_t r1) {
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* gr = g + r * kCols;
    const float* yr = y + r * kCols;
    float* dr = dx + r * kCols;
    float dot = 0.0f;
    for (std::int64_t i = 0; i < kCols; ++i) dot += gr[i] * yr[i];
    for (std::int64_t i = 0; i < kCols; ++i) dr[i] = yr[i] * (gr[i] - dot);
  }
}

struct SoftmaxData {
  Tensor x = kat::bench::random_tensor({kRows, kCols}, 1, -4.0, 4.0);  // (R, C)
  Tensor g = kat::bench::random_tensor({kRows, kCols}, 2);             // (R, C) upstream gradient
  Tensor y = Tensor::zeros({kRows, kCols});
  Tensor dx = Tensor::zeros({kRows, kCols});

  void run_reference() {
    const float* px = x.data<float>();
    const float* pg = g.data<float>();
    float* py = y.data<float>();
    float* pd = dx.data<float>();
    kat::parallel_for(0, kRows, kRowGrain, [&](std::int64_t b, std::int64_t e) { softmax_reference(px, py, b, e); });
    kat::parallel_for(0, kRows, kRowGrain,
                      [&](std::int64_t b, std::int64_t e) { softmax_backward_reference(pg, py, pd, b, e); });
  }
  void run_kat() {
    kat::softmax(x, y);
    kat::softmax_backward(g, y, dx);
  }
};

// Both sides must compute the same thing, or the timing means nothing.
bool softmax_agrees(benchmark::State& state) {
  SoftmaxData ours, ref;
  ours.run_kat();
  ref.run_reference();
  if (!kat::allclose(ours.y, ref.y, 1e-4, 1e-7) || !kat::allclose(ours.dx, ref.dx, 1e-3, 1e-7)) {
    state.SkipWithError("softmax: kat and the reference disagree");
    return false;
  }
  return true;
}

void BM_softmax_fwd_bwd_reference(benchmark::State& state) {
  kat::bench::use_threads(state, 0);
  SoftmaxData d;
  for (auto _ : state) {
    d.run_reference();
    benchmark::ClobberMemory();
  }
  report_traffic(state);
}

void BM_softmax_fwd_bwd_kat(benchmark::State& state) {
  kat::bench::use_threads(state, 0);
  if (!softmax_agrees(state)) return;
  SoftmaxData d;
  kat::bench::FaultCounter faults;
  for (auto _ : state) {
    d.run_kat();
    benchmark::ClobberMemory();
  }
  faults.report(state);
  report_traffic(state);
}

void BM_softmax_fwd_bwd_interleaved(benchmark::State& state) {
  kat::bench::use_threads(state, 0);
  if (!softmax_agrees(state)) return;
  SoftmaxData ref, ours;
  using kat::bench::Side;
  kat::bench::run_interleaved(state,
                              {{"reference", Side::reference, kBytesPerPass, [&] { ref.run_reference(); }},
                               {"kat", Side::ours, kBytesPerPass, [&] { ours.run_kat(); }}},
                              "Bps");
}

// ---- layer norm ----

// Two passes for the statistics (mean, then the centred sum of squares), a third for y.
void layer_norm_reference(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                          std::int64_t r0, std::int64_t r1) {
  for (std::int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * kCols;
    float* yr = y + r * kCols;
    float s = 0.0f;
    for (std::int64_t i = 0; i < kCols; ++i) s += xr[i];
    const float mu = s / static_cast<float>(kCols);
    float v = 0.0f;
    for (std::int64_t i = 0; i < kCols; ++i) v += (xr[i] - mu) * (xr[i] - mu);
    const float rs = 1.0f / std::sqrt(v / static_cast<float>(kCols) + static_cast<float>(kEps));
    for (std::int64_t i = 0; i < kCols; ++i) yr[i] = (xr[i] - mu) * rs * gamma[i] + beta[i];
    mean[r] = mu;
    rstd[r] = rs;
  }
}

// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with dxhat = g * gamma; dgamma and
// dbeta summed per block of rows into `part_gamma` and `part_beta`, (blocks, C), combined later.
void layer_norm_backward_reference(const float* g, const float* x, const float* gamma, const float* mean,
                                   const float* rstd, float* dx, float* part_gamma, float* part_beta, std::int64_t b0,
                                   std::int64_t b1) {
  for (std::int64_t blk = b0; blk < b1; ++blk) {
    float* pg = part_gamma + blk * kCols;
    float* pb = part_beta + blk * kCols;
    std::fill(pg, pg + kCols, 0.0f);
    std::fill(pb, pb + kCols, 0.0f);
    for (std::int64_t r = blk * kRowsPerBlock; r < (blk + 1) * kRowsPerBlock; ++r) {
      const float* gr = g + r * kCols;
      const float* xr = x + r * kCols;
      float* dr = dx + r * kCols;
      const float mu = mean[r], rs = rstd[r];
      float sum_d = 0.0f, sum_dx = 0.0f;
      for (std::int64_t i = 0; i < kCols; ++i) {
        const float xhat = (xr[i] - mu) * rs;
        sum_d += gr[i] * gamma[i];
        sum_dx += gr[i] * gamma[i] * xhat;
        pg[i] += gr[i] * xhat;
        pb[i] += gr[i];
      }
      const float md = sum_d / static_cast<float>(kCols);
      const float mdx = sum_dx / static_cast<float>(kCols);
      for (std::int64_t i = 0; i < kCols; ++i) {
        const float xhat = (xr[i] - mu) * rs;
        dr[i] = rs * (gr[i] * gamma[i] - md - xhat * mdx);
      }
    }
  }
}

struct LayerNormData {
  static constexpr std::int64_t kBlocks = kRows / kRowsPerBlock;
  Tensor x = kat::bench::random_tensor({kRows, kCols}, 1, -2.0, 3.0);  // (R, C)
  Tensor g = kat::bench::random_tensor({kRows, kCols}, 2);             // (R, C) upstream gradient
  Tensor gamma = kat::bench::random_tensor({kCols}, 3, 0.5, 1.5);
  Tensor beta = kat::bench::random_tensor({kCols}, 4);
  Tensor y, mean, rstd, dx, dgamma, dbeta;  // kat's outputs, allocated by the kernels

  // The reference's outputs, allocated once.
  Tensor ref_y = Tensor::zeros({kRows, kCols}), ref_dx = Tensor::zeros({kRows, kCols});
  Tensor ref_mean = Tensor::zeros({kRows}), ref_rstd = Tensor::zeros({kRows});
  Tensor ref_dgamma = Tensor::zeros({kCols}), ref_dbeta = Tensor::zeros({kCols});
  Tensor part_gamma = Tensor::zeros({kBlocks, kCols}), part_beta = Tensor::zeros({kBlocks, kCols});

  void run_reference() {
    const float* px = x.data<float>();
    const float* pg = g.data<float>();
    const float* pgm = gamma.data<float>();
    const float* pbt = beta.data<float>();
    float* pm = ref_mean.data<float>();
    float* pr = ref_rstd.data<float>();
    float* py = ref_y.data<float>();
    float* pd = ref_dx.data<float>();
    float* ppg = part_gamma.data<float>();
    float* ppb = part_beta.data<float>();
    kat::parallel_for(0, kRows, kRowGrain,
                      [&](std::int64_t b, std::int64_t e) { layer_norm_reference(px, pgm, pbt, py, pm, pr, b, e); });
    kat::parallel_for(0, kBlocks, 1, [&](std::int64_t b, std::int64_t e) {
      layer_norm_backward_reference(pg, px, pgm, pm, pr, pd, ppg, ppb, b, e);
    });
    float* dgm = ref_dgamma.data<float>();
    float* dbt = ref_dbeta.data<float>();
    std::fill(dgm, dgm + kCols, 0.0f);
    std::fill(dbt, dbt + kCols, 0.0f);
    for (std::int64_t blk = 0; blk < kBlocks; ++blk) {
      for (std::int64_t i = 0; i < kCols; ++i) {
        dgm[i] += ppg[blk * kCols + i];
        dbt[i] += ppb[blk * kCols + i];
      }
    }
  }
  void run_kat() {
    kat::layer_norm(x, gamma, beta, kEps, y, mean, rstd);
    kat::layer_norm_backward(g, x, gamma, mean, rstd, &dx, &dgamma, &dbeta);
  }
};

bool layer_norm_agrees(benchmark::State& state) {
  LayerNormData d;
  d.run_kat();
  d.run_reference();
  if (!kat::allclose(d.y, d.ref_y, 1e-4, 1e-5) || !kat::allclose(d.dx, d.ref_dx, 1e-3, 1e-5) ||
      !kat::allclose(d.dgamma, d.ref_dgamma, 1e-3, 1e-3) || !kat::allclose(d.dbeta, d.ref_dbeta, 1e-3, 1e-3)) {
    state.SkipWithError("layer_norm: kat and the reference disagree");
    return false;
  }
  return true;
}

void BM_layer_norm_fwd_bwd_reference(benchmark::State& state) {
  kat::bench::use_threads(state, 0);
  LayerNormData d;
  for (auto _ : state) {
    d.run_reference();
    benchmark::ClobberMemory();
  }
  report_traffic(state);
}

void BM_layer_norm_fwd_bwd_kat(benchmark::State& state) {
  kat::bench::use_threads(state, 0);
  if (!layer_norm_agrees(state)) return;
  LayerNormData d;
  kat::bench::FaultCounter faults;
  for (auto _ : state) {
    d.run_kat();
    benchmark::ClobberMemory();
  }
  faults.report(state);
  report_traffic(state);
}

void BM_layer_norm_fwd_bwd_interleaved(benchmark::State& state) {
  kat::bench::use_threads(state, 0);
  if (!layer_norm_agrees(state)) return;
  LayerNormData ref, ours;
  using kat::bench::Side;
  kat::bench::run_interleaved(state,
                              {{"reference", Side::reference, kBytesPerPass, [&] { ref.run_reference(); }},
                               {"kat", Side::ours, kBytesPerPass, [&] { ours.run_kat(); }}},
                              "Bps");
}

void rows_args(benchmark::internal::Benchmark* b) {
  b->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
  kat::bench::add_min_max(b);
}

BENCHMARK(BM_softmax_fwd_bwd_reference)->Apply(rows_args);
BENCHMARK(BM_softmax_fwd_bwd_kat)->Apply(rows_args);
BENCHMARK(BM_layer_norm_fwd_bwd_reference)->Apply(rows_args);
BENCHMARK(BM_layer_norm_fwd_bwd_kat)->Apply(rows_args);
BENCHMARK(BM_softmax_fwd_bwd_interleaved)->Apply(rows_args)->MinTime(1.0);
BENCHMARK(BM_layer_norm_fwd_bwd_interleaved)->Apply(rows_args)->MinTime(1.0);

}  // namespace
