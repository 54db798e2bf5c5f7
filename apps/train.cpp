// `kat train EXP.yaml [--set KEY=VALUE]... [--resume RUN_DIR]`: validates the experiment, then
// trains it (or continues the run in RUN_DIR). Exit codes: 0 finished or stopped early; 1 diverged,
// or a failure of the system (a checkpoint or log that cannot be written: the run stops, the
// checkpoints written before stay); 2 a bad experiment, checkpoint or command line; 130 stopped by
// a signal (Ctrl-C, SIGTERM) after writing its checkpoint: resume later.
//
// Under an MPI launcher (`mpirun -np P kat train ...`) the P processes train one model together
// (docs/distributed.md). An error on any of them ends them all (MPI_Abort) with that exit code:
// the others would otherwise wait for it forever.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>

#include "apps/commands.h"
#include "core/error.h"
#include "core/parallel.h"
#include "train/config/experiment_config.h"
#include "train/distributed/distributed.h"
#include "train/stop_signal.h"
#include "train/trainer.h"

namespace kat::cli {
namespace {

struct TrainArgs {
  std::string experiment;
  std::vector<std::string> sets;
  std::string resume;
  CLI::App* root = nullptr;  // for kat's global --threads
};

int train(const TrainArgs& a, const std::shared_ptr<Communicator>& comm) {
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
    // Plugins given on the command line belong to the run as much as those of the file.
    for (const std::string& path : plugin_options()) {
      const std::string absolute = std::filesystem::absolute(path).lexically_normal().string();
      if (std::find(e.plugins.begin(), e.plugins.end(), absolute) == e.plugins.end()) e.plugins.push_back(absolute);
    }
  } catch (const ConfigError& err) {
    print_config_errors(err);
    return 2;
  }
  // Under a launcher, ranks on one host share its cores (or keep to the cores the launcher bound
  // them to) unless the experiment, --threads or KAT_NUM_THREADS say otherwise.
  const char* env_threads = std::getenv("KAT_NUM_THREADS");
  const bool threads_given = (a.root != nullptr && a.root->get_option("--threads")->count() > 0) ||
                             (env_threads != nullptr && *env_threads != '\0');
  if (launched_processes() > 0 && e.train.threads == 0 && !threads_given) {
    set_num_threads(default_threads_per_rank(*comm));
  }
  TrainerOptions options;
  options.resume = !a.resume.empty();
  options.comm = comm;
  Trainer trainer(e, options);
  const TrainResult r = trainer.run();
  if (r.outcome == TrainOutcome::interrupted) return kExitInterrupted;
  return r.outcome == TrainOutcome::diverged ? 1 : 0;
}

int run_train(const TrainArgs& a) {
  // First of all: a Ctrl-C from here on is kept until the trainer's loop sees it and writes a
  // checkpoint, however early it comes.
  StopSignal signals;
  std::shared_ptr<Communicator> comm = join_launched_processes();
  if (comm->size() == 1) return train(a, comm);
  // Several ranks: an error on one ends them all, with its exit code.
  const auto end_run = [&](const char* what, const char* message, int code) {
    std::fprintf(stderr, "kat train (rank %d of %d): %s: %s; ending all %d processes\n", comm->rank(), comm->size(),
                 what, message, comm->size());
    std::fflush(stderr);
    std::fflush(stdout);
    comm->abort(code);
  };
  int code = 0;
  try {
    code = train(a, comm);
  } catch (const Error& err) {
    end_run("error", err.what(), 2);
  } catch (const std::exception& err) {
    end_run("fatal", err.what(), 1);
  }
  // 0, 1 when training diverged, 130 when stopped by a signal: every rank reached that end at the
  // same step.
  if (code != 0 && code != 1 && code != kExitInterrupted) end_run("error", "the command failed (see above)", code);
  return code;
}

}  // namespace

void print_config_errors(const ConfigError& err) {
  for (const auto& d : err.diagnostics()) std::fprintf(stderr, "%s\n", d.to_string().c_str());
  const auto n = err.diagnostics().size();
  std::fprintf(stderr, "%zu error%s in the experiment\n", n, n == 1 ? "" : "s");
}

Runner add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  args->root = &app;
  CLI::App* cmd =
      app.add_subcommand("train", "Train the experiment a YAML file describes (under mpirun: on P processes)");
  cmd->add_option("experiment", args->experiment, "Experiment file (see kat config --explain)");
  cmd->add_option("--set", args->sets, "Override a key: --set optim.lr=3e-4 (repeatable)")->take_all();
  cmd->add_option("--resume", args->resume, "Continue the run in this folder from its last checkpoint");
  return [args] { return run_train(*args); };
}

}  // namespace kat::cli
