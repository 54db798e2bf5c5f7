#include "layers/transformer_layer.h"

#include "autograd/ops.h"

namespace kat {
namespace {

MultiHeadAttentionOptions attention_options(const TransformerLayerOptions& o, bool cross = false) {
  MultiHeadAttentionOptions m;
  m.d_model = o.d_model;
  m.heads = o.heads;
  m.cross = cross;
  m.attention = cross && o.cross_attention ? *o.cross_attention : o.attention;
  return m;
}

FeedForwardOptions ffn_options(const TransformerLayerOptions& o) {
  return FeedForwardOptions{o.d_model, o.d_ff, o.activation, o.dropout};
}

// One residual sublayer: pre-norm x + drop(f(norm(x))), post-norm norm(x + drop(f(x))).
Variable residual(const Variable& x, NormPlacement placement, LayerNorm& norm, Dropout& drop,
                  const std::function<Variable(const Variable&)>& f) {
  if (placement == NormPlacement::pre) return drop.forward_add(f(norm.forward(x)), x);
  return norm.forward(drop.forward_add(f(x), x));
}

}  // namespace

EncoderLayer::EncoderLayer(const TransformerLayerOptions& o, Rng& rng) : Module("encoder_layer"), options_(o) {
  self_attn_ = add_module<MultiHeadAttention>("self_attn", attention_options(o), false, rng);
  ffn_ = add_module<FeedForward>("ffn", ffn_options(o), rng);
  norm1_ = add_module<LayerNorm>("norm1", LayerNormOptions{o.d_model, o.norm_eps});
  norm2_ = add_module<LayerNorm>("norm2", LayerNormOptions{o.d_model, o.norm_eps});
  dropout_ = add_module<Dropout>("dropout", o.dropout, rng);
}

Variable EncoderLayer::forward(const Variable& x, const AttentionMask& mask) {
  Variable h = residual(x, options_.norm, *norm1_, *dropout_,
                        [&](const Variable& y) { return self_attn_->forward(y, Variable(), mask); });
  return residual(h, options_.norm, *norm2_, *dropout_, [&](const Variable& y) { return ffn_->forward(y); });
}

DecoderLayer::DecoderLayer(const TransformerLayerOptions& o, bool cross, Rng& rng)
    : Module("decoder_layer"), options_(o), cross_(cross) {
  self_attn_ = add_module<MultiHeadAttention>("self_attn", attention_options(o), true, rng);
  if (cross) cross_attn_ = add_module<MultiHeadAttention>("cross_attn", attention_options(o, true), false, rng);
  ffn_ = add_module<FeedForward>("ffn", ffn_options(o), rng);
  norm1_ = add_module<LayerNorm>("norm1", LayerNormOptions{o.d_model, o.norm_eps});
  if (cross) norm2_ = add_module<LayerNorm>("norm2", LayerNormOptions{o.d_model, o.norm_eps});
  norm3_ = add_module<LayerNorm>("norm3", LayerNormOptions{o.d_model, o.norm_eps});
  dropout_ = add_module<Dropout>("dropout", o.dropout, rng);
}

Variable DecoderLayer::body(const Variable& x, const Sublayer& self_attention, const Sublayer& cross_attention) {
  Variable h = residual(x, options_.norm, *norm1_, *dropout_, self_attention);
  if (cross_) h = residual(h, options_.norm, *norm2_, *dropout_, cross_attention);
  return residual(h, options_.norm, *norm3_, *dropout_, [&](const Variable& y) { return ffn_->forward(y); });
}

Variable DecoderLayer::forward(const Variable& x, const AttentionMask& self_mask, const Variable& memory,
                               const AttentionMask& memory_mask) {
  if (cross_ && !memory.defined()) fail("cross-attention needs the encoder memory");
  AttentionMask causal = self_mask;
  causal.causal = true;
  return body(
      x, [&](const Variable& y) { return self_attn_->forward(y, Variable(), causal); },
      [&](const Variable& y) { return cross_attn_->forward(y, memory, memory_mask); });
}

Tensor DecoderLayer::step(const Tensor& x, AttentionState& self_state, AttentionState* cross_state,
                          const CrossRows& rows) {
  NoGradGuard no_grad;
  if (cross_ && cross_state == nullptr) fail("cross-attention step needs its state");
  const std::int64_t E = options_.d_model;
  const bool dropping = is_training() && options_.dropout > 0;
  if (dropping || x.dtype() != DType::f32 || x.dim() != 3 || x.size(1) != 1 || x.size(2) != E) {
    return body(
               Variable(x), [&](const Variable& y) { return Variable(self_attn_->step_self(y.data(), self_state)); },
               [&](const Variable& y) { return Variable(cross_attn_->step_cross(y.data(), *cross_state, rows)); })
        .data();
  }
  // One position of B rows, as (B, E) tensors and without autograd: the arithmetic of body() with
  // dropout off, in fewer and larger steps (a token of the reference model is 4 layers of small
  // products, where the cost of each op's bookkeeping is a measurable part of the token's time).
  const std::int64_t B = x.size(0);
  Tensor y = x.reshape({B, E}).clone();  // the residual stream
  const auto norm = [](const LayerNorm& n, const Tensor& t) { return n.forward_rows(t); };
  const auto add_into = [](Tensor& to, const Tensor& a) {
    float* p = to.data<float>();
    const float* q = a.data<float>();
    for (std::int64_t i = 0, n = to.numel(); i < n; ++i) p[i] += q[i];
  };
  const auto sublayer = [&](const LayerNorm& n, const auto& f) {
    if (options_.norm == NormPlacement::pre) {
      add_into(y, f(norm(n, y)));
    } else {
      add_into(y, f(y));
      y = norm(n, y);
    }
  };
  sublayer(*norm1_, [&](const Tensor& h) { return self_attn_->step_self_rows(h, self_state); });
  if (cross_) {
    sublayer(*norm2_, [&](const Tensor& h) {
      return cross_attn_->step_cross(h.view({B, 1, E}), *cross_state, rows).reshape({B, E}).contiguous();
    });
  }
  sublayer(*norm3_, [&](const Tensor& h) { return ffn_->forward_rows(h); });
  return y.view({B, 1, E});
}

}  // namespace kat
