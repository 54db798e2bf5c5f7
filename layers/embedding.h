#pragma once
// A table of V learned vectors of width D, looked up by int64 token ids.

#include "layers/module.h"

namespace kat {

struct EmbeddingOptions {
  std::int64_t vocab = 0;
  std::int64_t dim = 0;
  std::int64_t padding_idx = -1;  // this row starts at zero and gets no gradient; -1 for none
  double init_std = -1.0;         // normal init; -1 means dim^-0.5
};

class Embedding : public Module {
 public:
  Embedding(const EmbeddingOptions& options, Rng& rng);
  // ids of any shape -> ids.shape + (dim). Ids outside [0, vocab) throw, naming this layer.
  Variable forward(const Tensor& ids) const;

  const EmbeddingOptions& options() const { return options_; }
  const Variable& weight() const { return weight_; }  // (vocab, dim)

 private:
  EmbeddingOptions options_;
  Variable weight_;
};

}  // namespace kat
