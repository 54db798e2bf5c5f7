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
#include <memory>
#include <type_traits>
#include <vector>

namespace kat {

int num_threads();
void set_num_threads(int n);  // n >= 1; applies to oneTBB and OpenBLAS alike
// True once the thread count was chosen: by set_num_threads (kat --threads) or KAT_NUM_THREADS.
bool num_threads_chosen();

// The thread count among `candidates` at which cost() is lowest. cost() runs under each candidate
// in turn, `rounds` times over (alternating, so that a machine whose speed drifts affects each
// alike), and returns a cost measured by the caller (e.g. milliseconds per token); each candidate
// keeps its lowest. `costs` (if given) receives them, in the order of `candidates`. The thread
// count is restored afterwards; ties go to the earlier candidate.
int fastest_thread_count(const std::vector<int>& candidates, int rounds, const std::function<double()>& cost,
                         std::vector<double>* costs = nullptr);

// A non-owning reference to a callable fn(begin, end), valid while the callable lives: handing a
// lambda to parallel_for costs no heap allocation (a std::function holding a lambda that captures
// more than two pointers allocates one, and kernels run parallel_for thousands of times a step).
class RangeFn {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, RangeFn>>>
  RangeFn(F&& fn)  // NOLINT(google-explicit-constructor, bugprone-forwarding-reference-overload)
      : callable_(const_cast<void*>(static_cast<const void*>(std::addressof(fn)))),
        call_([](void* c, std::int64_t b, std::int64_t e) { (*static_cast<std::remove_reference_t<F>*>(c))(b, e); }) {}
  void operator()(std::int64_t begin, std::int64_t end) const { call_(callable_, begin, end); }

 private:
  void* callable_;
  void (*call_)(void*, std::int64_t, std::int64_t);
};

// Calls fn(begin, end) on disjoint subranges covering [begin, end), in parallel when the range is
// at least 2 * grain long and more than one thread is allowed. Subranges are at least `grain`
// long (except possibly the last), so per-call overhead stays small.
void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, RangeFn fn);

// True while the calling thread runs inside parallel_for (BLAS must not start its own threads).
bool in_parallel_region();

}  // namespace kat
