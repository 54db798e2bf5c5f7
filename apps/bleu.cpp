// `kat bleu HYPOTHESES REFERENCES`: corpus BLEU and chrF of two text files, one sentence a line,
// as sacreBLEU computes its defaults; prints both scores with their signatures.

#include <fmt/format.h>

#include <cstdio>
#include <fstream>

#include "apps/commands.h"
#include "core/error.h"
#include "data/utf8.h"
#include "train/metrics/bleu.h"

namespace kat::cli {
namespace {

struct BleuArgs {
  std::string hypotheses, references;
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot open", path));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (const auto bad = find_invalid_utf8(line)) {
      throw Error(fmt::format("{}:{}: invalid UTF-8 at byte {}", path, lines.size() + 1, *bad + 1));
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

int run_bleu(const BleuArgs& a) {
  const auto hyps = read_lines(a.hypotheses);
  const auto refs = read_lines(a.references);
  if (hyps.size() != refs.size()) {
    throw Error(fmt::format("{} has {} lines but {} has {}: one reference per hypothesis line", a.hypotheses,
                            hyps.size(), a.references, refs.size()));
  }
  const BleuScore bleu = corpus_bleu(hyps, refs);
  const ChrfScore chrf = corpus_chrf(hyps, refs);
  std::printf("%s\n  %s\n%s\n  %s\n", bleu.format().c_str(), BleuScore::signature().c_str(), chrf.format().c_str(),
              ChrfScore::signature().c_str());
  return 0;
}

}  // namespace

Runner add_bleu(CLI::App& app) {
  auto args = std::make_shared<BleuArgs>();
  CLI::App* cmd = app.add_subcommand("bleu", "Corpus BLEU and chrF of a hypothesis file against a reference file");
  cmd->add_option("hypotheses", args->hypotheses, "System output, one sentence a line")->required();
  cmd->add_option("references", args->references, "References, one a line, aligned with the hypotheses")->required();
  return [args] { return run_bleu(*args); };
}

}  // namespace kat::cli
