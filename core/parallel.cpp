#include "core/parallel.h"

#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/kernels/gemm.h"

namespace kat {
namespace {

struct ThreadState {
  int threads = 1;
  bool chosen = false;  // by KAT_NUM_THREADS or set_num_threads
  std::unique_ptr<tbb::global_control> control;
};

int default_threads() {
  if (const char* env = std::getenv("KAT_NUM_THREADS"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end == nullptr || *end != '\0' || n < 1 || n > 1024) {
      throw Error(std::string("KAT_NUM_THREADS: expected a whole number from 1 to 1024, got '") + env + "'");
    }
    return static_cast<int>(n);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadState& state() {
  static ThreadState s;
  static std::once_flag once;
  std::call_once(once, [] {
    s.threads = default_threads();
    const char* env = std::getenv("KAT_NUM_THREADS");
    s.chosen = env != nullptr && *env != '\0';
    s.control = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                      static_cast<std::size_t>(s.threads));
    blas_set_num_threads(1);  // OpenBLAS runs on the calling thread; oneTBB splits (parallel.h)
  });
  return s;
}

thread_local int t_parallel_depth = 0;

struct DepthGuard {
  DepthGuard() { ++t_parallel_depth; }
  ~DepthGuard() { --t_parallel_depth; }
};

}  // namespace

int num_threads() { return state().threads; }

void set_num_threads(int n) {
  if (n < 1) throw Error("set_num_threads: expected at least 1 thread, got " + std::to_string(n));
  ThreadState& s = state();
  s.threads = n;
  s.chosen = true;
  s.control.reset();
  s.control =
      std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(n));
}

bool num_threads_chosen() { return state().chosen; }

int fastest_thread_count(const std::vector<int>& candidates, int rounds, const std::function<double()>& cost,
                         std::vector<double>* costs) {
  if (candidates.empty()) throw Error("fastest_thread_count: no candidate thread counts");
  for (int c : candidates) {
    if (c < 1) throw Error("fastest_thread_count: a thread count must be at least 1, got " + std::to_string(c));
  }
  ThreadState& s = state();
  const int saved = s.threads;
  const bool saved_chosen = s.chosen;
  std::vector<double> best(candidates.size(), std::numeric_limits<double>::infinity());
  for (int r = 0; r < std::max(rounds, 1); ++r) {
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      set_num_threads(candidates[i]);
      best[i] = std::min(best[i], cost());
    }
  }
  set_num_threads(saved);
  s.chosen = saved_chosen;
  std::size_t arg = 0;
  for (std::size_t i = 1; i < best.size(); ++i) {
    if (best[i] < best[arg]) arg = i;
  }
  if (costs != nullptr) *costs = best;
  return candidates[arg];
}

bool in_parallel_region() { return t_parallel_depth > 0; }

void parallel_for(std::int64_t begin, std::int64_t end, std::int64_t grain, RangeFn fn) {
  if (end <= begin) return;
  grain = std::max<std::int64_t>(grain, 1);
  if (end - begin < 2 * grain || num_threads() == 1 || in_parallel_region()) {
    DepthGuard guard;
    fn(begin, end);
    return;
  }
  tbb::parallel_for(
      tbb::blocked_range<std::int64_t>(begin, end, static_cast<std::size_t>(grain)),
      [&](const tbb::blocked_range<std::int64_t>& r) {
        DepthGuard guard;
        fn(r.begin(), r.end());
      },
      tbb::simple_partitioner());
}

}  // namespace kat
