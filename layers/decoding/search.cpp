#include "layers/decoding/search.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "autograd/grad_mode.h"
#include "core/kernels/reduce.h"

namespace kat {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double penalty(std::size_t length, double alpha) {
  return alpha == 0.0 ? 1.0 : std::pow((5.0 + static_cast<double>(length)) / 6.0, alpha);
}

// log(sum(exp(logits))) of one row, in double.
double log_sum_exp_row(const float* logits, std::int64_t v) {
  double mx = kNegInf;
  for (std::int64_t j = 0; j < v; ++j) mx = std::max(mx, static_cast<double>(logits[j]));
  double sum = 0;
  for (std::int64_t j = 0; j < v; ++j) sum += std::exp(static_cast<double>(logits[j]) - mx);
  return mx + std::log(sum);
}

// A beam's extension by one token: its log-probability, the beam, the token.
struct Cand {
  double log_prob;
  std::int64_t beam, token;
};

// Candidate order: the more likely first, ties to the smaller token.
bool better(const Cand& x, const Cand& y) {
  return x.log_prob > y.log_prob || (x.log_prob == y.log_prob && x.token < y.token);
}

// Appends to `out` the `keep` best extensions of one beam (log-probability base, logits of its row
// with log-sum-exp lse), best first: an item's best `keep` candidates over all its beams are among
// these, so the whole vocabulary of every beam never needs sorting.
void best_extensions(const float* logits, std::int64_t v, double base, double lse, std::int64_t beam, std::size_t keep,
                     std::vector<Cand>& top, std::vector<Cand>& out) {
  top.clear();
  for (std::int64_t j = 0; j < v; ++j) {
    const Cand c{base + (static_cast<double>(logits[j]) - lse), beam, j};
    if (top.size() == keep && !better(c, top.back())) continue;
    if (top.size() == keep) top.pop_back();
    top.insert(std::upper_bound(top.begin(), top.end(), c, better), c);
  }
  out.insert(out.end(), top.begin(), top.end());
}

Tensor logits_f32(const Tensor& logits, std::int64_t rows) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(0) != rows || logits.size(1) < 1) {
    throw Error(fmt::format("beam_search: the step function must return logits ({}, vocab), got {}", rows,
                            logits.defined() ? to_string(logits.shape()) : "undefined"));
  }
  return logits.dtype() == DType::f32 ? logits.contiguous() : logits.to(DType::f32);
}

struct Beam {
  std::vector<std::int64_t> tokens;
  double log_prob = 0.0;
};

}  // namespace

