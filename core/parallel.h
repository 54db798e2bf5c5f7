#pragma once
// The threading policy of kat, in one place.
//
// - Our own loops (elementwise, reductions, softmax, norms, attention kernels) run on oneTBB through
//   parallel_for below, and never call BLAS from inside a parallel region.
// - A single large GEMM runs on OpenBLAS's own threads, called from the thread that owns the
//   computation.
// - A batch of small GEMMs runs its batch over oneTBB with OpenBLAS held to one thread for the
//   duration (BlasSingleThreadGuard), so the two pools never nest: on 2 cores nesting
//   oversubscribes and halves the speed.
// - One setting controls both pools: set_num_threads(n), or the environment variable
//   KAT_NUM_THREADS read at the first use (default: the hardware concurrency).

#include <cstdint>
#include <functional>

namespace kat {

int num_threads();
void set_num_threads(int n);  // n >= 1; applies to oneTBB and OpenBLAS alike

// Calls fn(begin, end) on disjoint subranges covering [begin, end), in parallel when the range is
// at least 2 * grain long and more than one thread is allowed. Subranges are at least `grain`
// long (except possibly the last), so per-call overhead stays small.
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn);

// True while the calling thread runs inside parallel_for (BLAS must not start its own threads).
bool in_parallel_region();

// Holds OpenBLAS to one thread while alive; restores the thread count afterwards.
class BlasSingleThreadGuard {
 public:
  BlasSingleThreadGuard();
  ~BlasSingleThreadGuard();
  BlasSingleThreadGuard(const BlasSingleThreadGuard&) = delete;
  BlasSingleThreadGuard& operator=(const BlasSingleThreadGuard&) = delete;

 private:
  int saved_;
};

}  // namespace kat
