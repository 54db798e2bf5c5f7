#include "train/run_folder/plot.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <optional>

#include "core/error.h"
#include "core/os/process.h"
#include "data/text_io.h"
#include "train/run_folder/run_log.h"

namespace kat {
namespace {

// The x of a record: its step, or its minutes of training; NaN when it has none.
double x_of(const std::map<std::string, double>& r, PlotX x) {
  const char* key = x == PlotX::step ? "step" : r.count("train_time") ? "train_time" : "wall_time";
  const auto it = r.find(key);
  if (it == r.end()) return std::nan("");
  return x == PlotX::step ? it->second : it->second / 60.0;
}

double y_of(double loss, PlotY y) {
  switch (y) {
    case PlotY::perplexity: return std::exp(loss);
    case PlotY::bits: return loss / std::log(2.0);
    case PlotY::loss: break;
  }
  return loss;
}

// The extent of the values a panel plots along one axis.
struct Extent {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
};

// gnuplot cannot autoscale an axis whose values are all one (a single validation, a constant
// curve): it warns on its standard error and widens it by itself. Such an axis gets an explicit
// range around the value instead; "" when the axis autoscales.
std::string fixed_range(const char* axis, const Extent& e, bool log) {
  if (!(e.lo == e.hi)) return "";
  const double v = e.lo;
  if (log && v > 0) return fmt::format("set {}range [{}:{}]\n", axis, v / 1.25, v * 1.25);
  const double d = v != 0 ? std::fabs(v) * 0.05 : 1.0;
  return fmt::format("set {}range [{}:{}]\n", axis, v - d, v + d);
}

// A gnuplot datablock of (x, value) for the records that have `key`: numbers only. Adds the points
// to the panel's extents.
std::string datablock(const std::string& name, const std::vector<std::map<std::string, double>>& records,
                      const std::string& key, std::optional<PlotY> y, PlotX x, std::size_t& points, Extent& xs,
                      Extent& ys) {
  std::string out = fmt::format("${} << EOD\n", name);
  points = 0;
  for (const auto& r : records) {
    const auto v = r.find(key);
    if (v == r.end()) continue;
    const double at = x_of(r, x);
    const double value = y ? y_of(v->second, *y) : v->second;
    if (!std::isfinite(at) || !std::isfinite(value)) continue;
    out += fmt::format("{} {}\n", at, value);
    xs.add(at);
    ys.add(value);
    ++points;
  }
  return out + "EOD\n";
}

std::string terminal(PlotFormat format, int panels) {
  switch (format) {
    case PlotFormat::svg: return fmt::format("set terminal svg size {},560 noenhanced font 'sans,11'\n", panels * 700);
    case PlotFormat::pdf:
      return fmt::format("set terminal pdfcairo size {}in,5.6in noenhanced font 'sans,11'\n", panels * 7);
    case PlotFormat::png: break;
  }
  return fmt::format("set terminal pngcairo size {},560 noenhanced font 'sans,11'\n", panels * 700);
}

// Run i's line: ten colours apart (gnuplot's own cycle repeats after eight), and past ten the
// colours again with another dash pattern, so that no two of up to 50 runs look alike.
std::string line_style(std::size_t i) {
  static constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                             "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  constexpr std::size_t n = std::size(kColours);
  return fmt::format("lc rgb '{}' dt {}", kColours[i % n], 1 + (i / n) % 5);
}

}  // namespace

PlotFormat plot_format_for(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ext == ".png") return PlotFormat::png;
  if (ext == ".svg") return PlotFormat::svg;
  if (ext == ".pdf") return PlotFormat::pdf;
  throw Error(fmt::format("kat plot: {}: unknown image format '{}' (expected .png, .svg or .pdf)", path, ext));
}

