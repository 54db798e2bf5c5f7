#pragma once
// What a Trainer holds between steps, and the named pieces its constructor and its loop are made
// of (train/trainer.cpp reads as the list of them):
//   trainer_setup.cpp   the run folder, logging, data, model, optimizer; resuming a checkpoint
//   trainer_step.cpp    one step: forward and backward, the update, progress, checkpoints, the end
//   validation.cpp      validation loss and BLEU
// Internal to train/: included by those files only.

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/kernels/bfloat16.h"
#include "core/os/files.h"
#include "layers/attention/linear_attention.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "train/config/experiment_config.h"
#include "train/distributed/distributed.h"
#include "train/distributed/grad_reducer.h"
#include "train/run_folder/checkpoint_store.h"
#include "train/run_folder/run_log.h"
#include "train/stop_signal.h"
#include "train/task_model.h"
#include "train/trainer.h"
#include "train/training_data.h"

namespace kat {

using Clock = std::chrono::steady_clock;

// A progress line rewritten in place on a terminal.
class ProgressLine {
 public:
  explicit ProgressLine(bool terminal) : terminal_(terminal) {}
  bool terminal() const { return terminal_; }
  void show(const std::string& text);
  void clear();

 private:
  bool terminal_;
  bool shown_ = false;
};

// The sums of one step's batches.
struct StepTotals {
  double loss = 0.0;  // mean cross-entropy per target token (NaN without tokens)
  std::int64_t tokens = 0;
  double norm = 0.0;  // the gradient's norm before clipping
};

struct Trainer::State {
  Experiment exp;
  TrainerOptions options;
  std::shared_ptr<Communicator> comm;
  bool lead = true;       // rank 0 (or the only process): writes the run folder
  bool parallel = false;  // more than one rank
  std::unique_ptr<GradientReducer> reducer;
  std::string dir;
  std::string last_path;  // checkpoints/last.h5
  std::shared_ptr<spdlog::logger> log;
  std::optional<ProgressLine> progress_line;
  std::optional<MatmulPrecisionScope> precision;  // train.precision, for the life of the trainer
  TrainingData data;
  std::unique_ptr<TaskModel> model;
  std::vector<AttentionKernel*> kernels;
  std::unique_ptr<Optimizer> optimizer;
  std::unique_ptr<Schedule> schedule;
  // train.distill_attention: the kernels whose feature maps learn, and Adam over those maps' weights.
  std::vector<LinearAttention*> students;
  std::unique_ptr<Optimizer> distill_optimizer;
  std::unique_ptr<CheckpointStore> store;
  std::unique_ptr<MetricsLog> metrics;
  std::optional<Dir> run_folder;         // the lead's handle on output.dir
  std::optional<FolderLock> lock;        // held from construction until run() returns
  std::optional<StopSignal> signals;     // from the start: a signal while building is kept for run()
  std::shared_ptr<RunLogSink> log_file;  // train.log
  bool append_warned = false;
  TrainerProgress progress;
  std::int64_t last_checkpoint_step = -1;
  std::int64_t last_valid_step = -1;
  double last_valid_loss = std::nan("");
  std::vector<std::string> notes;  // warnings of the setup, logged once the log is open

  // The running means of the current log interval.
  double interval_loss_sum = 0.0;
  std::int64_t interval_tokens = 0;
  std::int64_t interval_steps = 0;
  double interval_norm = 0.0;
  Clock::time_point interval_start;
  double last_interval_loss = std::nan("");
  double tokens_per_second = 0.0;

  // The clock of the current run() call.
  Clock::time_point run_start;
  double wall_before = 0.0;  // seconds of training before this call (a resumed run's)
  Clock::time_point last_progress_draw;
  std::int64_t first_step = 0;

  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) {
    progress_line->clear();
    log->info(f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    progress_line->clear();
    log->warn(f, std::forward<Args>(args)...);
  }

  // trainer_setup.cpp
  void open_run_folder();
  void start_logging();
  void build();
  void resume_from_checkpoint();
  void prepare_logs();
  void write_config_and_announce();
  void check_same_state(const char* when);
  void setup_distillation();

  // trainer_step.cpp
  void start_run();
  double wall() const;
  bool done() const;
  bool budget_spent() const;  // train.time_budget
  void agree_on_train_seconds();
  bool stop_wanted(bool requested);
  // Steps 1 .. train.distill_attention.steps distil attention; the optimizer of a step.
  bool distilling(std::int64_t step) const { return step <= exp.train.distill_attention.steps; }
  Optimizer& optimizer_of(std::int64_t step) { return distilling(step) ? *distill_optimizer : *optimizer; }
  Batch next_batch(std::int64_t step);
  StepTotals finish_step(std::int64_t step, const std::vector<Variable>& params, double loss_sum, StepTotals t);
  StepTotals forward_backward(std::int64_t step);
  StepTotals distill_forward_backward(std::int64_t step);
  bool update(std::int64_t step, const StepTotals& totals, TrainResult& result);
  void report_progress(std::int64_t step, const StepTotals& totals);
  void validate_and_checkpoint(std::int64_t step);
  bool patience_exhausted(std::int64_t step, TrainResult& result) const;
  void end_run(TrainResult& result);
  void save(bool best);
  Checkpoint snapshot();
  void check_appends();

  // validation.cpp
  struct Validation {
    double loss = 0.0;
    double bleu = std::nan("");
  };
  Validation validate();
  bool validate_and_record(std::int64_t step, double wall_time, bool counts);
};

// The schedule of an experiment, its total_steps filled in from train.steps.
ScheduleOptions schedule_options(const Experiment& e);

}  // namespace kat