std::vector<std::vector<Hypothesis>> beam_search_nbest(const StepFn& step, DecodeState& state,
                                                       const std::vector<std::int64_t>& max_len,
                                                       const SearchOptions& o) {
  NoGradGuard no_grad;
  const std::int64_t B = static_cast<std::int64_t>(max_len.size());
  const std::int64_t K = o.beam;
  if (K < 1) throw Error(fmt::format("beam_search: beam must be >= 1, got {}", K));
  if (o.nbest < 1 || o.nbest > K) {
    throw Error(fmt::format("beam_search: nbest must be in [1, beam = {}], got {}", K, o.nbest));
  }
  if (!(o.length_penalty >= 0))
    throw Error(fmt::format("beam_search: length_penalty must be >= 0, got {}", o.length_penalty));
  if (B == 0) return {};
  if (state.batch != 0 && state.batch != B) {
    throw Error(fmt::format("beam_search: {} length limits for a decoding state of {} rows", B, state.batch));
  }
  for (std::int64_t m : max_len) {
    if (m < 0) throw Error(fmt::format("beam_search: a length limit is negative ({})", m));
  }
  // Rows p * K + k hold the beams of item active[p]; every beam of an item starts as a copy of its
  // row. Items that close leave the batch: their rows are no longer decoded.
  std::vector<std::int64_t> active(static_cast<std::size_t>(B));
  std::iota(active.begin(), active.end(), std::int64_t{0});
  if (K > 1) {
    std::vector<std::int64_t> expand(static_cast<std::size_t>(B * K));
    for (std::int64_t i = 0; i < B * K; ++i) expand[static_cast<std::size_t>(i)] = i / K;
    state.reorder(Tensor::from_vector(expand));
  }
  std::vector<std::vector<Beam>> beams(static_cast<std::size_t>(B));
  for (auto& b : beams) b.assign(1, Beam{});  // one live beam at the start: the others would repeat it
  std::vector<std::vector<Hypothesis>> done(static_cast<std::size_t>(B));
  std::vector<bool> closed(static_cast<std::size_t>(B), false);
  std::vector<std::int64_t> last(static_cast<std::size_t>(B * K), o.bos);
  std::vector<std::int64_t> origin;  // the state row each row continues, applied before the next step

  std::vector<Cand> cands, top;
  for (std::int64_t t = 0;; ++t) {
    std::size_t open = 0;
    for (std::int64_t b : active) {
      if (!closed[static_cast<std::size_t>(b)] && t >= max_len[static_cast<std::size_t>(b)]) {
        // Out of length: the live beams end here, unfinished.
        for (const Beam& beam : beams[static_cast<std::size_t>(b)]) {
          done[static_cast<std::size_t>(b)].push_back(Hypothesis{
              beam.tokens, beam.log_prob, beam.log_prob / penalty(beam.tokens.size(), o.length_penalty), false});
        }
        closed[static_cast<std::size_t>(b)] = true;
      }
      if (!closed[static_cast<std::size_t>(b)]) ++open;
    }
    if (open == 0) break;

    // Drop the closed items (with one beam, only once they are 1/16 of the batch: the reorder that
    // drops them is a pass of its own), and apply the beams' reorder.
    const std::size_t rows_before = active.size();
    const bool compact = open < rows_before && (K > 1 || (rows_before - open) * 16 >= rows_before);
    if (compact || !origin.empty()) {
      std::vector<std::int64_t> keep;  // positions of the items that stay
      for (std::size_t p = 0; p < active.size(); ++p) {
        if (!compact || !closed[static_cast<std::size_t>(active[p])]) keep.push_back(static_cast<std::int64_t>(p));
      }
      std::vector<std::int64_t> rows(keep.size() * static_cast<std::size_t>(K)), next_last(rows.size());
      std::vector<std::int64_t> next_active(keep.size());
      bool identity = keep.size() == active.size();
      for (std::size_t j = 0; j < keep.size(); ++j) {
        next_active[j] = active[static_cast<std::size_t>(keep[j])];
        for (std::int64_t k = 0; k < K; ++k) {
          const std::size_t from = static_cast<std::size_t>(keep[j] * K + k);
          const std::size_t to = j * static_cast<std::size_t>(K) + static_cast<std::size_t>(k);
          rows[to] = origin.empty() ? static_cast<std::int64_t>(from) : origin[from];
          next_last[to] = last[from];
          identity = identity && rows[to] == static_cast<std::int64_t>(to);
        }
      }
      if (!identity) state.reorder(Tensor::from_vector(rows));
      active = std::move(next_active);
      last = std::move(next_last);
      origin.clear();
    }

    const std::int64_t R = static_cast<std::int64_t>(active.size()) * K;
    const Tensor logits = logits_f32(step(Tensor::from_vector(last), state), R);
    const std::int64_t V = logits.size(1);
    const float* pl = logits.data<float>();
    origin.assign(static_cast<std::size_t>(R), 0);
    for (std::size_t p = 0; p < active.size(); ++p) {
      const std::int64_t b = active[p];
      const std::int64_t row0 = static_cast<std::int64_t>(p) * K;
      auto& item = beams[static_cast<std::size_t>(b)];
      for (std::int64_t k = 0; k < K; ++k) origin[static_cast<std::size_t>(row0 + k)] = row0;  // keep rows valid
      if (closed[static_cast<std::size_t>(b)]) continue;
      // Candidates: the 2K best extensions of each live beam; then the item's 2K best of those.
      const std::size_t per_beam = std::min(static_cast<std::size_t>(V), static_cast<std::size_t>(2 * K));
      cands.clear();
      for (std::size_t k = 0; k < item.size(); ++k) {
        const float* row = pl + (row0 + static_cast<std::int64_t>(k)) * V;
        best_extensions(row, V, item[k].log_prob, log_sum_exp_row(row, V), static_cast<std::int64_t>(k), per_beam, top,
                        cands);
      }
      const std::size_t keep = std::min(cands.size(), static_cast<std::size_t>(2 * K));
      std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(keep), cands.end(), better);
      std::vector<Beam> next;
      auto& finished = done[static_cast<std::size_t>(b)];
      for (std::size_t c = 0; c < keep && static_cast<std::int64_t>(next.size()) < K; ++c) {
        const Cand& cand = cands[c];
        const Beam& from = item[static_cast<std::size_t>(cand.beam)];
        if (cand.token == o.eos) {
          if (static_cast<std::int64_t>(finished.size()) < K) {
            finished.push_back(Hypothesis{from.tokens, cand.log_prob,
                                          cand.log_prob / penalty(from.tokens.size() + 1, o.length_penalty), true});
          }
          continue;
        }
        Beam nb{from.tokens, cand.log_prob};
        nb.tokens.push_back(cand.token);
        origin[static_cast<std::size_t>(row0 + static_cast<std::int64_t>(next.size()))] = row0 + cand.beam;
        last[static_cast<std::size_t>(row0 + static_cast<std::int64_t>(next.size()))] = cand.token;
        next.push_back(std::move(nb));
      }
      // Done when K hypotheses have finished and no live beam can still beat the best of them
      // (log-probabilities only fall; with a length penalty a longer beam's score can still rise,
      // so then only a full set of K finished ones closes the item).
      double best_done = kNegInf;
      for (const Hypothesis& h : finished) best_done = std::max(best_done, h.score);
      double best_live = kNegInf;
      for (const Beam& nb : next) best_live = std::max(best_live, nb.log_prob);
      const bool no_better = o.length_penalty == 0.0 ? best_live <= best_done : true;
      if (next.empty() || (static_cast<std::int64_t>(finished.size()) >= K && no_better)) {
        closed[static_cast<std::size_t>(b)] = true;
      }
      item = std::move(next);
    }
    if (K == 1) origin.clear();  // one beam per item: rows continue themselves
  }

  std::vector<std::vector<Hypothesis>> best(static_cast<std::size_t>(B));
  for (std::int64_t b = 0; b < B; ++b) {
    auto& hs = done[static_cast<std::size_t>(b)];
    // Finished hypotheses first; among them the best score.
    std::stable_sort(hs.begin(), hs.end(), [](const Hypothesis& x, const Hypothesis& y) {
      if (x.finished != y.finished) return x.finished;
      return x.score > y.score;
    });
    if (static_cast<std::int64_t>(hs.size()) > o.nbest) hs.resize(static_cast<std::size_t>(o.nbest));
    best[static_cast<std::size_t>(b)] = std::move(hs);
  }
  return best;
}

