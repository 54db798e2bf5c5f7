#include "layers/models/seq2seq.h"

#include <fmt/format.h>

namespace kat {

Seq2Seq::Seq2Seq(const Seq2SeqOptions& o, Rng& rng) : Module("seq2seq") {
  if (o.shared_vocab && o.src_vocab != o.tgt_vocab) {
    fail(fmt::format("a shared vocabulary needs src_vocab == tgt_vocab, got {} and {}", o.src_vocab, o.tgt_vocab));
  }
  auto stack = [&](std::int64_t vocab, std::int64_t layers, const std::optional<AttentionOptions>& self) {
    StackOptions s;
    s.vocab = vocab;
    s.layers = layers;
    s.layer = o.layer;
    if (self) s.layer.attention = *self;
    s.layer.cross_attention =
        o.cross_attention ? o.cross_attention : std::optional<AttentionOptions>(o.layer.attention);
    s.positional = o.positional;
    s.max_len = o.max_len;
    s.padding_idx = o.padding_idx;
    s.tie_output = o.tie_output;
    return s;
  };
  if (o.shared_vocab) {
    shared_ = add_module<Embedding>("embedding", EmbeddingOptions{o.src_vocab, o.layer.d_model, o.padding_idx}, rng);
  }
  encoder_ = add_module<TransformerEncoder>("encoder", stack(o.src_vocab, o.encoder_layers, o.encoder_attention),
                                            shared_, rng);
  decoder_ = add_module<TransformerDecoder>("decoder", stack(o.tgt_vocab, o.decoder_layers, o.decoder_attention), true,
                                            shared_, rng);
}

Variable Seq2Seq::forward(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                          const std::vector<std::int64_t>& tgt_lengths) {
  if (src.defined() && tgt_in.defined() && src.dim() >= 1 && tgt_in.dim() >= 1 && src.size(0) != tgt_in.size(0)) {
    fail(fmt::format("source batch {} != target batch {}", src.size(0), tgt_in.size(0)));
  }
  const Variable memory = encoder_->forward(src, src_lengths);
  return decoder_->forward(tgt_in, tgt_lengths, memory, src_lengths);
}

}  // namespace kat
