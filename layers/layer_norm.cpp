#include "layers/layer_norm.h"

#include <fmt/format.h>

#include "autograd/ops.h"
#include "core/kernels/norm.h"

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

Tensor LayerNorm::forward_rows(const Tensor& x) const {
  if (x.dim() != 2 || x.size(1) != options_.dim) {
    fail(fmt::format("forward_rows takes (rows, {}), got {}", options_.dim, to_string(x.shape())));
  }
  static const Tensor none;
  Tensor y, mean, rstd;
  layer_norm(x, weight_.defined() ? weight_.data() : none, bias_.defined() ? bias_.data() : none, options_.eps, y, mean,
             rstd);
  return y;
}

}  // namespace kat
