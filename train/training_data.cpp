#include "train/training_data.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "data/loaders.h"
#include "data/synthetic.h"
#include "train/config/experiment_config.h"

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
  if (s.task == SyntheticTask::markov) {
    chain = std::make_shared<MarkovChain>(s.symbols, s.branching, static_cast<std::uint64_t>(s.seed));
  }
  TrainingData d;
  d.train = std::make_unique<SyntheticSource>(o, chain, rng);
  // The validation set comes from the task's own seed, not the training stream's.
  d.valid = synthetic_batches(o, chain, static_cast<std::uint64_t>(s.seed) ^ 0x76616c6964ULL, s.valid_sentences);
  d.tgt_vocab = d.src_vocab = synthetic_vocab(s);
  d.shared_vocab = true;
  d.pad_id = synthetic_ids::pad;
  d.bos_id = synthetic_ids::bos;
  d.eos_id = synthetic_ids::eos;
  d.detokenize = [](const std::vector<std::int64_t>& ids) {
    std::string out;
    for (auto id : ids) out += (out.empty() ? "s" : " s") + std::to_string(id);
    return out;
  };
  d.max_length = synthetic_max_length(o);
  if (s.task == SyntheticTask::markov) {
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

// Prepared HDF5 datasets (kat prepare dataset) through the data pipeline's loaders.
// A language model reads one side of the dataset, as windows of running text or a sentence a row.
void add_lm_corpus(const DataConfig& c, const DatasetInfo& info, std::uint64_t seed, TrainingData& d) {
  LmBatchOptions o;
  o.seq_len = c.seq_len;
  o.batch_size = c.max_tokens > 0 ? std::max<std::int64_t>(1, c.max_tokens / c.seq_len) : c.batch_size;
  o.sentence_level = c.sentence_level;
  o.side = c.side;
  o.prefetch = c.prefetch;
  const DatasetSideInfo& side = info.side(c.side);
  d.train = open_lm_source(c.train, o, seed);
  o.prefetch = 0;
  d.valid = lm_eval_batches(c.valid, o);
  d.src_vocab = d.tgt_vocab = side.vocab_size;
  d.shared_vocab = true;
  d.src_side = d.tgt_side = side.name;
  d.src_tokenizer = d.tgt_tokenizer = side.tokenizer;
  d.detokenize = [tok = side.tokenizer](const std::vector<std::int64_t>& ids) { return tok->decode(ids); };
  d.max_length = c.seq_len;
  d.description =
      fmt::format("corpus {} side {}: {} sentences, {} tokens, vocabulary {} ({}); {} rows of {} tokens{}", c.train,
                  side.name, side.sentences, side.tokens, side.vocab_size, side.tokenizer->describe(), o.batch_size,
                  c.seq_len, c.sentence_level ? ", a sentence a row" : "");
}

// A translation model reads two sides, batched by length up to a token budget.
void add_translation_corpus(const Experiment& e, const DatasetInfo& info, std::uint64_t seed, TrainingData& d) {
  const DataConfig& c = e.data;
  TranslationBatchOptions o;
  o.max_tokens = c.max_tokens > 0 ? c.max_tokens : c.batch_size * c.seq_len;
  o.max_len = c.seq_len;
  o.bucket_size = c.bucket_size;
  o.src = c.src_side;
  o.tgt = c.tgt_side;
  o.prefetch = c.prefetch;
  if (info.sides.size() < 2) {
    throw Error(fmt::format("data.train {}: translation needs a dataset with two sides, this one has {}", c.train,
                            info.sides.size()));
  }
  const DatasetSideInfo& src = info.side(c.src_side.empty() ? info.sides[0].name : c.src_side);
  const DatasetSideInfo& tgt = info.side(c.tgt_side.empty() ? info.sides[1].name : c.tgt_side);
  d.train = open_translation_source(c.train, o, seed);
  o.prefetch = 0;
  d.valid = translation_eval_batches(c.valid, o);
  d.src_vocab = src.vocab_size;
  d.tgt_vocab = tgt.vocab_size;
  d.src_side = src.name;
  d.tgt_side = tgt.name;
  d.src_tokenizer = src.tokenizer;
  d.tgt_tokenizer = tgt.tokenizer;
  d.detokenize = [tok = tgt.tokenizer](const std::vector<std::int64_t>& ids) { return tok->decode(ids); };
  d.shared_vocab = serialize_tokenizer(*src.tokenizer) == serialize_tokenizer(*tgt.tokenizer);
  if (e.model.share_embeddings && !d.shared_vocab) {
    throw Error(
        fmt::format("model.share_embeddings needs one tokenizer for both sides, but {} has different ones "
                    "for {} and {}",
                    c.train, src.name, tgt.name));
  }
  d.max_length = c.seq_len;
  d.description = fmt::format(
      "corpus {}: {} -> {}, {} sentence pairs, vocabularies {} and {}{}; batches of up to {} tokens", c.train, src.name,
      tgt.name, src.sentences, src.vocab_size, tgt.vocab_size, d.shared_vocab ? " (shared)" : "", o.max_tokens);
}

TrainingData make_corpus_data(const Experiment& e, const Rng& rng) {
  const DataConfig& c = e.data;
  const std::uint64_t seed = Rng(rng).next_u64();
  const DatasetInfo info = read_dataset_info(c.train);
  TrainingData d;
  d.pad_id = info.pad_id;
  d.bos_id = info.bos_id;
  d.eos_id = info.eos_id;
  if (e.task == Task::lm) {
    add_lm_corpus(c, info, seed, d);
  } else {
    add_translation_corpus(e, info, seed, d);
  }
  // The validation set must use the same vocabulary.
  const DatasetInfo valid = read_dataset_info(c.valid);
  for (const auto& side : info.sides) {
    for (const auto& other : valid.sides) {
      if (side.name == other.name && serialize_tokenizer(*side.tokenizer) != serialize_tokenizer(*other.tokenizer)) {
        throw Error(fmt::format("data.valid {}: side {} was tokenized differently from data.train {}", c.valid,
                                side.name, c.train));
      }
    }
  }
  return d;
}

}  // namespace

TrainingData make_training_data(const Experiment& e, const Rng& rng) {
  return e.data.kind == DataKind::synthetic ? make_synthetic_data(e, rng) : make_corpus_data(e, rng);
}

}  // namespace kat
