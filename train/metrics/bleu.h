#pragma once
// Corpus BLEU (Papineni et al. 2002) computed as sacreBLEU 2.x computes it (Post 2018): a tokenizer
// (13a of mteval-v13a by default; tokenizers.h), n-grams up to 4, counts clipped by the most any
// reference has and summed over the corpus, the reference length closest to each hypothesis, a
// smoothing for an order without matches ('exp' by default: each such order gets 1 / (2^k * total)),
// the brevity penalty, and a score of 0 when nothing matches at all.
//
// The chrF declarations live in chrf.h, included here for the callers of both.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "train/metrics/chrf.h"
#include "train/metrics/signature.h"
#include "train/metrics/tokenizers.h"

namespace kat {

// How an order without matches counts (Chen and Cherry 2014, as sacreBLEU names them).
enum class BleuSmoothing {
  kNone,   // precision 0
  kFloor,  // 'floor': smooth_value (0.1) matches instead of none
  kAddK,   // 'add-k': smooth_value (1) added to the matches and the n-grams of orders 2 to 4
  kExp,    // 'exp', mteval-v13a's: the k-th such order gets 1 / 2^k matches
};
std::string_view smoothing_name(BleuSmoothing smoothing);  // "none", "floor", "add-k", "exp"
// Throws kat::Error naming the choices for any other name.
BleuSmoothing smoothing_from_name(std::string_view name);

struct BleuOptions {
  BleuTokenizer tokenizer = BleuTokenizer::k13a;
  bool lowercase = false;  // str.lower() before tokenizing
  BleuSmoothing smoothing = BleuSmoothing::kExp;
  std::optional<double> smooth_value;  // for floor (default 0.1) and add-k (default 1)
  // Averages the log precisions over the orders the hypotheses have (up to the longest), not all
  // four, so a short sentence can score: sacreBLEU's choice for sentence BLEU.
  bool effective_order = false;

  // smooth_value, or the default of the smoothing (0 for none and exp, which take none).
  double smooth_value_or_default() const;
};

struct BleuScore {
  double score = 0.0;                  // 0..100
  std::array<double, 4> precisions{};  // 0..100, after smoothing
  std::array<std::int64_t, 4> correct{}, total{};
  double brevity_penalty = 1.0;
  std::int64_t sys_len = 0, ref_len = 0;

  // "55.1/29.4/17.8/11.0 (BP = 0.981 ratio = 0.981 hyp_len = 9012 ref_len = 9183)": what sacreBLEU
  // prints after the score, and its JSON's "verbose_score".
  std::string verbose() const;
  // "BLEU = 23.41 55.1/29.4/17.8/11.0 (BP = 0.981 ratio = 0.981 hyp_len = 9012 ref_len = 9183)"
  std::string format() const;
  // The signature of the default options with one reference:
  // "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:kat-<version>".
  static std::string signature();
};

// "nrefs:N|case:mixed|eff:no|tok:13a|smooth:exp|version:kat-<version>"; smoothings that take a
// value show it: "smooth:floor[0.10]".
Signature bleu_signature(const BleuOptions& options, std::size_t references);

// One reference per hypothesis, default options. Throws kat::Error when the two lists differ in length.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);
// references[k] is the k-th set of references (one file), line-aligned with the hypotheses; there
// must be at least one. Throws kat::Error for a set of another length or bad options.
BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references, const BleuOptions& options);

// The score of a corpus from its counts (correct, total, sys_len, ref_len; the rest is ignored):
// BLEU sums them over the lines, so the counts of a corpus scored in parts (by several processes)
// add up to the whole corpus's, and this gives its score.
BleuScore bleu_from_counts(const BleuScore& counts);
BleuScore bleu_from_counts(const BleuScore& counts, const BleuOptions& options);

}  // namespace kat
