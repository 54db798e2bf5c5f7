#pragma once
// Decoding through the incremental states of layers/decode_state.h: greedy search, beam search
// (with a length penalty, as in Wu et al. 2016, GNMT, eq. 14) and sampling (temperature, top-k,
// nucleus/top-p, Holtzman et al. 2020). Written against a step function, so the same code decodes a
// language model or an encoder-decoder with any attention: a softmax layer steps through its KV
// cache, a linear or Performer layer through its recurrent (S, z) state.

#include <cstdint>
#include <functional>
#include <vector>

#include "core/rng.h"
#include "layers/decode_state.h"

namespace kat {

// Logits (B, V) of the next token after feeding `ids` (B) int64, one per batch row; advances state.
using StepFn = std::function<Tensor(const Tensor& ids, DecodeState& state)>;

struct SearchOptions {
  std::int64_t bos = 1;
  std::int64_t eos = 2;
  std::int64_t beam = 1;        // 1: greedy
  double length_penalty = 1.0;  // alpha of ((5 + |y|) / 6)^alpha; 0 ranks by the plain log-probability
  std::int64_t nbest = 1;       // hypotheses kept per row by beam_search_nbest (at most beam)
};

struct Hypothesis {
  std::vector<std::int64_t> tokens;  // without bos and eos
  double log_prob = 0.0;             // sum of the token log-probabilities, eos included when finished
  double score = 0.0;                // log_prob / length penalty
  bool finished = false;             // ended with eos (otherwise cut at the length limit)
};

// Decodes each of the B rows of `state` (a fresh state for B items) from bos, until eos or
// max_len[b] tokens. With beam > 1 the state is expanded to B * beam rows and reordered as beams
// are chosen. Returns the best hypothesis of each row. Throws on bad options or a max_len of the
// wrong size.
std::vector<Hypothesis> beam_search(const StepFn& step, DecodeState& state, const std::vector<std::int64_t>& max_len,
                                    const SearchOptions& options);

// The same search, keeping the options.nbest best hypotheses of each row (finished ones first, then
// by score), best first: Moses and Marian's n-best lists.
std::vector<std::vector<Hypothesis>> beam_search_nbest(const StepFn& step, DecodeState& state,
                                                       const std::vector<std::int64_t>& max_len,
                                                       const SearchOptions& options);

struct SamplingOptions {
  double temperature = 1.0;  // > 0
  std::int64_t top_k = 0;    // keep the k most likely tokens (0: all)
  double top_p = 1.0;        // keep the smallest set whose probability reaches p (1: all)
};

// One token per row of logits (B, V), drawn from rng after temperature, top-k and top-p.
Tensor sample_tokens(const Tensor& logits, const SamplingOptions& options, Rng& rng);

// The index of the largest logit per row of (B, V), as int64 (B).
Tensor greedy_tokens(const Tensor& logits);

}  // namespace kat