std::string gnuplot_literal(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\'') {
      out += "\u2019";  // gnuplot 5.4 misreads a doubled quote at the start of a string
    } else if (u < 0x20 || u == 0x7f) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string gnuplot_script(const PlotSpec& spec) {
  std::string script;
  std::vector<std::string> train_plots, valid_plots, bleu_plots;
  Extent train_x, train_y, valid_x, valid_y, bleu_x, bleu_y;
  for (std::size_t i = 0; i < spec.runs.size(); ++i) {
    const auto& records = spec.runs[i].records;
    std::size_t n_train = 0, n_valid = 0, n_bleu = 0;
    script += datablock(fmt::format("train{}", i), records, "train_loss", spec.y, spec.x, n_train, train_x, train_y);
    script += datablock(fmt::format("valid{}", i), records, "val_loss", spec.y, spec.x, n_valid, valid_x, valid_y);
    script += datablock(fmt::format("bleu{}", i), records, "bleu", std::nullopt, spec.x, n_bleu, bleu_x, bleu_y);
    const std::string style = fmt::format("lw 2 {} title {}", line_style(i), gnuplot_literal(spec.runs[i].label));
    // Few points read better with markers.
    auto with = [](std::size_t n) { return n < 30 ? "linespoints pt 7 ps 0.8" : "lines"; };
    if (n_train > 0) train_plots.push_back(fmt::format("$train{} using 1:2 with lines {}", i, style));
    if (n_valid > 0) valid_plots.push_back(fmt::format("$valid{} using 1:2 with {} {}", i, with(n_valid), style));
    if (n_bleu > 0) bleu_plots.push_back(fmt::format("$bleu{} using 1:2 with {} {}", i, with(n_bleu), style));
  }
  if (train_plots.empty() && valid_plots.empty()) throw Error("kat plot: no loss records to plot");

  const char* what = spec.y == PlotY::perplexity ? "perplexity" : spec.y == PlotY::bits ? "bits/token" : "loss";
  const char* y_label = spec.y == PlotY::perplexity ? "perplexity"
                        : spec.y == PlotY::bits     ? "bits per token (per character: character models)"
                                                    : "loss (nats/token)";
  const int panels = bleu_plots.empty() ? 2 : 3;
  script += terminal(spec.format, panels);
  script += fmt::format("set grid\nset key top right\nset xlabel {}\n",
                        gnuplot_literal(spec.x == PlotX::step ? "step" : "training minutes"));
  script += fmt::format("set ylabel {}\n", gnuplot_literal(y_label));
  if (spec.log_y) script += "set logscale y\n";
  script += fmt::format("set multiplot layout 1,{} title {}\n", panels,
                        gnuplot_literal(spec.title.empty() ? "kat runs" : spec.title));
  auto panel = [&](const std::string& title, const std::vector<std::string>& plots, const Extent& xs, const Extent& ys,
                   bool log_y) {
    script += "set title " + gnuplot_literal(title) + "\n";
    if (plots.empty()) {
      script += "unset key\nset label 1 'no records' at graph 0.5, 0.5 center\nplot [0:1] [0:1] NaN notitle\n";
      script += "unset label 1\nset key top right\n";
    } else {
      const std::string ranges = fixed_range("x", xs, false) + fixed_range("y", ys, log_y);
      script += ranges + "plot " + fmt::format("{}", fmt::join(plots, ", \\\n     ")) + "\n";
      if (!ranges.empty()) script += "set autoscale xy\n";
    }
  };
  panel(std::string("training ") + what, train_plots, train_x, train_y, spec.log_y);
  panel(std::string("validation ") + what, valid_plots, valid_x, valid_y, spec.log_y);
  if (!bleu_plots.empty()) {
    script += "unset logscale y\nset ylabel 'BLEU'\nset key bottom right\n";
    panel("validation BLEU", bleu_plots, bleu_x, bleu_y, false);
  }
  script += "unset multiplot\n";
  return script;
}

std::vector<std::string> run_labels(const std::vector<std::string>& folders) {
  std::vector<std::vector<std::string>> parts;
  for (const auto& f : folders) {
    std::vector<std::string> names;
    for (const auto& p : std::filesystem::path(f).lexically_normal()) {
      const std::string name = p.string();
      if (!name.empty() && name != "/" && name != ".") names.push_back(name);
    }
    if (names.empty()) names.push_back(f);
    parts.push_back(std::move(names));
  }
  std::vector<std::string> labels(folders.size());
  for (std::size_t depth = 1;; ++depth) {
    bool longer_possible = false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const auto& names = parts[i];
      const std::size_t take = std::min(depth, names.size());
      longer_possible |= take < names.size();
      std::string label;
      for (std::size_t k = names.size() - take; k < names.size(); ++k) label += (label.empty() ? "" : "/") + names[k];
      labels[i] = label;
    }
    bool distinct = true;
    for (std::size_t i = 0; i < labels.size() && distinct; ++i) {
      for (std::size_t j = i + 1; j < labels.size(); ++j) distinct &= labels[i] != labels[j];
    }
    if (distinct || !longer_possible) return labels;
  }
}

void plot_runs(const std::vector<std::string>& folders, const std::string& output, const std::string& title, PlotY y,
               bool log_y, PlotX x) {
  PlotSpec spec;
  spec.title = title;
  spec.y = y;
  spec.x = x;
  spec.log_y = log_y;
  spec.format = plot_format_for(output);
  const auto labels = run_labels(folders);
  std::vector<std::string> inputs;
  for (std::size_t i = 0; i < folders.size(); ++i) {
    const std::string path = folders[i] + "/metrics.jsonl";
    if (!std::filesystem::exists(path)) throw Error(fmt::format("kat plot: {} has no metrics.jsonl", folders[i]));
    inputs.push_back(path);
    spec.runs.push_back({labels[i], read_metrics(path)});
  }
  const std::string script = gnuplot_script(spec);

  // gnuplot draws to its standard output: a new file beside the output, renamed into place once
  // gnuplot has succeeded.
  const std::string tmp = temporary_path_for(output);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw SystemError(fmt::format("kat plot: cannot create {}: {}", tmp, std::strerror(errno)));
  ProcessOptions o;
  o.input = script;
  o.stdout_fd = fd;
  const ProcessResult r = run_program({"gnuplot"}, o);
  const bool closed = ::close(fd) == 0;
  if (!r.ok() || !closed) {
    std::remove(tmp.c_str());
    if (!r.started) throw SystemError("kat plot: gnuplot is not installed (scripts/install-deps.sh installs it)");
    throw SystemError(r.signal ? fmt::format("kat plot: gnuplot ended by signal {}", r.signal)
                               : fmt::format("kat plot: gnuplot failed (exit {})", r.exit_code));
  }
  commit_temporary(tmp, output);
}

}  // namespace kat
