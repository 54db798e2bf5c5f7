// `kat plot RUN_DIR... -o curves.png`: training and validation loss of one or several runs on one
// figure (two panels, a third for BLEU when a run has it; one colour per run), drawn by gnuplot
// from each run's metrics.jsonl.

#include <fmt/format.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/commands.h"
#include "core/error.h"
#include "train/metrics.h"

namespace kat::cli {
namespace {

struct PlotArgs {
  std::vector<std::string> runs;
  std::string output = "curves.png";
  std::string metric = "loss";
  bool log_y = false;
  std::string title;
};

std::string gp_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A gnuplot datablock of (step, value) for the records that have `key`.
std::string datablock(const std::string& name, const std::vector<std::map<std::string, double>>& records,
                      const std::string& key, bool ppl, std::size_t& points) {
  std::string out = fmt::format("${} << EOD\n", name);
  points = 0;
  for (const auto& r : records) {
    auto s = r.find("step");
    auto v = r.find(key);
    if (s == r.end() || v == r.end() || !std::isfinite(v->second)) continue;
    out += fmt::format("{} {}\n", s->second, ppl ? std::exp(v->second) : v->second);
    ++points;
  }
  return out + "EOD\n";
}

int run_plot(const PlotArgs& a) {
  const bool ppl = a.metric == "ppl";
  std::string script;
  std::vector<std::string> train_plots, valid_plots, bleu_plots;
  for (std::size_t i = 0; i < a.runs.size(); ++i) {
    const std::string path = a.runs[i] + "/metrics.jsonl";
    if (!std::filesystem::exists(path)) throw Error(fmt::format("kat plot: {} has no metrics.jsonl", a.runs[i]));
    const auto records = read_metrics(path);
    std::string label = std::filesystem::path(a.runs[i]).lexically_normal().filename().string();
    if (label.empty()) label = std::filesystem::path(a.runs[i]).lexically_normal().parent_path().filename().string();
    std::size_t n_train = 0, n_valid = 0, n_bleu = 0;
    script += datablock(fmt::format("train{}", i), records, "train_loss", ppl, n_train);
    script += datablock(fmt::format("valid{}", i), records, "val_loss", ppl, n_valid);
    script += datablock(fmt::format("bleu{}", i), records, "bleu", false, n_bleu);
    const std::string style = fmt::format("lw 2 lc {} title {}", i + 1, gp_string(label));
    if (n_train > 0) train_plots.push_back(fmt::format("$train{} using 1:2 with lines {}", i, style));
    if (n_valid > 0) {
      // Few validation points read better with markers.
      valid_plots.push_back(
          fmt::format("$valid{} using 1:2 with {} {}", i, n_valid < 30 ? "linespoints pt 7 ps 0.8" : "lines", style));
    }
    if (n_bleu > 0) {
      bleu_plots.push_back(
          fmt::format("$bleu{} using 1:2 with {} {}", i, n_bleu < 30 ? "linespoints pt 7 ps 0.8" : "lines", style));
    }
    if (n_train == 0 && n_valid == 0) std::fprintf(stderr, "kat plot: %s has no loss records yet\n", path.c_str());
  }
  if (train_plots.empty() && valid_plots.empty()) throw Error("kat plot: no records to plot");

  const std::string ylabel = ppl ? "perplexity" : "loss (nats/token)";
  const int panels = bleu_plots.empty() ? 2 : 3;
  script += fmt::format("set terminal pngcairo size {},560 enhanced font 'sans,11'\nset output {}\n", panels * 700,
                        gp_string(a.output));
  script += "set grid\nset key top right\nset xlabel 'step'\nset ylabel " + gp_string(ylabel) + "\n";
  if (a.log_y) script += "set logscale y\n";
  script +=
      fmt::format("set multiplot layout 1,{} title {}\n", panels, gp_string(a.title.empty() ? "kat runs" : a.title));
  auto panel = [&](const std::string& title, const std::vector<std::string>& plots) {
    script += "set title " + gp_string(title) + "\n";
    if (plots.empty()) {
      script += "unset key\nset label 1 'no records' at graph 0.5, 0.5 center\nplot [0:1] [0:1] NaN notitle\n";
      script += "unset label 1\nset key top right\n";
    } else {
      script += "plot " + fmt::format("{}", fmt::join(plots, ", \\\n     ")) + "\n";
    }
  };
  panel("training " + std::string(ppl ? "perplexity" : "loss"), train_plots);
  panel("validation " + std::string(ppl ? "perplexity" : "loss"), valid_plots);
  if (!bleu_plots.empty()) {
    script += "unset logscale y\nset ylabel 'BLEU'\nset key bottom right\n";
    panel("validation BLEU", bleu_plots);
  }
  script += "unset multiplot\n";

  FILE* gp = ::popen("gnuplot 2>&1", "w");
  if (!gp) throw Error("kat plot: cannot start gnuplot");
  std::fwrite(script.data(), 1, script.size(), gp);
  const int status = ::pclose(gp);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) == 127) {
    throw Error("kat plot: gnuplot is not installed (scripts/install-deps.sh installs it)");
  }
  if (WEXITSTATUS(status) != 0) throw Error(fmt::format("kat plot: gnuplot failed (exit {})", WEXITSTATUS(status)));
  std::printf("kat plot: wrote %s (%zu run%s)\n", a.output.c_str(), a.runs.size(), a.runs.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace

int plot_runs(const std::vector<std::string>& runs, const std::string& output, const std::string& title) {
  PlotArgs a;
  a.runs = runs;
  a.output = output;
  a.title = title;
  return run_plot(a);
}

Runner add_plot(CLI::App& app) {
  auto args = std::make_shared<PlotArgs>();
  CLI::App* cmd = app.add_subcommand("plot", "Plot training and validation curves of runs into a PNG (gnuplot)");
  cmd->add_option("runs", args->runs, "Run folders (each with a metrics.jsonl)")->required();
  cmd->add_option("-o,--output", args->output, "PNG file to write")->capture_default_str();
  cmd->add_option("--metric", args->metric, "loss or ppl")
      ->check(CLI::IsMember({"loss", "ppl"}))
      ->capture_default_str();
  cmd->add_flag("--log-y", args->log_y, "Logarithmic y axis");
  cmd->add_option("--title", args->title, "Figure title");
  return [args] { return run_plot(*args); };
}

}  // namespace kat::cli
