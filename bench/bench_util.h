#pragma once
// Helpers shared by the kernel benchmarks: seeded inputs, the thread count of a run, a count of
// the page faults a kernel causes (non-zero when it touches freshly allocated memory), and an
// interleaved comparison of several implementations of one computation.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/parallel.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace kat::bench {

// A contiguous float32 tensor of uniform values in [low, high), the same for the same seed.
inline Tensor random_tensor(const Shape& shape, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  Tensor t = Tensor::empty(shape);
  Rng rng(seed);
  fill_uniform(t, rng, low, high);
  return t;
}

// Sets kat's thread count (oneTBB and OpenBLAS alike) to the benchmark argument `arg`; the
// references written in the benchmarks split their work with kat::parallel_for, so they get the
// same number of threads.
inline void use_threads(const benchmark::State& state, int arg) { set_num_threads(static_cast<int>(state.range(arg))); }

// Adds the minimum and maximum over repetitions to the aggregates (mean, median, stddev, cv),
// so the spread of a noisy measurement shows next to its median.
inline void add_min_max(benchmark::internal::Benchmark* b) {
  b->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
  b->ComputeStatistics("max", [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); });
}

inline long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// Reports minor page faults per iteration as the counter "faults": each one is a 4 KiB page the
// kernel touched for the first time, the price of allocating outputs on every call.
class FaultCounter {
 public:
  FaultCounter() : start_(minor_faults()) {}
  void report(benchmark::State& state) const {
    state.counters["faults"] =
        benchmark::Counter(static_cast<double>(minor_faults() - start_), benchmark::Counter::kAvgIterations);
  }

 private:
  long start_;
};

// One implementation of a computation for run_interleaved: a name for its counters, whether it is
// kat's or a reference, the work of one call (FLOPs or bytes) and the call.
enum class Side { reference, ours };
struct Contender {
  std::string name;
  Side side;
  double work;
  std::function<void()> run;
};

// Times the contenders in turn, one call each per iteration, rotating which one goes first, so
// drifts of the machine's speed (memory-bound kernels here switch between two speeds within
// seconds) fall on all of them alike. Reports each contender's rate as "<name>_<unit>" (its work
// per second of its own calls), its minor page faults per call as "<name>_faults", and, for each
// of ours against each reference, "<ours>_vs_<ref>": the ratio of their rates (above 1: ours is
// faster). The benchmark's own time is that of one round of all contenders.
inline void run_interleaved(benchmark::State& state, const std::vector<Contender>& contenders,
                            const std::string& unit) {
  const std::size_t k = contenders.size();
  std::vector<double> seconds(k, 0.0);
  std::vector<long> faults(k, 0);
  std::size_t round = 0;
  for (auto _ : state) {
    for (std::size_t j = 0; j < k; ++j) {
      const std::size_t c = (j + round) % k;
      const long faults_before = minor_faults();
      const auto start = std::chrono::steady_clock::now();
      contenders[c].run();
      benchmark::ClobberMemory();
      seconds[c] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      faults[c] += minor_faults() - faults_before;
    }
    ++round;
  }
  if (round == 0) return;
  std::vector<double> rate(k);
  for (std::size_t c = 0; c < k; ++c) {
    rate[c] = contenders[c].work * static_cast<double>(round) / seconds[c];
    state.counters[contenders[c].name + "_" + unit] = rate[c];
    state.counters[contenders[c].name + "_faults"] = static_cast<double>(faults[c]) / static_cast<double>(round);
  }
  for (std::size_t o = 0; o < k; ++o) {
    if (contenders[o].side != Side::ours) continue;
    for (std::size_t r = 0; r < k; ++r) {
      if (contenders[r].side != Side::reference) continue;
      state.counters[contenders[o].name + "_vs_" + contenders[r].name] = rate[o] / rate[r];
    }
  }
}

}  // namespace kat::bench
