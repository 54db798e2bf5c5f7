#include "autograd/profiler.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace kat {

void Profiler::add_forward(const char* name, double seconds, double flops, double backward_flops) {
  OpProfile& r = rows_[name];
  ++r.forward_calls;
  r.forward_seconds += seconds;
  r.forward_flops += flops;
  r.backward_flops += backward_flops;
}

void Profiler::add_backward(const char* name, double seconds) {
  OpProfile& r = rows_[name];
  ++r.backward_calls;
  r.backward_seconds += seconds;
}

std::vector<OpProfile> Profiler::ops() const {
  std::map<std::string, OpProfile> merged;
  for (const auto& [name, r] : rows_) {
    OpProfile& m = merged[name];
    m.name = name;
    m.forward_calls += r.forward_calls;
    m.backward_calls += r.backward_calls;
    m.forward_seconds += r.forward_seconds;
    m.backward_seconds += r.backward_seconds;
    m.forward_flops += r.forward_flops;
    m.backward_flops += r.backward_flops;
  }
  std::vector<OpProfile> out;
  for (auto& [name, r] : merged) out.push_back(std::move(r));
  std::stable_sort(out.begin(), out.end(), [](const OpProfile& a, const OpProfile& b) {
    return a.forward_seconds + a.backward_seconds > b.forward_seconds + b.backward_seconds;
  });
  return out;
}

ProfileScope::ProfileScope(Profiler& profiler) : saved_(detail::t_profiler) { detail::t_profiler = &profiler; }
ProfileScope::~ProfileScope() { detail::t_profiler = saved_; }

void OpTimer::begin(const char* name, Pass pass) {
  name_ = name;
  pass_ = pass;
  parent_ = detail::t_open;
  detail::t_open = this;
  start_ = std::chrono::steady_clock::now();
}

void OpTimer::end() {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  detail::t_open = parent_;
  if (parent_ != nullptr) parent_->nested_seconds_ += elapsed;
  const double own = elapsed - nested_seconds_;
  if (pass_ == Pass::forward) {
    profiler_->add_forward(name_, own, flops_, backward_flops_);
  } else {
    profiler_->add_backward(name_, own);
  }
  profiler_ = nullptr;
}

namespace {

std::string calls(std::int64_t n, std::int64_t steps) {
  if (n % steps == 0) return std::to_string(n / steps);
  return fmt::format("{:.1f}", static_cast<double>(n) / static_cast<double>(steps));
}

std::string rate(double flops, double seconds) {
  return flops > 0 && seconds > 0 ? fmt::format("{:.1f}", flops / seconds / 1e9) : "";
}

}  // namespace

std::string format_profile(const std::vector<OpProfile>& ops, std::int64_t steps, double region_seconds,
                           const std::vector<std::pair<std::string, double>>& outside) {
  steps = std::max<std::int64_t>(steps, 1);
  const double per = 1e3 / static_cast<double>(steps);  // seconds over the region -> ms per step
  const double step_ms = region_seconds * per;
  // Milliseconds with two decimals, or four for steps under 10 ms (a decoded token).
  const int dp = step_ms < 10 ? 4 : 2;
  const auto share = [&](double ms) { return step_ms > 0 ? fmt::format("{:.1f}%", 100.0 * ms / step_ms) : ""; };
  std::string s =
      "| op | calls/step fwd / bwd | forward ms | backward ms | total ms | share | fwd GFLOP/s | bwd GFLOP/s |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  double accounted = 0;
  double fwd_total = 0, bwd_total = 0;
  for (const OpProfile& r : ops) {
    const double f = r.forward_seconds * per, b = r.backward_seconds * per;
    accounted += f + b;
    fwd_total += f;
    bwd_total += b;
    s +=
        fmt::format("| {} | {} / {} | {:.{}f} | {:.{}f} | {:.{}f} | {} | {} | {} |\n", r.name,
                    calls(r.forward_calls, steps), calls(r.backward_calls, steps), f, dp, b, dp, f + b, dp,
                    share(f + b), rate(r.forward_flops, r.forward_seconds), rate(r.backward_flops, r.backward_seconds));
  }
  s += fmt::format("| all ops | | {:.{}f} | {:.{}f} | {:.{}f} | {} | | |\n", fwd_total, dp, bwd_total, dp, accounted,
                   dp, share(accounted));
  for (const auto& [name, seconds] : outside) {
    const double ms = seconds * per;
    accounted += ms;
    s += fmt::format("| {} | | | | {:.{}f} | {} | | |\n", name, ms, dp, share(ms));
  }
  s += fmt::format("| other (outside ops: layer code, graph, engine) | | | | {:.{}f} | {} | | |\n", step_ms - accounted,
                   dp, share(step_ms - accounted));
  s += fmt::format("| step | | | | {:.{}f} | {} | | |\n", step_ms, dp, share(step_ms));
  return s;
}

}  // namespace kat
