#include "train/metrics/chrf.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "train/metrics/text.h"

namespace kat {
namespace {

// What an order without n-grams counts as a precision, recall or F-score under eps_smoothing.
constexpr double kEps = 1e-16;

// An n-gram (UTF-8) and how often a line has it; one map per order.
using Counts = std::unordered_map<std::string, std::int64_t>;

bool is_ascii_punctuation(char32_t c) {
  return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
}

// chrF++'s words: the line split on white space, with an ASCII punctuation mark at the end of a word
// of several characters split off, or else one at its start ("(hi)" gives "(hi" and ")").
std::vector<std::u32string> words_of(std::u32string_view line) {
  std::vector<std::u32string> words;
  for (std::u32string& w : unicode::split(line)) {
    if (w.size() > 1 && is_ascii_punctuation(w.back())) {
      words.push_back(w.substr(0, w.size() - 1));
      words.push_back(w.substr(w.size() - 1));
    } else if (w.size() > 1 && is_ascii_punctuation(w.front())) {
      words.push_back(w.substr(0, 1));
      words.push_back(w.substr(1));
    } else {
      words.push_back(std::move(w));
    }
  }
  return words;
}

// The character n-grams of orders 1..char_order, then the word n-grams of orders 1..word_order.
std::vector<Counts> count_ngrams(const std::string& line, const ChrfOptions& o) {
  std::u32string text = unicode::decode(line);
  if (o.lowercase) text = unicode::lower(text);
  std::vector<Counts> orders;
  orders.reserve(static_cast<std::size_t>(o.char_order + o.word_order));

  // The characters in UTF-8, with where each starts, so an n-gram is a substring.
  std::string chars;
  std::vector<std::size_t> starts;
  for (char32_t c : text) {
    if (!o.whitespace && unicode::is_space(c)) continue;
    starts.push_back(chars.size());
    chars += unicode::encode(std::u32string_view(&c, 1));
  }
  starts.push_back(chars.size());
  const std::size_t length = starts.size() - 1;
  for (std::size_t n = 1; n <= static_cast<std::size_t>(o.char_order); ++n) {
    Counts& counts = orders.emplace_back();
    for (std::size_t i = 0; i + n <= length; ++i) ++counts[chars.substr(starts[i], starts[i + n] - starts[i])];
  }

  if (o.word_order > 0) {
    std::vector<std::string> words;
    for (const std::u32string& w : words_of(text)) words.push_back(unicode::encode(w));
    for (std::size_t n = 1; n <= static_cast<std::size_t>(o.word_order); ++n) {
      Counts& counts = orders.emplace_back();
      for (std::size_t i = 0; i + n <= words.size(); ++i) {
        std::string g = words[i];
        for (std::size_t k = 1; k < n; ++k) g += ' ' + words[i + k];
        ++counts[g];
      }
    }
  }
  return orders;
}

// Per order: the hypothesis's n-grams (none when the reference has no n-gram of that order), the
// reference's, and the matches.
std::vector<std::int64_t> match_statistics(const std::vector<Counts>& hyp, const std::vector<Counts>& ref) {
  std::vector<std::int64_t> stats;
  stats.reserve(3 * hyp.size());
  for (std::size_t n = 0; n < hyp.size(); ++n) {
    std::int64_t hyp_count = 0, ref_count = 0, matches = 0;
    for (const auto& [g, c] : hyp[n]) {
      hyp_count += c;
      if (auto it = ref[n].find(g); it != ref[n].end()) matches += std::min(c, it->second);
    }
    for (const auto& [g, c] : ref[n]) ref_count += c;
    stats.push_back(ref[n].empty() ? 0 : hyp_count);
    stats.push_back(ref_count);
    stats.push_back(matches);
  }
  return stats;
}

// The F-score on 0..100 of counts (3 per order), as the header describes. The arithmetic follows
// sacreBLEU's order of operations, so ties between references break the same way.
double f_score(std::span<const std::int64_t> stats, const ChrfOptions& o) {
  const double factor = static_cast<double>(o.beta) * static_cast<double>(o.beta);
  const std::size_t orders = stats.size() / 3;
  double eps_score = 0.0, avg_prec = 0.0, avg_rec = 0.0;
  int effective = 0;
  for (std::size_t n = 0; n < orders; ++n) {
    const std::int64_t hyp = stats[3 * n], ref = stats[3 * n + 1], match = stats[3 * n + 2];
    const double prec = hyp > 0 ? static_cast<double>(match) / static_cast<double>(hyp) : kEps;
    const double rec = ref > 0 ? static_cast<double>(match) / static_cast<double>(ref) : kEps;
    const double denom = factor * prec + rec;
    eps_score += denom > 0 ? (1 + factor) * prec * rec / denom : kEps;
    if (hyp > 0 && ref > 0) {
      avg_prec += prec;
      avg_rec += rec;
      ++effective;
    }
  }
  if (o.eps_smoothing) return 100 * eps_score / static_cast<double>(orders);
  if (effective == 0) return 0.0;
  avg_prec /= effective;
  avg_rec /= effective;
  if (avg_prec + avg_rec == 0) return 0.0;
  double score = (1 + factor) * avg_prec * avg_rec;
  score /= factor * avg_prec + avg_rec;
  return 100 * score;
}

void check_options(const ChrfOptions& o) {
  if (o.char_order < 0 || o.word_order < 0 || o.char_order + o.word_order == 0 || o.beta < 0) {
    throw Error(
        fmt::format("chrF: character order {}, word order {} and beta {} should be >= 0, with at least one order",
                    o.char_order, o.word_order, o.beta));
  }
}

}  // namespace

std::string ChrfScore::name() const {
  return fmt::format("chrF{}{}", beta, std::string(static_cast<std::size_t>(std::max(word_order, 0)), '+'));
}

std::string ChrfScore::format() const { return fmt::format("{} = {:.2f}", name(), score); }

std::string ChrfScore::signature() { return chrf_signature(ChrfOptions{}, 1).format(); }

Signature chrf_signature(const ChrfOptions& options, std::size_t references) {
  Signature s = signature_start(references);
  s.fields.push_back({"case", "c", options.lowercase ? "lc" : "mixed"});
  s.fields.push_back({"eff", "e", options.eps_smoothing ? "no" : "yes"});
  s.fields.push_back({"nc", "nc", std::to_string(options.char_order)});
  s.fields.push_back({"nw", "nw", std::to_string(options.word_order)});
  s.fields.push_back({"space", "s", options.whitespace ? "yes" : "no"});
  finish_signature(s);
  return s;
}

ChrfScore chrf_from_statistics(const std::vector<std::int64_t>& statistics, const ChrfOptions& options) {
  check_options(options);
  const std::size_t expected = 3 * static_cast<std::size_t>(options.char_order + options.word_order);
  if (statistics.size() != expected) {
    throw Error(fmt::format("chrF: {} statistics for {} orders (3 per order)", statistics.size(), expected / 3));
  }
  ChrfScore out;
  out.beta = options.beta;
  out.word_order = options.word_order;
  out.statistics = statistics;
  out.score = f_score(statistics, options);
  return out;
}

ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  return corpus_chrf(hypotheses, std::vector<std::vector<std::string>>{references}, ChrfOptions{});
}

ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references, const ChrfOptions& options) {
  check_options(options);
  if (references.empty()) throw Error("corpus_chrf: no references");
  for (std::size_t k = 0; k < references.size(); ++k) {
    if (references[k].size() != hypotheses.size()) {
      throw Error(fmt::format("corpus_chrf: {} hypotheses but {} references{} (one reference per hypothesis line)",
                              hypotheses.size(), references[k].size(),
                              references.size() > 1 ? fmt::format(" in reference set {}", k + 1) : ""));
    }
  }
  std::vector<std::int64_t> total(3 * static_cast<std::size_t>(options.char_order + options.word_order), 0);
  for (std::size_t line = 0; line < hypotheses.size(); ++line) {
    const std::vector<Counts> hyp = count_ngrams(hypotheses[line], options);
    std::vector<std::int64_t> best;
    double best_f = -1.0;
    for (const auto& set : references) {
      std::vector<std::int64_t> stats = match_statistics(hyp, count_ngrams(set[line], options));
      const double f = f_score(stats, options);
      if (f > best_f) {
        best_f = f;
        best = std::move(stats);
      }
    }
    for (std::size_t i = 0; i < total.size(); ++i) total[i] += best[i];
  }
  return chrf_from_statistics(total, options);
}

}  // namespace kat
