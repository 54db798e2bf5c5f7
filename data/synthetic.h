#pragma once
// Synthetic data that needs no files, each an exact, resumable BatchSource:
//  - copy and reverse (translation): a random sequence of symbols, and the same sequence or its
//    reverse as the target (Katharopoulos et al. 2020, Section 4.1);
//  - duplicate (lm): bos x sep x, the paper's sequence-duplication task; only the copy is scored;
//  - markov (lm): sequences from a fixed random Markov chain, so the best achievable loss is known
//    exactly (the chain's entropy rate).
// Token ids: 0 pad, 1 bos, 2 eos, 3 sep, symbols from 4.

#include <memory>
#include <string>
#include <vector>

#include "core/names.h"
#include "core/rng.h"
#include "data/batch.h"

namespace kat {

enum class SyntheticTask { copy, reverse, markov, duplicate };
template <>
struct EnumNames<SyntheticTask> {
  static constexpr const char* names[] = {"copy", "reverse", "markov", "duplicate"};
};

namespace synthetic_ids {
inline constexpr std::int64_t pad = 0, bos = 1, eos = 2, sep = 3, first_symbol = 4;
}

struct SyntheticOptions {
  SyntheticTask task = SyntheticTask::copy;
  std::int64_t symbols = 10;
  std::int64_t min_len = 4;      // copy, reverse, duplicate
  std::int64_t max_len = 16;     // copy, reverse, duplicate
  std::int64_t seq_len = 64;     // markov
  std::int64_t batch_size = 32;  // sentences per batch
  std::int64_t max_tokens = 0;   // > 0: as many sentences as fit this many padded target tokens
  std::int64_t epoch_sentences = 10000;
};

// The most transitions (symbols x successors) a Markov chain may have: its table and the power
// iteration for its stationary distribution stay within a few seconds and 100 MB.
inline constexpr std::int64_t kMaxMarkovTransitions = std::int64_t{1} << 22;

// A first-order Markov chain over `symbols` states: each state moves to `branching` distinct
// successors (one of them the next state, so the chain is irreducible) with random probabilities.
class MarkovChain {
 public:
  MarkovChain(std::int64_t symbols, std::int64_t branching, std::uint64_t seed);
  std::int64_t symbols() const { return static_cast<std::int64_t>(next_.size()); }
  std::int64_t sample_start(Rng& rng) const;  // from the stationary distribution
  std::int64_t sample_next(std::int64_t state, Rng& rng) const;
  // -sum_i pi_i sum_j P_ij log P_ij in nats: the expected loss per token of the best predictor.
  double entropy_rate() const { return entropy_rate_; }
  const std::vector<double>& stationary() const { return stationary_; }
  double probability(std::int64_t from, std::int64_t to) const;

 private:
  std::vector<std::vector<std::pair<std::int64_t, double>>> next_;  // per state: (successor, probability)
  std::vector<double> stationary_;
  double entropy_rate_ = 0.0;
};

class SyntheticSource : public BatchSource {
 public:
  // `chain` is needed by markov only. The stream is drawn from `rng` (copied), sentence by
  // sentence, so a batch of 2k sentences holds the same sentences as two batches of k.
  SyntheticSource(const SyntheticOptions& options, std::shared_ptr<const MarkovChain> chain, const Rng& rng);

  Batch next() override;
  std::int64_t epoch() const override { return sentences_ / options_.epoch_sentences; }
  // {tag, the generator's four words, sentences drawn}
  std::vector<std::int64_t> state() const override;
  void set_state(const std::vector<std::int64_t>& state) override;

  std::int64_t sentences_per_batch() const;

 private:
  struct Sentence {
    std::vector<std::int64_t> src, input, target;
  };
  Sentence draw();
  Batch collate(const std::vector<Sentence>& sentences) const;

  SyntheticOptions options_;
  std::shared_ptr<const MarkovChain> chain_;
  Rng rng_;
  std::int64_t sentences_ = 0;
};

// The decoder length of the longest sentence the options produce.
std::int64_t synthetic_max_length(const SyntheticOptions& options);

// `sentences` sentences drawn from a generator seeded with `seed`, in batches: a fixed set for
// validation.
std::vector<Batch> synthetic_batches(const SyntheticOptions& options, const std::shared_ptr<const MarkovChain>& chain,
                                     std::uint64_t seed, std::int64_t sentences);

}  // namespace kat
