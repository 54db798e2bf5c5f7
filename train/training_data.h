#pragma once
// The data a run trains and validates on, built from the experiment's `data` section: an endless
// training BatchSource, a fixed validation set, and the vocabulary sizes the model is built with.
//
// data.kind synthetic is built here (data/synthetic.h); data.kind corpus reads prepared HDF5
// datasets (kat prepare dataset) through the data pipeline's loaders (data/loaders.h).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "data/batch.h"
#include "data/tokenizer.h"
#include "train/config/experiment.h"

namespace kat {

struct TrainingData {
  std::unique_ptr<BatchSource> train;  // endless; its state() goes into checkpoints
  std::vector<Batch> valid;            // one pass over the validation set, in a fixed order
  std::int64_t src_vocab = 0;          // translation only
  std::int64_t tgt_vocab = 0;          // the decoder's (the only one for lm)
  bool shared_vocab = false;           // source and target ids mean the same tokens
  std::int64_t pad_id = 0;             // target id that the loss ignores
  std::int64_t max_length = 0;         // the longest decoder input the model will see
  std::string description;             // one line for the log
  std::optional<double> best_loss;     // the lowest expected validation loss, when the data fixes it
  std::int64_t bos_id = 1;             // what decoding starts from and stops at
  std::int64_t eos_id = 2;
  // Target ids (no bos, eos or padding) as text, for BLEU: the target tokenizer's decoding, or
  // the ids as words for synthetic data.
  std::function<std::string(const std::vector<std::int64_t>&)> detokenize;
  // Corpus data: the dataset's side names and their tokenizers (the same for both sides of a
  // language model); empty and null for synthetic data.
  std::string src_side, tgt_side;
  std::shared_ptr<const Tokenizer> src_tokenizer, tgt_tokenizer;
};

// Builds the data of a validated experiment; the training stream draws from `rng` (copied).
TrainingData make_training_data(const Experiment& e, const Rng& rng);

}  // namespace kat
