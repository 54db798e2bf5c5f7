#pragma once
// The model an experiment trains, behind one interface: logits for a batch. A language model reads
// batch.input; a translation model also encodes batch.src.

#include <memory>
#include <vector>

#include "data/batch.h"
#include "layers/attention/attention.h"
#include "layers/decoding/search.h"
#include "train/config/experiment.h"
#include "train/training_data.h"

namespace kat {

class TaskModel {
 public:
  virtual ~TaskModel() = default;
  virtual Module& module() = 0;
  // (B, T, vocab) logits for the batch's decoder input.
  virtual Variable logits(const Batch& batch) = 0;
  // translation: the options.nbest best hypotheses (ids without bos and eos), best first, for each
  // source of the batch, at most max_len[b] tokens; the model must be in eval mode. A language
  // model throws.
  virtual std::vector<std::vector<Hypothesis>> translate(const Batch& batch, const SearchOptions& options,
                                                         const std::vector<std::int64_t>& max_len) = 0;
  // language model: a fresh decoding state for `batch` rows, then one token per row at a time,
  // returning the next-token logits (B, vocab). A translation model throws.
  virtual DecodeState start_generation(std::int64_t batch) = 0;
  // Whether translate() works (an encoder-decoder), or generation (a language model).
  virtual bool translates() const = 0;
  virtual Tensor generation_step(const Tensor& ids, DecodeState& state) = 0;
};

// Builds the model the experiment describes for the data's vocabularies; initialization draws
// from rng. Layer errors are reported with the model path ("model: decoder.layers.0...: ...").
std::unique_ptr<TaskModel> make_task_model(const Experiment& e, const TrainingData& data, Rng& rng);

// Every attention kernel under root, found by walking the module tree (the trainer calls their
// on_train_step before each step).
std::vector<AttentionKernel*> attention_kernels(Module& root);

}  // namespace kat
