// Elementwise add of two 16M-element float32 arrays into a preallocated third, against the
// memory-bandwidth ceilings on the same machine: a plain loop written here (the STREAM "add"
// kernel) and memcpy of one array. bytes_per_second counts the bytes a kernel must move: 3 x 64 MiB
// for add (read a and b, write out), 2 x 64 MiB for memcpy (read, write). Ordinary stores also
// read each destination line first (write-allocate), which large memcpy avoids with non-temporal
// stores, so add's ceiling is below memcpy's.

#include <cstring>

#include "bench/bench_util.h"
#include "core/kernels/elementwise.h"

namespace {

using kat::Tensor;

constexpr std::int64_t kElements = std::int64_t{1} << 24;  // 16M floats, 64 MiB per array
constexpr std::int64_t kLoopGrain = std::int64_t{1} << 20;
constexpr double kAddBytes = 3.0 * kElements * sizeof(float);
constexpr double kCopyBytes = 2.0 * kElements * sizeof(float);

struct Arrays {
  const Tensor a = kat::bench::random_tensor({kElements}, 1);
  const Tensor b = kat::bench::random_tensor({kElements}, 2);
  Tensor out = Tensor::zeros({kElements});

  void add_kat() { kat::binary(kat::BinaryOp::add, a, b, out); }

  void add_loop() {
    const float* pa = a.data<float>();
    const float* pb = b.data<float>();
    float* po = out.data<float>();
    kat::parallel_for(0, kElements, kLoopGrain, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t i = begin; i < end; ++i) po[i] = pa[i] + pb[i];
    });
  }

  // a -> out, one memcpy per thread of an equal share, so one thread copies in one call.
  void copy() {
    const float* pa = a.data<float>();
    float* po = out.data<float>();
    const std::int64_t parts = kat::num_threads();
    const std::int64_t share = kElements / parts;
    kat::parallel_for(0, parts, 1, [&](std::int64_t begin, std::int64_t end) {
      const std::int64_t first = begin * share;
      const std::int64_t last = end == parts ? kElements : end * share;
      std::memcpy(po + first, pa + first, static_cast<std::size_t>(last - first) * sizeof(float));
    });
  }
};

template <void (Arrays::*Kernel)()>
void run_alone(benchmark::State& state, double bytes) {
  kat::bench::use_threads(state, 0);
  Arrays arrays;
  for (auto _ : state) {
    (arrays.*Kernel)();
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}

void BM_add_kat(benchmark::State& state) { run_alone<&Arrays::add_kat>(state, kAddBytes); }
void BM_add_loop(benchmark::State& state) { run_alone<&Arrays::add_loop>(state, kAddBytes); }
void BM_memcpy(benchmark::State& state) { run_alone<&Arrays::copy>(state, kCopyBytes); }

// The three in one time window, call by call, on the same arrays.
void BM_add_interleaved(benchmark::State& state) {
  kat::bench::use_threads(state, 0);
  Arrays arrays;
  using kat::bench::Side;
  kat::bench::run_interleaved(state,
                              {{"memcpy", Side::reference, kCopyBytes, [&] { arrays.copy(); }},
                               {"loop", Side::reference, kAddBytes, [&] { arrays.add_loop(); }},
                               {"kat", Side::ours, kAddBytes, [&] { arrays.add_kat(); }}},
                              "Bps");
}

void elementwise_args(benchmark::internal::Benchmark* b) {
  b->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
  kat::bench::add_min_max(b);
}

BENCHMARK(BM_add_kat)->Apply(elementwise_args);
BENCHMARK(BM_add_loop)->Apply(elementwise_args);
BENCHMARK(BM_memcpy)->Apply(elementwise_args);
BENCHMARK(BM_add_interleaved)->Apply(elementwise_args)->MinTime(1.0);

}  // namespace
