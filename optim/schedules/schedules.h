#pragma once
// The built-in schedules, one per file in optim/schedules/; make_schedule (optim/schedule.cpp)
// picks one by name.

#include "optim/schedule.h"

namespace kat::schedules {

// The peak rate, after the warmup.
std::unique_ptr<Schedule> constant(const ScheduleOptions& o);
// The Transformer schedule (Vaswani et al. 2017, Section 5.3) scaled to reach the peak:
// peak * min(step / warmup, sqrt(warmup / step)).
std::unique_ptr<Schedule> inverse_sqrt(const ScheduleOptions& o);
// Warmup, then min_lr + (peak - min_lr) * (1 + cos(pi * p)) / 2, p = (step - warmup) / (total - warmup)
// clamped to [0, 1].
std::unique_ptr<Schedule> cosine(const ScheduleOptions& o);
// Warmup, then peak + (min_lr - peak) * p with p as for cosine.
std::unique_ptr<Schedule> linear(const ScheduleOptions& o);

// p above: the fraction of the post-warmup steps done, in [0, 1].
double decay_progress(std::int64_t step, std::int64_t warmup, std::int64_t total);

}  // namespace kat::schedules