std::vector<Hypothesis> beam_search(const StepFn& step, DecodeState& state, const std::vector<std::int64_t>& max_len,
                                    const SearchOptions& options) {
  SearchOptions one = options;
  one.nbest = 1;
  std::vector<Hypothesis> out;
  for (auto& list : beam_search_nbest(step, state, max_len, one)) out.push_back(std::move(list.front()));
  return out;
}

Tensor greedy_tokens(const Tensor& logits) {
  if (!logits.defined() || logits.dim() != 2) {
    throw Error(fmt::format("greedy_tokens: expected logits (B, V), got {}",
                            logits.defined() ? to_string(logits.shape()) : "undefined"));
  }
  return argmax(logits, -1);
}

Tensor sample_tokens(const Tensor& logits, const SamplingOptions& o, Rng& rng) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) < 1) {
    throw Error(fmt::format("sample_tokens: expected logits (B, V), got {}",
                            logits.defined() ? to_string(logits.shape()) : "undefined"));
  }
  if (!(o.temperature > 0)) throw Error(fmt::format("sample_tokens: temperature must be > 0, got {}", o.temperature));
  if (o.top_k < 0) throw Error(fmt::format("sample_tokens: top_k must be >= 0, got {}", o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1))
    throw Error(fmt::format("sample_tokens: top_p must be in (0, 1], got {}", o.top_p));
  const Tensor l = logits.to(DType::f64).contiguous();
  const std::int64_t B = l.size(0), V = l.size(1);
  const double* pl = l.data<double>();
  std::vector<std::int64_t> out(static_cast<std::size_t>(B));
  std::vector<std::int64_t> order(static_cast<std::size_t>(V));
  std::vector<double> p(static_cast<std::size_t>(V));
  for (std::int64_t b = 0; b < B; ++b) {
    const double* row = pl + b * V;
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](std::int64_t x, std::int64_t y) { return row[x] > row[y] || (row[x] == row[y] && x < y); });
    std::int64_t keep = o.top_k > 0 ? std::min(o.top_k, V) : V;
    const double mx = row[order[0]] / o.temperature;
    double total = 0;
    for (std::int64_t i = 0; i < keep; ++i) {
      p[static_cast<std::size_t>(i)] = std::exp(row[order[static_cast<std::size_t>(i)]] / o.temperature - mx);
      total += p[static_cast<std::size_t>(i)];
    }
    if (o.top_p < 1.0) {
      double acc = 0;
      std::int64_t n = 0;
      while (n < keep) {
        acc += p[static_cast<std::size_t>(n)] / total;
        ++n;
        if (acc >= o.top_p) break;
      }
      keep = n;
      total = 0;
      for (std::int64_t i = 0; i < keep; ++i) total += p[static_cast<std::size_t>(i)];
    }
    double u = rng.uniform() * total;
    std::int64_t pick = keep - 1;
    for (std::int64_t i = 0; i < keep; ++i) {
      u -= p[static_cast<std::size_t>(i)];
      if (u < 0) {
        pick = i;
        break;
      }
    }
    out[static_cast<std::size_t>(b)] = order[static_cast<std::size_t>(pick)];
  }
  return Tensor::from_vector(out);
}

}  // namespace kat
