#include "layers/models/language_model.h"

namespace kat {

TransformerLM::TransformerLM(const StackOptions& options, Rng& rng) : Module("transformer_lm") {
  decoder_ = add_module<TransformerDecoder>("decoder", options, false, nullptr, rng);
}

StackOptions reference_lm_options(const std::string& attention, std::int64_t features, double dropout,
                                  std::int64_t max_len) {
  StackOptions o;
  o.vocab = 256;
  o.layers = 4;
  o.layer.d_model = 256;
  o.layer.heads = 4;
  o.layer.d_ff = 1024;
  o.layer.dropout = dropout;
  o.layer.norm = NormPlacement::pre;
  o.layer.attention.type = attention;
  o.layer.attention.features = features;
  o.max_len = max_len;
  return o;
}

Variable TransformerLM::forward(const Tensor& ids, const std::vector<std::int64_t>& lengths) {
  return decoder_->forward(ids, lengths, Variable(), {});
}

}  // namespace kat
