#pragma once
// The training loop (after Marian's src/training/): batches, forward, loss, backward, clipping,
// optimizer step and schedule; validation, the best checkpoint and early stopping; checkpoints
// from which a run continues exactly; Ctrl-C; non-finite steps skipped; logs and metrics in the
// run folder; data-parallel training over several processes (TrainerOptions::comm).
//
//   Trainer trainer(load_experiment("configs/copy-tiny.yaml"));
//   TrainResult r = trainer.run();

#include <functional>
#include <memory>
#include <string>

#include "train/config/experiment.h"
#include "train/run_folder/checkpoint.h"

namespace spdlog {
class logger;
}

namespace kat {

class Communicator;
class Module;
class Trainer;

enum class TrainOutcome {
  finished,       // reached train.steps or train.epochs
  interrupted,    // a stop request (Ctrl-C, SIGTERM, request_stop): checkpoint written
  early_stopped,  // train.patience validations without improvement: checkpoint written
  diverged,       // train.max_bad_steps non-finite steps in a row: no checkpoint of this state
};
const char* outcome_name(TrainOutcome outcome);

struct TrainResult {
  TrainOutcome outcome = TrainOutcome::finished;
  std::int64_t step = 0;
  double train_loss = 0.0;       // mean loss of the last logged interval
  double valid_loss = 0.0;       // last validation (NaN when none ran)
  double best_valid_loss = 0.0;  // best so far (infinity when none ran)
  std::string message;
};

struct TrainerOptions {
  bool resume = false;  // continue from output.dir/checkpoints/last.h5
  bool console = true;  // log to the console besides output.dir/train.log
  bool signals = true;  // SIGINT, SIGTERM and SIGUSR1 request a stop while the trainer lives
  // The processes of a data-parallel run (train/distributed.h; docs/distributed.md), null for this
  // process alone. Every rank builds every batch and computes on its share of the rows; gradients
  // are summed over the ranks, so each takes the step one process would take on the whole batch.
  // Rank 0 alone writes the run folder; a stop request on any rank stops all before the same step.
  std::shared_ptr<Communicator> comm;
  // A new run (not resume): called once the model is built, before anything is written or checked;
  // kat convert puts the weights of another run into it here.
  std::function<void(Module&)> initialize;
  // Called after every step (tests and tools use it to inspect or stop a run).
  std::function<void(Trainer&, std::int64_t step)> after_step;
};

class Trainer {
 public:
  // Builds data, model, optimizer and schedule from a validated experiment; with options.resume,
  // restores them from the run folder's last checkpoint. Errors throw kat::Error.
  explicit Trainer(const Experiment& experiment, TrainerOptions options = {});
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  TrainResult run();
  // Writes a checkpoint of the current state (checkpoints/last.h5), as the loop does.
  void save_checkpoint();
  // Asks the loop to stop after the current step (writing a checkpoint).
  void request_stop() { stop_requested_ = true; }

  Module& model();
  const TrainerProgress& progress() const;
  const std::string& run_dir() const;
  spdlog::logger& logger();

 private:
  struct State;
  std::unique_ptr<State> s_;
  bool stop_requested_ = false;
};

}  // namespace kat
