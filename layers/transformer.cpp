#include "layers/transformer.h"

#include <fmt/format.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace kat {
namespace {

void check_ids(const Tensor& ids, const std::vector<std::int64_t>& lengths, const char* what) {
  if (!ids.defined() || ids.dim() != 2 || ids.dtype() != DType::i64 || ids.numel() == 0) {
    throw Error(fmt::format("{} must be a non-empty int64 (batch, length) tensor, got {}", what,
                            ids.defined() ? to_string(ids.shape()) : "undefined"));
  }
  if (!lengths.empty() && static_cast<std::int64_t>(lengths.size()) != ids.size(0)) {
    throw Error(fmt::format("{}: {} lengths for a batch of {}", what, lengths.size(), ids.size(0)));
  }
}

AttentionMask padding_mask(const std::vector<std::int64_t>& lengths) {
  AttentionMask m;
  m.key_lengths = lengths;
  return m;
}

}  // namespace

TokenInput::TokenInput(const StackOptions& o, std::shared_ptr<Embedding> shared, Rng& rng) : Module("token_input") {
  scale_ = std::sqrt(static_cast<double>(o.layer.d_model));
  if (shared) {
    embedding_ = std::move(shared);  // owned and registered by the parent
    if (embedding_->options().dim != o.layer.d_model) {
      fail(fmt::format("shared embedding width {} != d_model {}", embedding_->options().dim, o.layer.d_model));
    }
  } else {
    embedding_ = add_module<Embedding>("embedding", EmbeddingOptions{o.vocab, o.layer.d_model, o.padding_idx}, rng);
  }
  positions_ =
      add_module<PositionalEncoding>("positions", PositionalOptions{o.positional, o.layer.d_model, o.max_len}, rng);
  dropout_ = add_module<Dropout>("dropout", o.layer.dropout, rng);
}

Variable TokenInput::forward(const Tensor& ids, std::int64_t start) {
  return dropout_->forward(positions_->forward(embedding_->forward(ids) * scale_, start));
}

namespace {

// The options of layer i: the stack's, with its own self-attention in a hybrid stack.
TransformerLayerOptions layer_options(const StackOptions& o, std::int64_t i) {
  TransformerLayerOptions layer = o.layer;
  if (!o.layer_attention.empty()) {
    if (static_cast<std::int64_t>(o.layer_attention.size()) != o.layers) {
      throw LayerError("layer_attention",
                       fmt::format("{} attention options for {} layers", o.layer_attention.size(), o.layers));
    }
    layer.attention = o.layer_attention[static_cast<std::size_t>(i)];
  }
  return layer;
}

}  // namespace

TransformerEncoder::TransformerEncoder(const StackOptions& o, std::shared_ptr<Embedding> shared, Rng& rng)
    : Module("transformer_encoder"), options_(o) {
  if (o.layers <= 0) fail(fmt::format("layers must be positive, got {}", o.layers));
  input_ = add_module<TokenInput>("input", o, std::move(shared), rng);
  layers_ = add_module<ModuleList<EncoderLayer>>("layers");
  for (std::int64_t i = 0; i < o.layers; ++i) layers_->emplace_back(layer_options(o, i), rng);
  if (o.layer.norm == NormPlacement::pre) {
    norm_ = add_module<LayerNorm>("norm", LayerNormOptions{o.layer.d_model, o.layer.norm_eps});
  }
}

Variable TransformerEncoder::forward(const Tensor& ids, const std::vector<std::int64_t>& lengths) {
  try {
    check_ids(ids, lengths, "source ids");
  } catch (const Error& e) {
    fail(e.what());
  }
  const AttentionMask mask = padding_mask(lengths);
  Variable h = input_->forward(ids);
  for (auto& layer : *layers_) h = layer->forward(h, mask);
  return norm_ ? norm_->forward(h) : h;
}

