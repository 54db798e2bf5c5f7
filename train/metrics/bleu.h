#pragma once
// Corpus BLEU (Papineni et al. 2002) computed as sacreBLEU computes its default score (Post 2018):
// the 13a tokenizer of mteval-v13a, n-grams up to 4, clipped counts summed over the corpus, the
// 'exp' smoothing for an order without matches (each such order gets 1 / (2^k * total)), the
// brevity penalty, and a score of 0 when nothing matches at all. One reference per line.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kat {

// mteval-v13a tokenization: unescapes four XML entities, splits off punctuation and symbols (but
// not '.' or ',' inside numbers, nor '-' except after a digit), and collapses white space.
std::vector<std::string> tokenize_13a(std::string_view line);

struct BleuScore {
  double score = 0.0;                  // 0..100
  std::array<double, 4> precisions{};  // 0..100, after smoothing
  std::array<std::int64_t, 4> correct{}, total{};
  double brevity_penalty = 1.0;
  std::int64_t sys_len = 0, ref_len = 0;

  // "BLEU = 23.41 55.1/29.4/17.8/11.0 (BP = 0.981 ratio = 0.981 hyp_len = 9012 ref_len = 9183)"
  std::string format() const;
  static std::string signature() { return "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp"; }
};

// Throws kat::Error when the two lists differ in length.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
// The score of a corpus from its counts (correct, total, sys_len, ref_len; the rest is ignored):
// BLEU sums them over the lines, so the counts of a corpus scored in parts (by several processes)
// add up to the whole corpus's, and this gives its score.
BleuScore bleu_from_counts(const BleuScore& counts);

// chrF (Popović 2015) as sacreBLEU's default CHRF: character n-grams of orders 1..6 over each line
// with its white space removed (Unicode code points), counts summed over the corpus, precision
// and recall averaged over the orders present in both, F-beta with beta = 2, on 0..100.
struct ChrfScore {
  double score = 0.0;
  std::string format() const;  // "chrF2 = 52.31"
  static std::string signature() { return "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no"; }
};
ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);

}  // namespace kat
