// `kat plot RUN_DIR... -o curves.png`: training and validation loss of one or several runs on one
// figure (two panels, a third for BLEU when a run has it; one colour per run), drawn by gnuplot
// from each run's metrics.jsonl into a PNG, SVG or PDF (by the output's extension).

#include <cstdio>

#include "apps/commands.h"
#include "core/os/files.h"
#include "train/run_folder/plot.h"

namespace kat::cli {
namespace {

struct PlotArgs {
  std::vector<std::string> runs;
  std::string output = "curves.png";
  std::string metric = "loss";
  std::string x = "step";
  bool log_y = false;
  std::string title;
};

int run_plot(const PlotArgs& a) {
  std::vector<std::string> inputs;
  for (const auto& run : a.runs) inputs.push_back(run + "/metrics.jsonl");
  refuse_overwriting_input(a.output, inputs, "kat plot: -o");
  const PlotY y = a.metric == "ppl" ? PlotY::perplexity : a.metric == "bits" ? PlotY::bits : PlotY::loss;
  plot_runs(a.runs, a.output, a.title, y, a.log_y, a.x == "time" ? PlotX::time : PlotX::step);
  std::fprintf(stderr, "kat plot: wrote %s (%zu run%s)\n", a.output.c_str(), a.runs.size(),
               a.runs.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace

Runner add_plot(CLI::App& app) {
  auto args = std::make_shared<PlotArgs>();
  CLI::App* cmd = app.add_subcommand("plot", "Plot training and validation curves of runs (gnuplot): PNG, SVG or PDF");
  cmd->add_option("runs", args->runs, "Run folders (each with a metrics.jsonl)")->required();
  cmd->add_option("-o,--output", args->output, "Image to write: .png, .svg or .pdf")->capture_default_str();
  cmd->add_option("--metric", args->metric,
                  "loss (nats/token), ppl, or bits (bits/token: per character for a character model)")
      ->check(CLI::IsMember({"loss", "ppl", "bits"}))
      ->capture_default_str();
  cmd->add_option("--x", args->x, "step, or time (minutes of training steps, as train.time_budget counts them)")
      ->check(CLI::IsMember({"step", "time"}))
      ->capture_default_str();
  cmd->add_flag("--log-y", args->log_y, "Logarithmic y axis");
  cmd->add_option("--title", args->title, "Figure title");
  return [args] { return run_plot(*args); };
}

}  // namespace kat::cli