TransformerDecoder::TransformerDecoder(const StackOptions& o, bool cross, std::shared_ptr<Embedding> shared, Rng& rng)
    : Module("transformer_decoder"), options_(o), cross_(cross) {
  if (o.layers <= 0) fail(fmt::format("layers must be positive, got {}", o.layers));
  input_ = add_module<TokenInput>("input", o, std::move(shared), rng);
  layers_ = add_module<ModuleList<DecoderLayer>>("layers");
  for (std::int64_t i = 0; i < o.layers; ++i) layers_->emplace_back(layer_options(o, i), cross, rng);
  if (o.layer.norm == NormPlacement::pre) {
    norm_ = add_module<LayerNorm>("norm", LayerNormOptions{o.layer.d_model, o.layer.norm_eps});
  }
  if (!o.tie_output) {
    out_proj_ = add_module<Linear>("out_proj", LinearOptions{o.layer.d_model, o.vocab, false}, rng);
  }
}

Variable TransformerDecoder::project(const Variable& h) {
  const Variable y = norm_ ? norm_->forward(h) : h;
  if (out_proj_) return out_proj_->forward(y);
  if (tied_half_ != nullptr && !grad_enabled() && y.dtype() == DType::f32 &&
      y.numel() / y.size(-1) <= kHalfRowsAtMost) {
    return Variable(tied_half_->apply(y.data()));
  }
  return matmul(y, transpose(input_->embedding().weight(), 0, 1));  // (.., E) @ (E, V), transpose as a BLAS flag
}

Variable TransformerDecoder::forward(const Tensor& ids, const std::vector<std::int64_t>& lengths,
                                     const Variable& memory, const std::vector<std::int64_t>& memory_lengths) {
  try {
    check_ids(ids, lengths, "target ids");
  } catch (const Error& e) {
    fail(e.what());
  }
  if (cross_ && !memory.defined()) fail("an encoder-decoder's decoder needs the encoder memory");
  const AttentionMask self_mask = padding_mask(lengths);
  const AttentionMask memory_mask = padding_mask(memory_lengths);
  Variable h = input_->forward(ids);
  for (auto& layer : *layers_) h = layer->forward(h, self_mask, memory, memory_mask);
  return project(h);
}

bool TransformerDecoder::set_half_output(bool on) {
  if (out_proj_) return false;
  if (!on) {
    tied_half_.reset();
    return true;
  }
  const Tensor& w = input_->embedding().weight().data();
  if (w.dtype() != DType::f32) {
    fail(fmt::format("float16 weights need a float32 embedding, this one is {}", dtype_name(w.dtype())));
  }
  tied_half_ = std::make_shared<const HalfMatrix>(w, /*transpose=*/false, (where() + " (tied output)").c_str());
  return true;
}

DecodeState TransformerDecoder::start(std::int64_t batch, const Tensor& memory,
                                      const std::vector<std::int64_t>& memory_lengths) {
  if (batch <= 0) fail(fmt::format("decoding batch must be positive, got {}", batch));
  if (cross_ && !memory.defined()) fail("an encoder-decoder's decoder needs the encoder memory");
  DecodeState state;
  state.batch = batch;
  state.cross_entries = cross_ ? batch : 0;
  for (auto& layer : *layers_) {
    state.self.push_back(layer->start_self(batch));
    if (cross_) state.cross.push_back(layer->start_cross(memory, padding_mask(memory_lengths)));
  }
  return state;
}

Tensor TransformerDecoder::step(const Tensor& ids, DecodeState& state) {
  NoGradGuard no_grad;
  if (!ids.defined() || ids.dim() != 1 || ids.size(0) != state.batch) {
    fail(fmt::format("step ids must be ({}) for the state's batch, got {}", state.batch,
                     ids.defined() ? to_string(ids.shape()) : "undefined"));
  }
  Tensor h = input_->forward(ids.reshape({state.batch, 1}), state.position).data();
  for (std::size_t i = 0; i < layers_->size(); ++i) {
    h = (*layers_)[i].step(h, *state.self[i], cross_ ? state.cross[i].get() : nullptr,
                           CrossRows{state.rows_per_item, state.cross_entries, &state.cross_items});
  }
  ++state.position;
  return project(Variable(h)).data().reshape({state.batch, options_.vocab});
}

std::int64_t use_half_weights(Module& root, bool on) {
  std::int64_t n = 0;
  root.visit([&](Module& m) {
    if (auto* l = dynamic_cast<Linear*>(&m)) {
      l->set_half_weights(on);
      ++n;
    } else if (auto* d = dynamic_cast<TransformerDecoder*>(&m)) {
      n += d->set_half_output(on) ? 1 : 0;
    }
  });
  return n;
}

}  // namespace kat
