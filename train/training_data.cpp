#include "train/training_data.h"

#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "train/experiment_config.h"
#include "train/synthetic_data.h"

namespace kat {
namespace {

TrainingData make_synthetic_data(const Experiment& e, const Rng& rng) {
  const auto& s = e.data.synthetic;
  SyntheticOptions o;
  o.task = s.task;
  o.symbols = s.symbols;
  o.min_len = s.min_len;
  o.max_len = s.max_len;
  o.seq_len = e.data.seq_len;
  o.batch_size = e.data.batch_size;
  o.max_tokens = e.data.max_tokens;
  o.epoch_sentences = s.epoch_sentences;
  std::shared_ptr<const MarkovChain> chain;
  if (s.task == "markov") {
    chain = std::make_shared<MarkovChain>(s.symbols, s.branching, static_cast<std::uint64_t>(s.seed));
  }
  TrainingData d;
  d.train = std::make_unique<SyntheticSource>(o, chain, rng);
  // The validation set comes from the task's own seed, not the training stream's.
  d.valid = synthetic_batches(o, chain, static_cast<std::uint64_t>(s.seed) ^ 0x76616c6964ULL, s.valid_sentences);
  d.tgt_vocab = d.src_vocab = synthetic_vocab(s);
  d.shared_vocab = true;
  d.pad_id = synthetic_ids::pad;
  d.max_length = synthetic_max_length(o);
  if (s.task == "markov") {
    d.best_loss = chain->entropy_rate();
    d.description = fmt::format(
        "synthetic markov: {} symbols, {} successors each, sequences of {}; best achievable loss {:.4f} nats/token "
        "(ppl {:.3f})",
        s.symbols, std::min(s.branching, s.symbols), e.data.seq_len, *d.best_loss, std::exp(*d.best_loss));
  } else {
    d.best_loss = 0.0;
    d.description = fmt::format("synthetic {}: {} symbols, lengths {}..{}", s.task, s.symbols, s.min_len, s.max_len);
  }
  return d;
}

// Where the HDF5 corpus loaders plug in: build the training source and the validation batches
// from e.data (train, valid, tokenizer, seq_len, batch_size / max_tokens), set the vocabularies
// and pad id, and leave the rest of the trainer unchanged.
TrainingData make_corpus_data(const Experiment& e, const Rng& /*rng*/) {
  throw Error(fmt::format(
      "data.kind: corpus ({}) is not available in this build yet: the HDF5 corpus loaders are not wired in; "
      "use data.kind: synthetic",
      e.data.train));
}

}  // namespace

TrainingData make_training_data(const Experiment& e, const Rng& rng) {
  if (e.data.kind == "synthetic") return make_synthetic_data(e, rng);
  if (e.data.kind == "corpus") return make_corpus_data(e, rng);
  throw Error(fmt::format("data.kind: unknown kind '{}'", e.data.kind));
}

}  // namespace kat
