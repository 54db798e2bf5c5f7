#pragma once
// The threading policy of kat, in one place.
//
// - One pool of threads: oneTBB's. Our loops (elementwise, reductions, softmax, norms, attention
//   kernels) run on it through parallel_for below.
// - OpenBLAS always runs on the thread that calls it (its own thread count is held at 1). A batch
//   of matrix products runs its items over parallel_for; a single large product is cut into
//   blocks of rows or columns, one per thread (core/kernels/gemm.cpp). So the two never nest or
//   compete: a second pool of OpenBLAS threads would spin between products and take cycles from
//   oneTBB's (measured: a third of a training step's time in sched_yield on 2 cores).
// - One setting controls the pool: set_num_threads(n), or the environment variable
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

}  // namespace kat
