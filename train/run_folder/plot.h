#pragma once
// Training curves drawn by gnuplot: the loss of each run (training and validation panels, a third
// for BLEU when a run has it), one colour per run, into a PNG, SVG or PDF.
//
// No user string is ever read by gnuplot as a command. The script is kat's own text; titles and
// legend labels enter it only as single-quoted gnuplot strings (where gnuplot does no backquote,
// macro or backslash processing), with every quote shown as a typographic one (U+2019) and every
// control byte as a space, so none can end its string or its line; the data are numbers kat formats itself; the
// output path never enters the script (gnuplot writes to its standard output, which kat points at
// a new file beside the output and renames into place); and gnuplot is started without a shell.

#include <map>
#include <string>
#include <vector>

namespace kat {

struct PlotSeries {
  std::string label;                                   // the legend entry
  std::vector<std::map<std::string, double>> records;  // metrics.jsonl's records
};

enum class PlotFormat { png, svg, pdf };

// What the y axes show: the loss in nats per token, its exp (perplexity), or bits per token (per
// character for a character model).
enum class PlotY { loss, perplexity, bits };
// What the x axis counts: steps, or minutes of training (train_time, the steps alone as
// train.time_budget counts them; wall_time for runs whose records lack it).
enum class PlotX { step, time };

struct PlotSpec {
  std::vector<PlotSeries> runs;
  std::string title;  // empty: "kat runs"
  PlotY y = PlotY::loss;
  PlotX x = PlotX::step;
  bool log_y = false;
  PlotFormat format = PlotFormat::png;
};

// The format an output path asks for by its extension (.png, .svg, .pdf); throws kat::Error for
// any other, naming the path.
PlotFormat plot_format_for(const std::string& path);

// `s` as a gnuplot single-quoted string literal: quotes as U+2019, control bytes as spaces.
std::string gnuplot_literal(const std::string& s);

// The gnuplot script for `spec`. Throws kat::Error when no run has a loss record.
std::string gnuplot_script(const PlotSpec& spec);

// Legend labels for run folders: each folder's last name, or as many trailing names as tell the
// folders apart (runs/lm/softmax and runs/mt/softmax give lm/softmax and mt/softmax).
std::vector<std::string> run_labels(const std::vector<std::string>& folders);

// Reads each run's metrics.jsonl and draws the figure into `output` (written whole or not at all).
// Throws kat::Error for a run without metrics or a bad output name, kat::SystemError when gnuplot
// is missing or fails.
void plot_runs(const std::vector<std::string>& folders, const std::string& output, const std::string& title,
               PlotY y = PlotY::loss, bool log_y = false, PlotX x = PlotX::step);

}  // namespace kat
