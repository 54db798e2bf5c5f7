#include <cmath>
#include <vector>

#include "core/error.h"
#include "tests/fuzz/fuzz_targets.h"
#include "train/metrics/bleu.h"

namespace kat::fuzz {
namespace {

bool in_percent(double x) { return std::isfinite(x) && x >= 0.0 && x <= 100.0 + 1e-9; }

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find('\n', start), text.size());
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace

bool bleu_input(std::span<const std::uint8_t> data) {
  const std::string_view text = as_text(data);
  for (const std::string& token : tokenize_13a(text)) {
    expect(!token.empty(), "tokenize_13a returned an empty token");
    expect(token.find_first_of(" \t\n\r") == std::string::npos, "tokenize_13a returned a token with white space");
  }
  // Lines 1, 3, 5, ... are hypotheses; 2, 4, 6, ... their references.
  std::vector<std::string> hyps, refs;
  const std::vector<std::string> lines = split_lines(text);
  for (std::size_t k = 0; k + 1 < lines.size(); k += 2) {
    hyps.push_back(lines[k]);
    refs.push_back(lines[k + 1]);
  }
  const BleuScore bleu = corpus_bleu(hyps, refs);
  expect(in_percent(bleu.score), "BLEU " + std::to_string(bleu.score) + " outside [0, 100]");
  for (std::size_t n = 0; n < 4; ++n) {
    expect(in_percent(bleu.precisions[n]), "BLEU precision outside [0, 100]");
    expect(bleu.correct[n] >= 0 && bleu.correct[n] <= bleu.total[n], "BLEU: more matches than n-grams");
  }
  expect(bleu.brevity_penalty >= 0.0 && bleu.brevity_penalty <= 1.0, "BLEU brevity penalty outside [0, 1]");
  bleu.format();
  const ChrfScore chrf = corpus_chrf(hyps, refs);
  expect(in_percent(chrf.score), "chrF " + std::to_string(chrf.score) + " outside [0, 100]");
  chrf.format();
  // A corpus scored against itself: chrF 100 whenever it has any character, BLEU 100 whenever it
  // has a 4-gram.
  const ChrfScore self_chrf = corpus_chrf(hyps, hyps);
  const BleuScore self_bleu = corpus_bleu(hyps, hyps);
  expect(self_chrf.score == 0.0 || std::abs(self_chrf.score - 100.0) < 1e-9, "chrF of a corpus with itself != 100");
  expect(self_bleu.total[3] == 0 || std::abs(self_bleu.score - 100.0) < 1e-9, "BLEU of a corpus with itself != 100");
  bool refused = false;
  try {
    corpus_bleu(hyps, lines);  // never the same length: lines.size() > hyps.size()
  } catch (const Error&) {
    refused = true;
  }
  expect(refused, "corpus_bleu accepted lists of different lengths");
  return true;
}

}  // namespace kat::fuzz
