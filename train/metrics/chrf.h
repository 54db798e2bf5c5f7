#pragma once
// chrF (Popović 2015) and chrF++ (Popović 2017) as sacreBLEU 2.x computes them. For each line and
// each order n, the character n-grams of the line with its white space removed (code points) and,
// for chrF++, the word n-grams; per order three counts: the hypothesis's n-grams, the reference's,
// and the matches (clipped by the reference). An order the reference has no n-gram of counts no
// hypothesis n-grams either, so a short reference does not lower the precision. With several
// references, each line takes the counts of the reference whose own F-score (the rule below) is
// highest, the first on a tie. The counts add up over the corpus; the score averages precision and
// recall over the orders where both the hypothesis and the reference have n-grams (none: 0) and
// gives their F-beta on 0..100. With eps_smoothing, it averages the F-beta of every order instead,
// an order without n-grams counting 1e-16 (as chrF++.py, NLTK and Moses do).

#include <cstdint>
#include <string>
#include <vector>

#include "train/metrics/signature.h"

namespace kat {

struct ChrfOptions {
  int char_order = 6;
  int word_order = 0;  // 2 gives chrF++
  int beta = 2;        // recall counts beta times as much as precision
  bool lowercase = false;
  bool whitespace = false;  // keep the white space in the character n-grams
  bool eps_smoothing = false;
};

struct ChrfScore {
  double score = 0.0;  // 0..100
  int beta = 2, word_order = 0;
  // Per order (characters 1..char_order, then words 1..word_order): hypothesis n-grams, reference
  // n-grams, matches, summed over the corpus.
  std::vector<std::int64_t> statistics{};

  std::string name() const;    // "chrF2", "chrF2++" (one '+' per word order)
  std::string format() const;  // "chrF2 = 52.31"
  // The signature of the default options with one reference:
  // "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:kat-<version>".
  static std::string signature();
};

Signature chrf_signature(const ChrfOptions& options, std::size_t references);

// One reference per hypothesis, default options (chrF2). Throws kat::Error when the lists differ in length.
ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
// references[k] is the k-th set of references, line-aligned with the hypotheses; at least one.
ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references, const ChrfOptions& options);

// The score from counts summed over a corpus (ChrfScore::statistics, 3 per order), e.g. over parts
// of a corpus scored apart.
ChrfScore chrf_from_statistics(const std::vector<std::int64_t>& statistics, const ChrfOptions& options);

}  // namespace kat
