// GEMM: kat::gemm (preallocated output) and kat::matmul (allocating) through Tensor, against
// cblas_sgemm on the same buffers. Square float32 products, n = 512, 1024, 2048, on 1 and 2
// threads. kat adds shape checks and a layout decision in front of the same OpenBLAS call, so
// its FLOP rate should be that of the raw call within noise (the target: within 3%). Each is
// timed alone (BM_sgemm_<which>) and all three call by call in one time window
// (BM_sgemm_interleaved), whose ratios are the ones to quote on a machine whose speed drifts.

#include <cblas.h>

#include "bench/bench_util.h"
#include "core/kernels/gemm.h"

namespace {

using kat::Tensor;

struct Operands {
  explicit Operands(std::int64_t n)
      : a(kat::bench::random_tensor({n, n}, 1)), b(kat::bench::random_tensor({n, n}, 2)), c(Tensor::zeros({n, n})) {}
  Tensor a, b, c;  // (n, n) each

  // c = a @ b straight through OpenBLAS, on the tensors' buffers.
  void cblas() {
    const int n = static_cast<int>(a.size(0));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n, 0.0f,
                c.data<float>(), n);
  }
};

// 2 n^3 floating-point operations per product.
double gemm_flops(std::int64_t n) {
  const double d = static_cast<double>(n);
  return 2.0 * d * d * d;
}

// FLOP/s per second of wall time (OpenBLAS's threads do not count in the caller's CPU time).
void report_flops(benchmark::State& state, std::int64_t n) {
  state.counters["FLOPS"] = benchmark::Counter(gemm_flops(n), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_sgemm_cblas(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  kat::bench::use_threads(state, 1);
  Operands op(n);
  for (auto _ : state) {
    op.cblas();
    benchmark::ClobberMemory();
  }
  report_flops(state, n);
}

void BM_sgemm_kat_gemm(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  kat::bench::use_threads(state, 1);
  Operands op(n);
  for (auto _ : state) {
    kat::gemm(op.a, op.b, op.c);
    benchmark::ClobberMemory();
  }
  report_flops(state, n);
}

void BM_sgemm_kat_matmul(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  kat::bench::use_threads(state, 1);
  Operands op(n);
  kat::bench::FaultCounter faults;
  for (auto _ : state) {
    Tensor c = kat::matmul(op.a, op.b);  // allocates its (n, n) output
    benchmark::DoNotOptimize(c.raw_data());
  }
  faults.report(state);
  report_flops(state, n);
}

// The three in one time window, call by call: the ratios kat_gemm_vs_cblas and kat_matmul_vs_cblas
// answer whether kat keeps the speed of raw BLAS, with the machine's drifts cancelled.
void BM_sgemm_interleaved(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  kat::bench::use_threads(state, 1);
  Operands op(n);
  const double flops = gemm_flops(n);
  using kat::bench::Side;
  kat::bench::run_interleaved(state,
                              {{"cblas", Side::reference, flops, [&] { op.cblas(); }},
                               {"kat_gemm", Side::ours, flops, [&] { kat::gemm(op.a, op.b, op.c); }},
                               {"kat_matmul", Side::ours, flops,
                                [&] {
                                  Tensor out = kat::matmul(op.a, op.b);
                                  benchmark::DoNotOptimize(out.raw_data());
                                }}},
                              "FLOPS");
}

void gemm_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"n", "threads"})->ArgsProduct({{512, 1024, 2048}, {1, 2}});
  b->UseRealTime()->Unit(benchmark::kMillisecond);
  kat::bench::add_min_max(b);
}

BENCHMARK(BM_sgemm_cblas)->Apply(gemm_args);
BENCHMARK(BM_sgemm_kat_gemm)->Apply(gemm_args);
BENCHMARK(BM_sgemm_kat_matmul)->Apply(gemm_args);
BENCHMARK(BM_sgemm_interleaved)->Apply(gemm_args)->MinTime(2.0);

}  // namespace
