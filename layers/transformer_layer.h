#pragma once
// Transformer encoder and decoder layers (Vaswani et al. 2017, Section 3.1) with the layer norm
// before each sublayer (pre-norm, Xiong et al. 2020) or after each residual sum (post-norm, the
// original).

#include <functional>
#include <memory>
#include <optional>

#include "layers/decode_state.h"
#include "layers/dropout.h"
#include "layers/feed_forward.h"
#include "layers/layer_norm.h"
#include "layers/multi_head_attention.h"

namespace kat {

enum class NormPlacement { pre, post };
template <>
struct EnumNames<NormPlacement> {
  static constexpr const char* names[] = {"pre", "post"};
};

struct TransformerLayerOptions {
  std::int64_t d_model = 256;
  std::int64_t heads = 4;
  std::int64_t d_ff = 1024;
  double dropout = 0.1;  // on each sublayer's output before the residual sum, and inside the FFN
  Activation activation = Activation::relu;
  NormPlacement norm = NormPlacement::pre;
  double norm_eps = 1e-5;
  AttentionOptions attention;  // self-attention
  // A decoder layer's cross-attention, when it differs from its self-attention (a hybrid: linear
  // self-attention with softmax cross-attention, say).
  std::optional<AttentionOptions> cross_attention;
};

class EncoderLayer : public Module {
 public:
  EncoderLayer(const TransformerLayerOptions& options, Rng& rng);
  // x (B, N, E); mask.key_lengths pads the sequence.
  Variable forward(const Variable& x, const AttentionMask& mask);

 private:
  TransformerLayerOptions options_;
  std::shared_ptr<MultiHeadAttention> self_attn_;
  std::shared_ptr<FeedForward> ffn_;
  std::shared_ptr<LayerNorm> norm1_, norm2_;
  std::shared_ptr<Dropout> dropout_;
};

class DecoderLayer : public Module {
 public:
  // cross: with encoder-decoder attention (translation); without, a language-model layer.
  DecoderLayer(const TransformerLayerOptions& options, bool cross, Rng& rng);

  // x (B, T, E), causal self-attention padded by self_mask.key_lengths; memory (B, S, E) with
  // memory_mask for cross-attention (undefined without cross-attention).
  Variable forward(const Variable& x, const AttentionMask& self_mask, const Variable& memory,
                   const AttentionMask& memory_mask);

  // Incremental decoding of one position x (B, 1, E).
  std::unique_ptr<AttentionState> start_self(std::int64_t batch) { return self_attn_->start_self(batch); }
  std::unique_ptr<AttentionState> start_cross(const Tensor& memory, const AttentionMask& mask) {
    return cross_attn_->start_cross(memory, mask);
  }
  // `rows` says which cross-attention entry each group of x's rows reads.
  Tensor step(const Tensor& x, AttentionState& self_state, AttentionState* cross_state, const CrossRows& rows = {});

 private:
  using Sublayer = std::function<Variable(const Variable&)>;
  // The layer's body, shared by forward and step: they differ only in how attention is computed.
  Variable body(const Variable& x, const Sublayer& self_attention, const Sublayer& cross_attention);

  TransformerLayerOptions options_;
  bool cross_;
  std::shared_ptr<MultiHeadAttention> self_attn_, cross_attn_;
  std::shared_ptr<FeedForward> ffn_;
  std::shared_ptr<LayerNorm> norm1_, norm2_, norm3_;
  std::shared_ptr<Dropout> dropout_;
};

}  // namespace kat
