#include "optim/schedules/schedules.h"

namespace kat::schedules {
namespace {

class Linear final : public Schedule {
 public:
  explicit Linear(const ScheduleOptions& o) : o_(o) {}
  const char* name() const override { return "linear"; }
  double lr(std::int64_t step, double peak) const override {
    if (step < o_.warmup) return peak * warmup_factor(step, o_.warmup);
    return peak + (o_.min_lr - peak) * decay_progress(step, o_.warmup, o_.total_steps);
  }

 private:
  ScheduleOptions o_;
};

}  // namespace

std::unique_ptr<Schedule> linear(const ScheduleOptions& o) { return std::make_unique<Linear>(o); }

}  // namespace kat::schedules
