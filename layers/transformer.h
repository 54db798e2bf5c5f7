#pragma once
// Transformer stacks: token embedding (scaled by sqrt(d_model)), positional encoding, dropout,
// N layers, a final layer norm (pre-norm stacks), and for the decoder the output projection,
// tied to the embedding or separate.

#include <memory>
#include <vector>

#include "layers/embedding.h"
#include "layers/linear.h"
#include "layers/module_list.h"
#include "layers/positional.h"
#include "layers/transformer_layer.h"

namespace kat {

struct StackOptions {
  std::int64_t vocab = 0;
  std::int64_t layers = 2;
  TransformerLayerOptions layer;
  // A hybrid stack: the self-attention of each layer, in order (empty: layer.attention for all).
  std::vector<AttentionOptions> layer_attention;
  PositionalKind positional = PositionalKind::sinusoidal;
  std::int64_t max_len = 4096;    // learned positions: table size
  std::int64_t padding_idx = -1;  // embedding row that stays zero; -1 for none
  bool tie_output = true;         // decoder: logits through the embedding matrix
};

// The input layers both stacks share: embedding, positions, dropout.
class TokenInput : public Module {
 public:
  // `shared`: an embedding owned elsewhere (shared vocabulary); nullptr to own one.
  TokenInput(const StackOptions& options, std::shared_ptr<Embedding> shared, Rng& rng);
  Variable forward(const Tensor& ids, std::int64_t start = 0);  // (B, N) -> (B, N, E)
  Embedding& embedding() { return *embedding_; }

 private:
  double scale_;
  std::shared_ptr<Embedding> embedding_;
  std::shared_ptr<PositionalEncoding> positions_;
  std::shared_ptr<Dropout> dropout_;
};

class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const StackOptions& options, std::shared_ptr<Embedding> shared, Rng& rng);
  // ids (B, S) with per-item lengths (empty: no padding) -> memory (B, S, E).
  Variable forward(const Tensor& ids, const std::vector<std::int64_t>& lengths);
  Embedding& embedding() { return input_->embedding(); }

 private:
  StackOptions options_;
  std::shared_ptr<TokenInput> input_;
  std::shared_ptr<ModuleList<EncoderLayer>> layers_;
  std::shared_ptr<LayerNorm> norm_;
};

class TransformerDecoder : public Module {
 public:
  // cross: attend to an encoder memory (translation); otherwise a language model's stack.
  TransformerDecoder(const StackOptions& options, bool cross, std::shared_ptr<Embedding> shared, Rng& rng);

  // ids (B, T), causal, padded by lengths; memory (B, S, E) and its lengths for cross-attention.
  // Returns logits (B, T, vocab).
  Variable forward(const Tensor& ids, const std::vector<std::int64_t>& lengths, const Variable& memory,
                   const std::vector<std::int64_t>& memory_lengths);

  // Incremental decoding: a state for `batch` items (with the memory for cross-attention), then
  // one token per item at a time, (B) -> logits (B, vocab), equal to the full forward's.
  DecodeState start(std::int64_t batch, const Tensor& memory, const std::vector<std::int64_t>& memory_lengths);
  Tensor step(const Tensor& ids, DecodeState& state);

  Embedding& embedding() { return input_->embedding(); }
  const StackOptions& options() const { return options_; }

  // Float16 weights for the output projection while decoding, as Linear::set_half_weights: with
  // the projection tied to the embedding, a float16 copy of the embedding's weight that a step's
  // logits read; an untied projection is a Linear layer and has its own. Returns whether a copy was
  // taken (or dropped).
  bool set_half_output(bool on);
  // Whether a step's logits read a float16 copy of the tied embedding.
  bool half_tied_output() const { return tied_half_ != nullptr; }

 private:
  Variable project(const Variable& h);  // final norm and output projection

  StackOptions options_;
  bool cross_;
  std::shared_ptr<TokenInput> input_;
  std::shared_ptr<ModuleList<DecoderLayer>> layers_;
  std::shared_ptr<LayerNorm> norm_;
  std::shared_ptr<Linear> out_proj_;             // untied output only
  std::shared_ptr<const HalfMatrix> tied_half_;  // the embedding's weight (vocab, E) in float16, or null
};

// Float16 weights for decoding under `root` (itself included): Linear::set_half_weights on every
// Linear layer and TransformerDecoder::set_half_output on every decoder with a tied output. Returns
// how many matrices were copied (or dropped).
std::int64_t use_half_weights(Module& root, bool on);

}  // namespace kat
