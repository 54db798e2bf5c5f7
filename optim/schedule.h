#pragma once
// Learning-rate schedules: the rate of update number `step` (1 for the first) as a pure function
// of the step and the peak rate, so a schedule's whole state is its options and the step count a
// checkpoint saves. The peak is the optimizer's own rate (optim.lr): one source for it.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kat {

struct ScheduleOptions {
  std::string type = "constant";  // constant | inverse_sqrt | cosine | linear
  std::int64_t warmup = 0;        // steps of linear warmup from peak / warmup to the peak
  // cosine, linear: the step at which the rate reaches min_lr (an experiment's 0: train.steps).
  std::int64_t total_steps = 0;
  double min_lr = 0.0;  // cosine, linear: the final rate
};

class Schedule {
 public:
  virtual ~Schedule() = default;
  virtual const char* name() const = 0;
  // The rate of update `step` (>= 1) of an optimizer whose rate is `peak`.
  virtual double lr(std::int64_t step, double peak) const = 0;
};

// Builds the schedule named by options.type; bad options throw kat::Error naming the field.
std::unique_ptr<Schedule> make_schedule(const ScheduleOptions& options);
std::vector<std::string> schedule_names();

// The linear warmup every schedule shares: step / warmup while step < warmup, else 1.
double warmup_factor(std::int64_t step, std::int64_t warmup);

}  // namespace kat
