#include "layers/linear.h"

#include <fmt/format.h>

#include "autograd/ops.h"
#include "layers/init.h"

namespace kat {

Linear::Linear(const LinearOptions& options, Rng& rng) : Module("linear"), options_(options) {
  if (options.in <= 0 || options.out <= 0) {
    fail(fmt::format("in and out features must be positive, got in={} out={}", options.in, options.out));
  }
  Tensor w = Tensor::empty({options.in, options.out});
  init::xavier_uniform(w, rng, options.init_gain);
  weight_ = register_parameter("weight", w);
  if (options.bias) bias_ = register_parameter("bias", Tensor::zeros({options.out}));
}

Variable Linear::forward(const Variable& x) const {
  if (x.dim() < 1 || x.size(-1) != options_.in) {
    fail(fmt::format("input last dim {} != in_features {} (input shape {})", x.dim() < 1 ? 0 : x.size(-1), options_.in,
                     to_string(x.shape())));
  }
  return linear(x, weight_, options_.bias ? bias_ : Variable());
}

}  // namespace kat
