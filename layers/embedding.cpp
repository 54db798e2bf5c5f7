#include "layers/embedding.h"

#include <fmt/format.h>

#include <cmath>

#include "autograd/ops.h"
#include "layers/init.h"

namespace kat {

Embedding::Embedding(const EmbeddingOptions& options, Rng& rng) : Module("embedding"), options_(options) {
  if (options.vocab <= 0 || options.dim <= 0) {
    fail(fmt::format("vocab and dim must be positive, got vocab={} dim={}", options.vocab, options.dim));
  }
  if (options.padding_idx >= options.vocab || options.padding_idx < -1) {
    fail(fmt::format("padding index {} outside the vocabulary of {}", options.padding_idx, options.vocab));
  }
  Tensor w = Tensor::empty({options.vocab, options.dim});
  const double stddev = options.init_std > 0 ? options.init_std : 1.0 / std::sqrt(static_cast<double>(options.dim));
  init::normal(w, rng, stddev);
  if (options.padding_idx >= 0) w.select(0, options.padding_idx).zero_();
  weight_ = register_parameter("weight", w);
}

Variable Embedding::forward(const Tensor& ids) const {
  if (!ids.defined() || ids.dtype() != DType::i64) fail("token ids must be an int64 tensor");
  const auto v = ids.contiguous();
  const std::int64_t* p = v.data<std::int64_t>();
  for (std::int64_t i = 0; i < v.numel(); ++i) {
    if (p[i] < 0 || p[i] >= options_.vocab) {
      fail(fmt::format("token id {} at position {} is outside the vocabulary [0, {})", p[i], i, options_.vocab));
    }
  }
  return embedding(weight_, ids, options_.padding_idx);
}

}  // namespace kat
