// `kat bench [--profile] [--config EXP.yaml] [--attention A] [--batch B --seq N] [--steps K]`: times K
// warm training steps of the reference LM (or of an experiment's model on its first batch) and
// prints tokens/s, memory and the tensor allocations of a step; with --profile, a table of the
// step's time by op (forward and backward), with the GFLOP/s of the matrix products.

#include <cstdio>

#include "apps/commands.h"
#include "train/config/config_error.h"
#include "train/config/experiment_config.h"
#include "train/step_benchmark.h"

namespace kat::cli {
namespace {

struct BenchArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string attention;
  std::int64_t batch = 0;
  std::int64_t seq = 0;
  std::int64_t features = 64;
  std::int64_t steps = 5;
  std::int64_t warmup = 2;
  std::string precision;
  bool profile = false;
  bool json = false;
};

int run_bench(const BenchArgs& a) {
  StepWorkload w;
  if (a.config.empty()) {
    if (!a.sets.empty()) {
      std::fprintf(stderr, "kat bench: --set needs --config (the reference model takes --attention, --batch, --seq)\n");
      return 2;
    }
    w = reference_lm_workload(a.attention.empty() ? "softmax" : a.attention, a.batch > 0 ? a.batch : 16,
                              a.seq > 0 ? a.seq : 256, a.features);
    if (a.precision == "bf16") w.precision = MatmulPrecision::bfloat16;
  } else {
    std::vector<std::string> sets = a.sets;
    if (!a.attention.empty()) sets.push_back("model.attention.type=" + a.attention);
    if (a.batch > 0) sets.push_back("data.batch_size=" + std::to_string(a.batch));
    if (a.seq > 0) sets.push_back("data.seq_len=" + std::to_string(a.seq));
    if (!a.precision.empty()) sets.push_back("train.precision=" + a.precision);
    Experiment e;
    try {
      e = load_experiment(a.config, sets);
    } catch (const ConfigError& err) {
      print_config_errors(err);
      return 2;
    }
    w = experiment_workload(e);
  }
  StepBenchmarkOptions o;
  o.warmup = a.warmup;
  o.steps = a.steps;
  o.profile = a.profile;
  const StepBenchmark r = run_step_benchmark(w, o);
  std::fputs(a.json ? step_benchmark_json(r).c_str() : format_step_benchmark(r).c_str(), stdout);
  return 0;
}

}  // namespace

Runner add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Time warm training steps; --profile: where a step's time goes, by op");
  cmd->add_flag("--profile", args->profile, "Time every op's forward and backward and print them as a table");
  cmd->add_flag("--json", args->json, "Print the figures as one JSON object instead of the summary lines");
  cmd->add_option("--config", args->config, "Experiment file (default: the reference char-LM on random tokens)");
  cmd->add_option("--set", args->sets, "Override a key of the experiment (repeatable)")->take_all();
  cmd->add_option("--attention", args->attention, "softmax | linear | performer (default: softmax or the config's)");
  cmd->add_option("--batch", args->batch, "Sequences per batch (default 16, or the config's)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--seq", args->seq, "Tokens per sequence (default 256, or the config's data.seq_len)")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--features", args->features, "Performer features m (reference model)")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  cmd->add_option("--precision", args->precision,
                  "fp32 | bf16: the matrix products' operands (default fp32, or the config's train.precision)")
      ->check(CLI::IsMember({"fp32", "bf16"}));
  cmd->add_option("--steps", args->steps, "Timed steps")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--warmup", args->warmup, "Untimed steps before them")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  return [args] { return run_bench(*args); };
}

}  // namespace kat::cli
