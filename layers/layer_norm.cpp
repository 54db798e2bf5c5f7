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
  // A decoding step's few float32 rows: the kernel's arithmetic on this thread, without the
  // statistics the backward would need.
  if (x.dtype() == DType::f32 && x.is_contiguous() && x.size(0) <= 4) {
    const std::int64_t C = options_.dim;
    Tensor y = Tensor::empty(x.shape(), DType::f32);
    const float* pg = weight_.defined() ? weight_.data().data<float>() : nullptr;
    const float* pb = bias_.defined() ? bias_.data().data<float>() : nullptr;
    float mean = 0, rstd = 0;
    for (std::int64_t r = 0; r < x.size(0); ++r) {
      layer_norm_row(x.data<float>() + r * C, C, pg, pb, options_.eps, y.data<float>() + r * C, &mean, &rstd);
    }
    return y;
  }
  static const Tensor none;
  Tensor y, mean, rstd;
  layer_norm(x, weight_.defined() ? weight_.data() : none, bias_.defined() ? bias_.data() : none, options_.eps, y, mean,
             rstd);
  return y;
}

}  // namespace kat
