#include "train/metrics/bleu.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <unordered_map>

#include "core/error.h"
#include "train/metrics/text.h"

namespace kat {
namespace {

constexpr std::size_t kOrder = 4;

// log, with log(0) a large negative number rather than -inf (as sacreBLEU), so a zero precision
// makes the score 0 without a NaN.
double floored_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

// The n-grams of orders 1..4, each the tokens joined by ' ' (tokens hold no white space, so no two
// n-grams of any orders share a key), with their counts.
using NgramCounts = std::unordered_map<std::string, std::int64_t>;

NgramCounts count_ngrams(const std::vector<std::string>& tokens) {
  NgramCounts counts;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string g = tokens[i];
    ++counts[g];
    for (std::size_t n = 2; n <= kOrder && i + n <= tokens.size(); ++n) {
      g += ' ';
      g += tokens[i + n - 1];
      ++counts[g];
    }
  }
  return counts;
}

std::size_t order_of(const std::string& ngram) {
  return 1 + static_cast<std::size_t>(std::count(ngram.begin(), ngram.end(), ' '));
}

// The reference length BLEU compares a hypothesis of hyp_len tokens with: the closest, the shorter on a tie.
std::int64_t closest_length(std::int64_t hyp_len, const std::vector<std::int64_t>& ref_lens) {
  std::int64_t best = ref_lens.front();
  for (std::int64_t len : ref_lens) {
    const std::int64_t d = std::abs(hyp_len - len), best_d = std::abs(hyp_len - best);
    if (d < best_d || (d == best_d && len < best)) best = len;
  }
  return best;
}

std::vector<std::string> preprocess(const std::string& line, const BleuOptions& options) {
  if (options.lowercase) return tokenize(unicode::rstrip(unicode::lower(line)), options.tokenizer);
  return tokenize(unicode::rstrip(line), options.tokenizer);
}

void check_options(const BleuOptions& o) {
  if (o.smooth_value && !(std::isfinite(*o.smooth_value) && *o.smooth_value >= 0)) {
    throw Error(fmt::format("BLEU: smooth value {} should be a number >= 0", *o.smooth_value));
  }
}

}  // namespace

std::string_view smoothing_name(BleuSmoothing smoothing) {
  switch (smoothing) {
    case BleuSmoothing::kNone: return "none";
    case BleuSmoothing::kFloor: return "floor";
    case BleuSmoothing::kAddK: return "add-k";
    case BleuSmoothing::kExp: return "exp";
  }
  return "?";
}

BleuSmoothing smoothing_from_name(std::string_view name) {
  for (BleuSmoothing s : {BleuSmoothing::kNone, BleuSmoothing::kFloor, BleuSmoothing::kAddK, BleuSmoothing::kExp}) {
    if (smoothing_name(s) == name) return s;
  }
  throw Error(fmt::format("unknown BLEU smoothing '{}' (choose none, floor, add-k or exp)", name));
}

double BleuOptions::smooth_value_or_default() const {
  if (smooth_value) return *smooth_value;
  return smoothing == BleuSmoothing::kFloor ? 0.1 : smoothing == BleuSmoothing::kAddK ? 1.0 : 0.0;
}

std::string BleuScore::verbose() const {
  const double ratio = ref_len > 0 ? static_cast<double>(sys_len) / static_cast<double>(ref_len) : 0.0;
  return fmt::format("{:.1f}/{:.1f}/{:.1f}/{:.1f} (BP = {:.3f} ratio = {:.3f} hyp_len = {} ref_len = {})",
                     precisions[0], precisions[1], precisions[2], precisions[3], brevity_penalty, ratio, sys_len,
                     ref_len);
}

std::string BleuScore::format() const { return fmt::format("BLEU = {:.2f} {}", score, verbose()); }

std::string BleuScore::signature() { return bleu_signature(BleuOptions{}, 1).format(); }

