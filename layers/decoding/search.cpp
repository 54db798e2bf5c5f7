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

// log_softmax of one row, in double.
void log_softmax_row(const float* logits, std::int64_t v, std::vector<double>& out) {
  out.resize(static_cast<std::size_t>(v));
  double mx = kNegInf;
  for (std::int64_t j = 0; j < v; ++j) mx = std::max(mx, static_cast<double>(logits[j]));
  double sum = 0;
  for (std::int64_t j = 0; j < v; ++j) sum += std::exp(static_cast<double>(logits[j]) - mx);
  const double lse = mx + std::log(sum);
  for (std::int64_t j = 0; j < v; ++j) out[static_cast<std::size_t>(j)] = static_cast<double>(logits[j]) - lse;
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
  // Rows b * K + k; every beam of an item starts as a copy of its row.
  {
    std::vector<std::int64_t> expand(static_cast<std::size_t>(B * K));
    for (std::int64_t i = 0; i < B * K; ++i) expand[static_cast<std::size_t>(i)] = i / K;
    if (K > 1) state.reorder(Tensor::from_vector(expand));
  }
  std::vector<std::vector<Beam>> beams(static_cast<std::size_t>(B));
  for (auto& b : beams) b.assign(1, Beam{});  // one live beam at the start: the others would repeat it
  std::vector<std::vector<Hypothesis>> done(static_cast<std::size_t>(B));
  std::vector<bool> closed(static_cast<std::size_t>(B), false);
  std::vector<std::int64_t> last(static_cast<std::size_t>(B * K), o.bos);

  std::vector<double> lp;
  for (std::int64_t t = 0;; ++t) {
    bool any_open = false;
    for (std::int64_t b = 0; b < B; ++b) {
      if (!closed[static_cast<std::size_t>(b)] && t >= max_len[static_cast<std::size_t>(b)]) {
        // Out of length: the live beams end here, unfinished.
        for (const Beam& beam : beams[static_cast<std::size_t>(b)]) {
          done[static_cast<std::size_t>(b)].push_back(Hypothesis{
              beam.tokens, beam.log_prob, beam.log_prob / penalty(beam.tokens.size(), o.length_penalty), false});
        }
        closed[static_cast<std::size_t>(b)] = true;
      }
      any_open = any_open || !closed[static_cast<std::size_t>(b)];
    }
    if (!any_open) break;

    const Tensor logits = logits_f32(step(Tensor::from_vector(last), state), B * K);
    const std::int64_t V = logits.size(1);
    const float* pl = logits.data<float>();
    std::vector<std::int64_t> origin(static_cast<std::size_t>(B * K));
    for (std::int64_t b = 0; b < B; ++b) {
      auto& item = beams[static_cast<std::size_t>(b)];
      for (std::int64_t k = 0; k < K; ++k) origin[static_cast<std::size_t>(b * K + k)] = b * K;  // keep rows valid
      if (closed[static_cast<std::size_t>(b)]) continue;
      // Candidates: every live beam extended by every token, best first.
      struct Cand {
        double log_prob;
        std::int64_t beam, token;
      };
      std::vector<Cand> cands;
      cands.reserve(item.size() * static_cast<std::size_t>(V));
      for (std::size_t k = 0; k < item.size(); ++k) {
        log_softmax_row(pl + (b * K + static_cast<std::int64_t>(k)) * V, V, lp);
        for (std::int64_t v = 0; v < V; ++v) {
          cands.push_back({item[k].log_prob + lp[static_cast<std::size_t>(v)], static_cast<std::int64_t>(k), v});
        }
      }
      const std::size_t keep = std::min(cands.size(), static_cast<std::size_t>(2 * K));
      std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(keep), cands.end(),
                        [](const Cand& x, const Cand& y) {
                          return x.log_prob > y.log_prob || (x.log_prob == y.log_prob && x.token < y.token);
                        });
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
        origin[static_cast<std::size_t>(b * K + static_cast<std::int64_t>(next.size()))] = b * K + cand.beam;
        last[static_cast<std::size_t>(b * K + static_cast<std::int64_t>(next.size()))] = cand.token;
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
    if (K > 1) state.reorder(Tensor::from_vector(origin));
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
