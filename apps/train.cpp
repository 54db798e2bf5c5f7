// `kat train EXP.yaml [--set KEY=VALUE]... [--resume RUN_DIR]`: validates the experiment, then
// trains it (or continues the run in RUN_DIR). Exit codes: 0 finished, stopped early or stopped on
// request (Ctrl-C; resume later); 1 diverged; 2 a bad experiment, checkpoint or command line, or a
// checkpoint that cannot be written (the run stops; the checkpoints written before stay).

#include <spdlog/spdlog.h>

#include <cstdio>

#include "apps/commands.h"
#include "train/experiment_config.h"
#include "train/trainer.h"

namespace kat::cli {
namespace {

struct TrainArgs {
  std::string experiment;
  std::vector<std::string> sets;
  std::string resume;
};

int run_train(const TrainArgs& a) {
  if (a.experiment.empty() && a.resume.empty()) {
    std::fprintf(stderr, "kat train: give an experiment file, or --resume RUN_DIR\n");
    return 2;
  }
  Experiment e;
  try {
    std::vector<std::string> sets = a.sets;
    std::string file = a.experiment;
    if (!a.resume.empty()) {
      if (file.empty()) file = a.resume + "/config.yaml";  // the run's own resolved experiment
      sets.push_back("output.dir=" + a.resume);
    }
    e = load_experiment(file, sets);
  } catch (const ConfigError& err) {
    print_config_errors(err);
    return 2;
  }
  TrainerOptions options;
  options.resume = !a.resume.empty();
  Trainer trainer(e, options);
  const TrainResult r = trainer.run();
  return r.outcome == TrainOutcome::diverged ? 1 : 0;
}

}  // namespace

void print_config_errors(const ConfigError& err) {
  for (const auto& d : err.diagnostics()) std::fprintf(stderr, "%s\n", d.to_string().c_str());
  const auto n = err.diagnostics().size();
  std::fprintf(stderr, "%zu error%s in the experiment\n", n, n == 1 ? "" : "s");
}

Runner add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Train the experiment a YAML file describes");
  cmd->add_option("experiment", args->experiment, "Experiment file (see kat config --explain)");
  cmd->add_option("--set", args->sets, "Override a key: --set optim.lr=3e-4 (repeatable)")->take_all();
  cmd->add_option("--resume", args->resume, "Continue the run in this folder from its last checkpoint");
  return [args] { return run_train(*args); };
}

}  // namespace kat::cli
