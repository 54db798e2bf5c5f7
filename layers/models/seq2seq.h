#pragma once
// An encoder-decoder Transformer for translation (Vaswani et al. 2017): separate or shared source
// and target vocabularies, the decoder's input and output embeddings tied or not, and optionally
// all three tied (one embedding for the source, the target and the output; needs a shared
// vocabulary).

#include "layers/transformer.h"

namespace kat {

struct Seq2SeqOptions {
  std::int64_t src_vocab = 0;
  std::int64_t tgt_vocab = 0;
  bool shared_vocab = false;  // one embedding table for source and target (same vocabulary)
  std::int64_t encoder_layers = 2;
  std::int64_t decoder_layers = 2;
  TransformerLayerOptions layer;
  // Hybrids: the encoder's self-attention, the decoder's self-attention and the decoder's
  // cross-attention, each when it differs from layer.attention.
  std::optional<AttentionOptions> encoder_attention, decoder_attention, cross_attention;
  PositionalKind positional = PositionalKind::sinusoidal;
  std::int64_t max_len = 4096;
  std::int64_t padding_idx = -1;
  bool tie_output = true;  // decoder output projection = target embedding
};

class Seq2Seq : public Module {
 public:
  Seq2Seq(const Seq2SeqOptions& options, Rng& rng);

  // src (B, S) with lengths, tgt_in (B, T) (the target shifted right) with lengths -> (B, T, tgt_vocab).
  Variable forward(const Tensor& src, const std::vector<std::int64_t>& src_lengths, const Tensor& tgt_in,
                   const std::vector<std::int64_t>& tgt_lengths = {});

  Variable encode(const Tensor& src, const std::vector<std::int64_t>& src_lengths) {
    return encoder_->forward(src, src_lengths);
  }
  // Decoding: encode once, start with the memory, then step one target token per item.
  DecodeState start(const Tensor& memory, const std::vector<std::int64_t>& src_lengths) {
    return decoder_->start(memory.size(0), memory, src_lengths);
  }
  Tensor step(const Tensor& ids, DecodeState& state) { return decoder_->step(ids, state); }

  TransformerEncoder& encoder() { return *encoder_; }
  TransformerDecoder& decoder() { return *decoder_; }

 private:
  std::shared_ptr<Embedding> shared_;
  std::shared_ptr<TransformerEncoder> encoder_;
  std::shared_ptr<TransformerDecoder> decoder_;
};

}  // namespace kat
