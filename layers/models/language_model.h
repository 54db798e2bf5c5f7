#pragma once
// A decoder-only Transformer language model with tied input and output embeddings.

#include "layers/transformer.h"

namespace kat {

class TransformerLM : public Module {
 public:
  TransformerLM(const StackOptions& options, Rng& rng);

  // ids (B, N) -> logits (B, N, vocab); position t sees tokens <= t. lengths pads the batch.
  Variable forward(const Tensor& ids, const std::vector<std::int64_t>& lengths = {});

  // Generation one token at a time: logits (B, vocab) for the next token after each step.
  DecodeState start(std::int64_t batch) { return decoder_->start(batch, Tensor(), {}); }
  Tensor step(const Tensor& ids, DecodeState& state) { return decoder_->step(ids, state); }

  TransformerDecoder& decoder() { return *decoder_; }

 private:
  std::shared_ptr<TransformerDecoder> decoder_;
};

// The benchmarks' model: the shape of configs/lm (4 pre-norm layers, d_model 256, 4 heads, d_ff
// 1024) over a vocabulary of 256 bytes, with the given attention (features: favor maps' m).
StackOptions reference_lm_options(const std::string& attention, std::int64_t features, double dropout,
                                  std::int64_t max_len);

}  // namespace kat
