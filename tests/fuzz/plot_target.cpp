#include <cmath>
#include <vector>

#include "core/error.h"
#include "tests/fuzz/fuzz_targets.h"
#include "train/run_folder/plot.h"

namespace kat::fuzz {
namespace {

std::vector<std::string> split_at_nul(std::string_view text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\0', start), text.size());
    parts.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// The script with each single-quoted literal replaced by '' (gnuplot's quoting: a doubled quote
// inside is a quote). Also checks that no literal holds a control byte, which could end the
// string's line and start a command, nor a doubled quote, which gnuplot 5.4 misreads at the start
// of a string.
std::string skeleton(const std::string& script) {
  std::string out;
  for (std::size_t i = 0; i < script.size(); ++i) {
    if (script[i] != '\'') {
      out.push_back(script[i]);
      continue;
    }
    std::size_t j = i + 1;
    for (;; ++j) {
      expect(j < script.size(), "an unterminated string literal in the gnuplot script");
      const auto c = static_cast<unsigned char>(script[j]);
      expect(c >= 0x20 && c != 0x7f, "a control byte inside a string literal of the gnuplot script");
      if (script[j] == '\'') {
        expect(j + 1 >= script.size() || script[j + 1] != '\'', "a doubled quote in the gnuplot script");
        break;
      }
    }
    out.append(2, '\'');
    i = j;
  }
  return out;
}

}  // namespace

bool plot_input(std::span<const std::uint8_t> data) {
  // The parts between NUL bytes: the title, then run folder names (legend labels come from them).
  const std::vector<std::string> parts = split_at_nul(as_text(data));
  std::vector<std::string> folders(parts.begin() + 1, parts.end());
  if (folders.empty() || folders.size() > 16) return false;
  for (const auto& f : folders) {
    if (f.empty()) return false;
  }
  const std::vector<std::string> labels = run_labels(folders);
  expect(labels.size() == folders.size(), "run_labels returned a label count other than the folders'");

  PlotSpec spec, blank;
  spec.title = parts[0];
  blank.title.assign(1, 'x');  // a non-empty title: an empty one is replaced by the default
  const std::vector<std::map<std::string, double>> records = {{{"step", 10}, {"train_loss", 2.5}},
                                                              {{"step", 20}, {"train_loss", 2.0}, {"val_loss", 2.2}}};
  for (std::size_t i = 0; i < folders.size(); ++i) {
    spec.runs.push_back({labels[i], records});
    blank.runs.push_back({"", records});
  }
  if (spec.title.empty()) spec.title.assign(1, 'x');
  for (const PlotFormat format : {PlotFormat::png, PlotFormat::svg, PlotFormat::pdf}) {
    spec.format = blank.format = format;
    // Outside its string literals the script must not depend on a byte of the user's strings: they
    // can only ever be text inside single quotes, where gnuplot runs nothing.
    expect(skeleton(gnuplot_script(spec)) == skeleton(gnuplot_script(blank)),
           "a title or label changed the gnuplot script outside its string literals");
  }
  return true;
}

}  // namespace kat::fuzz
