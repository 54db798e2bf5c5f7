#include "layers/models/language_model.h"

namespace kat {

TransformerLM::TransformerLM(const StackOptions& options, Rng& rng) : Module("transformer_lm") {
  decoder_ = add_module<TransformerDecoder>("decoder", options, false, nullptr, rng);
}

Variable TransformerLM::forward(const Tensor& ids, const std::vector<std::int64_t>& lengths) {
  return decoder_->forward(ids, lengths, Variable(), {});
}

}  // namespace kat
