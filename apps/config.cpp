// `kat config --explain`: every key of an experiment file with its default, range and help.
// `kat config check EXP.yaml [--set KEY=VALUE]...`: validates without training (exit 2 on errors).
// `kat config show EXP.yaml [--set KEY=VALUE]...`: prints the resolved experiment.

#include <cstdio>

#include "apps/commands.h"
#include "train/config/experiment_config.h"

namespace kat::cli {
namespace {

struct ConfigArgs {
  bool explain = false;
  std::string file;
  std::vector<std::string> sets;
  CLI::App* check = nullptr;
  CLI::App* show = nullptr;
};

int run_config(const ConfigArgs& a) {
  if (a.explain) {
    std::fputs(explain_experiment().c_str(), stdout);
    return 0;
  }
  if (!a.check->parsed() && !a.show->parsed()) {
    std::fprintf(stderr, "kat config: use --explain, check EXP.yaml or show EXP.yaml\n");
    return 2;
  }
  try {
    const Experiment e = load_experiment(a.file, a.sets);
    if (a.show->parsed()) {
      std::fputs(to_yaml(e).c_str(), stdout);
    } else {
      std::printf("%s: OK (task %s, %s data, attention %s, output %s)\n", a.file.c_str(), name(e.task),
                  name(e.data.kind), describe_attention(e).c_str(), e.output.dir.c_str());
    }
    return 0;
  } catch (const ConfigError& err) {
    print_config_errors(err);
    return 2;
  }
}

}  // namespace

Runner add_config(CLI::App& app) {
  auto args = std::make_shared<ConfigArgs>();
  CLI::App* cmd = app.add_subcommand("config", "Explain, check or show experiment files");
  cmd->add_flag("--explain", args->explain, "List every key with its type, default, range and help");
  args->check = cmd->add_subcommand("check", "Validate an experiment file; exit 2 with every error found");
  args->show = cmd->add_subcommand("show", "Print the resolved experiment (defaults and overrides applied)");
  for (CLI::App* sub : {args->check, args->show}) {
    sub->add_option("experiment", args->file, "Experiment file")->required();
    sub->add_option("--set", args->sets, "Override a key: --set optim.lr=3e-4 (repeatable)")->take_all();
  }
  return [args] { return run_config(*args); };
}

}  // namespace kat::cli
