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

}  // namespace kat
