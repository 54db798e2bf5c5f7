#include "optim/schedules/schedules.h"

namespace kat::schedules {
namespace {

class Constant final : public Schedule {
 public:
  explicit Constant(const ScheduleOptions& o) : o_(o) {}
  const char* name() const override { return "constant"; }
  double lr(std::int64_t step, double peak) const override { return peak * warmup_factor(step, o_.warmup); }

 private:
  ScheduleOptions o_;
};

}  // namespace

std::unique_ptr<Schedule> constant(const ScheduleOptions& o) { return std::make_unique<Constant>(o); }

}  // namespace kat::schedules