Signature bleu_signature(const BleuOptions& options, std::size_t references) {
  Signature s = signature_start(references);
  std::string smooth(smoothing_name(options.smoothing));
  if (options.smoothing == BleuSmoothing::kFloor || options.smoothing == BleuSmoothing::kAddK) {
    smooth += fmt::format("[{:.2f}]", options.smooth_value_or_default());
  }
  s.fields.push_back({"case", "c", options.lowercase ? "lc" : "mixed"});
  s.fields.push_back({"eff", "e", options.effective_order ? "yes" : "no"});
  s.fields.push_back({"tok", "tok", std::string(tokenizer_name(options.tokenizer))});
  s.fields.push_back({"smooth", "s", smooth});
  finish_signature(s);
  return s;
}

BleuScore bleu_from_counts(const BleuScore& counts) { return bleu_from_counts(counts, BleuOptions{}); }

BleuScore bleu_from_counts(const BleuScore& counts, const BleuOptions& options) {
  check_options(options);
  BleuScore r;
  r.correct = counts.correct;
  r.total = counts.total;
  r.sys_len = counts.sys_len;
  r.ref_len = counts.ref_len;
  if (r.sys_len < r.ref_len) {
    r.brevity_penalty =
        r.sys_len > 0 ? std::exp(1.0 - static_cast<double>(r.ref_len) / static_cast<double>(r.sys_len)) : 0.0;
  }
  bool any_match = false;
  for (auto c : r.correct) any_match = any_match || c > 0;
  if (!any_match) return r;  // nothing matches: 0, whatever the smoothing would say
  const double value = options.smooth_value_or_default();
  double exp_divisor = 1.0;
  std::size_t orders = kOrder;  // the orders the score averages over
  for (std::size_t n = 0; n < kOrder; ++n) {
    double correct = static_cast<double>(r.correct[n]), total = static_cast<double>(r.total[n]);
    if (options.smoothing == BleuSmoothing::kAddK && n > 0) {
      correct += value;
      total += value;
    }
    if (total == 0) break;
    if (options.effective_order) orders = n + 1;
    if (correct == 0) {
      if (options.smoothing == BleuSmoothing::kExp) {
        exp_divisor *= 2;
        r.precisions[n] = 100.0 / (exp_divisor * total);
      } else if (options.smoothing == BleuSmoothing::kFloor) {
        r.precisions[n] = 100.0 * value / total;
      }
    } else {
      r.precisions[n] = 100.0 * correct / total;
    }
  }
  double log_sum = 0;
  for (std::size_t n = 0; n < orders; ++n) log_sum += floored_log(r.precisions[n]);
  r.score = r.brevity_penalty * std::exp(log_sum / static_cast<double>(orders));
  return r;
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  return corpus_bleu(hypotheses, std::vector<std::vector<std::string>>{references}, BleuOptions{});
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references, const BleuOptions& options) {
  check_options(options);
  if (references.empty()) throw Error("corpus_bleu: no references");
  for (std::size_t k = 0; k < references.size(); ++k) {
    if (references[k].size() != hypotheses.size()) {
      throw Error(fmt::format("corpus_bleu: {} hypotheses but {} references{} (one reference per hypothesis line)",
                              hypotheses.size(), references[k].size(),
                              references.size() > 1 ? fmt::format(" in reference set {}", k + 1) : ""));
    }
  }
  BleuScore r;
  std::vector<std::int64_t> ref_lens(references.size());
  for (std::size_t line = 0; line < hypotheses.size(); ++line) {
    // Each reference n-gram counts as often as the reference with most of it has it.
    NgramCounts ref_counts;
    for (std::size_t k = 0; k < references.size(); ++k) {
      const std::vector<std::string> ref = preprocess(references[k][line], options);
      ref_lens[k] = static_cast<std::int64_t>(ref.size());
      for (const auto& [g, c] : count_ngrams(ref)) {
        std::int64_t& most = ref_counts[g];
        most = std::max(most, c);
      }
    }
    const std::vector<std::string> hyp = preprocess(hypotheses[line], options);
    const auto hyp_len = static_cast<std::int64_t>(hyp.size());
    r.sys_len += hyp_len;
    r.ref_len += closest_length(hyp_len, ref_lens);
    for (const auto& [g, c] : count_ngrams(hyp)) {
      const std::size_t n = order_of(g) - 1;
      r.total[n] += c;
      if (auto it = ref_counts.find(g); it != ref_counts.end()) r.correct[n] += std::min(c, it->second);
    }
  }
  return bleu_from_counts(r, options);
}

}  // namespace kat
