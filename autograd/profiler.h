#pragma once
// The op profiler: the time of every op's forward and of every node's backward, summed by op name.
//
// Off unless a ProfileScope is alive on the calling thread. Then the OpTimer at the top of each op
// function times its forward, and the engine's OpTimer around each node's backward times that; a
// timer that runs inside another (an op built from other ops) is subtracted from the outer one, so
// every interval is counted once. Off, an OpTimer costs one thread-local load and a branch.
//
//   Profiler prof;
//   {
//     ProfileScope on(prof);
//     train_step();
//   }
//   std::fputs(format_profile(prof.ops(), 1, step_seconds, {}).c_str(), stdout);

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "autograd/node.h"

namespace kat {

// One op name's totals over the profiled region.
struct OpProfile {
  std::string name;
  std::int64_t forward_calls = 0;
  std::int64_t backward_calls = 0;
  double forward_seconds = 0;
  double backward_seconds = 0;
  // FLOPs of the forwards, and of the backwards those forwards set up (each recorded node runs
  // backward once), as counted by ops that know theirs (GEMM-like ops); 0 for the others.
  double forward_flops = 0;
  double backward_flops = 0;
};

class Profiler {
 public:
  void add_forward(const char* name, double seconds, double flops, double backward_flops);
  void add_backward(const char* name, double seconds);
  // One row per op name, largest total time first.
  std::vector<OpProfile> ops() const;
  void clear() { rows_.clear(); }

 private:
  // Keyed by the name's address (op names are string literals); ops() merges equal names.
  std::unordered_map<const char*, OpProfile> rows_;
};

// Profiles the ops this thread runs while it is alive; restores the previous state when it ends.
class ProfileScope {
 public:
  explicit ProfileScope(Profiler& profiler);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  Profiler* saved_;
};

enum class Pass { forward, backward };

class OpTimer;

namespace detail {
inline constinit thread_local Profiler* t_profiler = nullptr;  // set by ProfileScope
inline constinit thread_local OpTimer* t_open = nullptr;       // the innermost running timer
}  // namespace detail

// Times the enclosing op from construction to destruction (or stop()) when profiling is on.
class OpTimer {
 public:
  explicit OpTimer(const char* name, Pass pass = Pass::forward) : profiler_(detail::t_profiler) {
    if (profiler_ != nullptr) begin(name, pass);
  }
  // A node's backward (the engine): the name is read only when profiling is on.
  explicit OpTimer(const Node& node) : profiler_(detail::t_profiler) {
    if (profiler_ != nullptr) begin(node.name(), Pass::backward);
  }
  ~OpTimer() { stop(); }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

  bool active() const { return profiler_ != nullptr; }
  // FLOPs of this forward and of the backward of the node it records (GEMM-like ops).
  void set_flops(double forward, double backward) {
    flops_ = forward;
    backward_flops_ = backward;
  }
  void stop() {
    if (profiler_ != nullptr) end();
  }

 private:
  void begin(const char* name, Pass pass);
  void end();

  Profiler* profiler_;
  const char* name_ = nullptr;
  Pass pass_ = Pass::forward;
  OpTimer* parent_ = nullptr;
  std::chrono::steady_clock::time_point start_;
  double nested_seconds_ = 0;  // time of timers that ran inside this one
  double flops_ = 0;
  double backward_flops_ = 0;
};

// A per-step table of the profiled region: every op (calls, forward and backward ms, share of
// the step, GFLOP/s where FLOPs are counted), then the parts the caller timed outside ops
// (`outside`: name and seconds over the region, e.g. the optimizer step), then "other" (the
// step time no row accounts for) and the step. `steps` divides every figure.
std::string format_profile(const std::vector<OpProfile>& ops, std::int64_t steps, double region_seconds,
                           const std::vector<std::pair<std::string, double>>& outside);

}  // namespace kat
