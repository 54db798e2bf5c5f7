#include <cmath>
#include <numbers>

#include "optim/schedules/schedules.h"

namespace kat::schedules {
namespace {

class Cosine final : public Schedule {
 public:
  explicit Cosine(const ScheduleOptions& o) : o_(o) {}
  const char* name() const override { return "cosine"; }
  double lr(std::int64_t step, double peak) const override {
    if (step < o_.warmup) return peak * warmup_factor(step, o_.warmup);
    const double p = decay_progress(step, o_.warmup, o_.total_steps);
    return o_.min_lr + (peak - o_.min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
  }

 private:
  ScheduleOptions o_;
};

}  // namespace

std::unique_ptr<Schedule> cosine(const ScheduleOptions& o) { return std::make_unique<Cosine>(o); }

}  // namespace kat::schedules
