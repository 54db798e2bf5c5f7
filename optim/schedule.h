#pragma once
// Learning-rate schedules: the rate of update number `step` (1 for the first) as a pure function
// of the step, so a schedule's whole state is its options and the step count a checkpoint saves.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kat {

struct ScheduleOptions {
  std::string kind = "constant";  // constant | inverse_sqrt | cosine | linear
  double lr = 1e-3;               // the peak rate, reached at the end of the warmup
  std::int64_t warmup = 0;        // steps of linear warmup from lr / warmup to lr
  std::int64_t total_steps = 0;   // cosine, linear: the step at which the rate reaches min_lr
  double min_lr = 0.0;            // cosine, linear: the final rate
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual const char* name() const = 0;
  virtual double lr(std::int64_t step) const = 0;  // step >= 1
};

// Builds the schedule named by options.kind; bad options throw kat::Error naming the field.
std::unique_ptr<Schedule> make_schedule(const ScheduleOptions& options);
std::vector<std::string> schedule_names();

// The linear warmup every schedule shares: lr * step / warmup while step < warmup, else lr.
double warmup_factor(std::int64_t step, std::int64_t warmup);

}  // namespace kat
