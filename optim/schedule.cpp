#include "optim/schedule.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "optim/schedules/schedules.h"

namespace kat {

double warmup_factor(std::int64_t step, std::int64_t warmup) {
  if (warmup <= 0 || step >= warmup) return 1.0;
  return static_cast<double>(std::max<std::int64_t>(step, 1)) / static_cast<double>(warmup);
}

namespace schedules {

double decay_progress(std::int64_t step, std::int64_t warmup, std::int64_t total) {
  if (total <= warmup) return 1.0;
  const double p = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  return std::clamp(p, 0.0, 1.0);
}

}  // namespace schedules

std::vector<std::string> schedule_names() { return {"constant", "inverse_sqrt", "cosine", "linear"}; }

std::unique_ptr<Schedule> make_schedule(const ScheduleOptions& o) {
  if (o.warmup < 0) throw Error(fmt::format("schedule: warmup must be >= 0, got {}", o.warmup));
  if (!(o.min_lr >= 0) || !std::isfinite(o.min_lr)) {
    throw Error(fmt::format("schedule: min_lr must be >= 0, got {}", o.min_lr));
  }
  const bool decays = o.type == "cosine" || o.type == "linear";
  if (decays && o.total_steps <= o.warmup) {
    throw Error(
        fmt::format("schedule {}: total_steps ({}) must be greater than warmup ({})", o.type, o.total_steps, o.warmup));
  }
  if (o.type == "constant") return schedules::constant(o);
  if (o.type == "inverse_sqrt") return schedules::inverse_sqrt(o);
  if (o.type == "cosine") return schedules::cosine(o);
  if (o.type == "linear") return schedules::linear(o);
  throw Error(fmt::format("schedule: unknown type '{}' (known: {})", o.type, fmt::join(schedule_names(), ", ")));
}

}  // namespace kat
