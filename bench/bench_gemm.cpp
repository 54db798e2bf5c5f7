// GEMM: kat::gemm (preallocated output) and kat::matmul (allocating) through Tensor, against
// cblas_sgemm on the same buffers. Square float32 products, n = 512, 1024, 2048, on 1 and 2
// threads. kat adds shape checks and a layout decision in front of the same OpenBLAS call, so
// its FLOP rate should be that of the raw call within noise (the target: within 3%). Each is
// timed alone (BM_sgemm_<which>) and all three call by call in one time window
// (BM_sgemm_interleaved), whose ratios are the ones to quote on a machine whose speed drifts.
//
// BM_decode_products_interleaved: the matrix-vector products of one decoding token of the reference
// language model (4 layers of q, k, v, o at 256 x 256 and the feed-forward's 256 x 1,024 and
// 1,024 x 256, and the tied 256 x 256 output), float32 `cblas_sgemv` against each float16 kernel this
// build and CPU have (core/kernels/half.h), on one thread. Rates are tokens' products per second;
// `f16_<kernel>_vs_sgemv_f32` is the speed-up over float32.

#include <cblas.h>

#include "bench/bench_util.h"
#include "core/kernels/gemm.h"
#include "core/kernels/half.h"

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

// One decoding token's weight matrices, each as float32 (in, out) as a Linear layer stores it and
// as its float16 copy (out, in).
struct DecodeProducts {
  DecodeProducts() {
    const std::int64_t e = 256, f = 1024;
    std::vector<std::pair<std::int64_t, std::int64_t>> shapes;  // (in, out)
    for (int layer = 0; layer < 4; ++layer) {
      for (int i = 0; i < 4; ++i) shapes.emplace_back(e, e);
      shapes.emplace_back(e, f);
      shapes.emplace_back(f, e);
    }
    shapes.emplace_back(e, e);
    std::uint64_t seed = 10;
    for (const auto& [in, out] : shapes) {
      Tensor w = kat::bench::random_tensor({in, out}, seed++, -0.05, 0.05);
      halves.emplace_back(w, /*transpose=*/true, "bench");
      weights.push_back(std::move(w));
    }
    x.assign(1024, 0.5f);
    y.assign(1024, 0.0f);
  }
  void float32() {
    for (const Tensor& w : weights) {
      const int in = static_cast<int>(w.size(0)), out = static_cast<int>(w.size(1));
      cblas_sgemv(CblasRowMajor, CblasTrans, in, out, 1.0f, w.data<float>(), out, x.data(), 1, 0.0f, y.data(), 1);
    }
  }
  void float16(kat::HalfKernel k) {
    for (const kat::HalfMatrix& h : halves) h.gemv(x.data(), nullptr, y.data(), k);
  }
  std::vector<Tensor> weights;
  std::vector<kat::HalfMatrix> halves;
  std::vector<float> x, y;
};

void BM_decode_products_interleaved(benchmark::State& state) {
  kat::bench::use_threads(state, 0);
  DecodeProducts p;
  using kat::bench::Side;
  std::vector<kat::bench::Contender> contenders = {{"sgemv_f32", Side::reference, 1.0, [&] { p.float32(); }}};
  for (kat::HalfKernel k : {kat::HalfKernel::portable, kat::HalfKernel::avx2, kat::HalfKernel::avx512}) {
    if (!kat::half_kernel_available(k)) continue;
    contenders.push_back({std::string("f16_") + kat::half_kernel_name(k), Side::ours, 1.0, [&p, k] { p.float16(k); }});
  }
  kat::bench::run_interleaved(state, contenders, "tokens_per_second");
}

BENCHMARK(BM_sgemm_cblas)->Apply(gemm_args);
BENCHMARK(BM_sgemm_kat_gemm)->Apply(gemm_args);
BENCHMARK(BM_sgemm_kat_matmul)->Apply(gemm_args);
BENCHMARK(BM_sgemm_interleaved)->Apply(gemm_args)->MinTime(2.0);
BENCHMARK(BM_decode_products_interleaved)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0);

}  // namespace
