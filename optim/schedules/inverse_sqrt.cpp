#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "optim/schedules/schedules.h"

namespace kat::schedules {
namespace {

class InverseSqrt final : public Schedule {
 public:
  explicit InverseSqrt(const ScheduleOptions& o) : o_(o) {}
  const char* name() const override { return "inverse_sqrt"; }
  double lr(std::int64_t step, double peak) const override {
    const double s = static_cast<double>(std::max<std::int64_t>(step, 1));
    const double w = static_cast<double>(o_.warmup);
    return peak * std::min(s / w, std::sqrt(w / s));
  }

 private:
  ScheduleOptions o_;
};

}  // namespace

std::unique_ptr<Schedule> inverse_sqrt(const ScheduleOptions& o) {
  if (o.warmup < 1) throw Error(fmt::format("schedule inverse_sqrt: warmup must be >= 1, got {}", o.warmup));
  return std::make_unique<InverseSqrt>(o);
}

}  // namespace kat::schedules
