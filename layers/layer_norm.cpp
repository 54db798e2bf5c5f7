#include "layers/layer_norm.h"

#include <fmt/format.h>

#include "autograd/ops.h"

namespace kat {

LayerNorm::LayerNorm(const LayerNormOptions& options) : Module("layer_norm"), options_(options) {
  if (options.dim <= 0) fail(fmt::format("dim must be positive, got {}", options.dim));
  if (!(options.eps > 0)) fail(fmt::format("eps must be positive, got {}", options.eps));
  if (options.affine) {
    weight_ = register_parameter("weight", Tensor::ones({options.dim}));
    bias_ = register_parameter("bias", Tensor::zeros({options.dim}));
  }
}

Variable LayerNorm::forward(const Variable& x) const {
  if (x.dim() < 1 || x.size(-1) != options_.dim) {
    fail(fmt::format("input last dim {} != {} (input shape {})", x.dim() < 1 ? 0 : x.size(-1), options_.dim,
                     to_string(x.shape())));
  }
  return layer_norm(x, weight_, bias_, options_.eps);
}

}  // namespace kat
