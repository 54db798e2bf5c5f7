#include "train/trainer.h"

#include "train/trainer_state.h"

namespace kat {

const char* outcome_name(TrainOutcome outcome) {
  switch (outcome) {
    case TrainOutcome::finished: return "finished";
    case TrainOutcome::interrupted: return "interrupted";
    case TrainOutcome::early_stopped: return "early_stopped";
    case TrainOutcome::diverged: return "diverged";
  }
  return "?";
}

Trainer::Trainer(const Experiment& experiment, TrainerOptions options) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.exp = with_absolute_paths(experiment);  // the run's config.yaml then works from any folder
  s.options = std::move(options);
  s.comm = s.options.comm ? s.options.comm : std::shared_ptr<Communicator>(single_process());
  s.lead = s.comm->rank() == 0;
  s.parallel = s.comm->size() > 1;
  if (s.options.signals) s.signals.emplace();
  s.open_run_folder();
  s.start_logging();
  s.build();
  if (s.options.resume) {
    s.resume_from_checkpoint();
  } else if (s.options.initialize) {
    s.options.initialize(s.model->module());
  }
  s.prepare_logs();
  s.write_config_and_announce();
  // The ranks start from the same model: the same seed, or the same checkpoint.
  s.check_same_state(s.options.resume ? "after resuming" : "after initialization");
}

Trainer::~Trainer() = default;

Module& Trainer::model() { return s_->model->module(); }
const TrainerProgress& Trainer::progress() const { return s_->progress; }
const std::string& Trainer::run_dir() const { return s_->dir; }
spdlog::logger& Trainer::logger() { return *s_->log; }

void Trainer::save_checkpoint() { s_->save(false); }

TrainResult Trainer::run() {
  State& s = *s_;
  s.start_run();
  TrainResult result;
  while (!s.done()) {
    if (s.stop_wanted(stop_requested_)) {
      result.outcome = TrainOutcome::interrupted;
      break;
    }
    const std::int64_t step = s.progress.step + 1;
    const auto step_start = Clock::now();
    for (AttentionKernel* k : s.kernels) k->on_train_step(step);
    const StepTotals totals = s.forward_backward(step);
    const bool updated = s.update(step, totals, result);
    s.progress.train_seconds += std::chrono::duration<double>(Clock::now() - step_start).count();
    if (s.parallel) s.agree_on_train_seconds();  // every rank stops at the same step
    if (!updated) break;                         // diverged
    s.report_progress(step, totals);
    s.validate_and_checkpoint(step);
    if (s.options.after_step) s.options.after_step(*this, step);
    if (s.patience_exhausted(step, result)) break;
  }
  s.end_run(result);
  return result;
}

}  // namespace kat
