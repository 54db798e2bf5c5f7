#include "layers/linear.h"

#include <fmt/format.h>

#include "autograd/grad_mode.h"
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
  const std::int64_t rows = x.numel() / options_.in;
  if (half_ != nullptr && !grad_enabled() && x.dtype() == DType::f32 && rows <= kHalfRowsAtMost) {
    return Variable(half_->apply(x.data(), options_.bias ? bias_.data().data<float>() : nullptr));
  }
  return linear(x, weight_, options_.bias ? bias_ : Variable());
}

void Linear::set_half_weights(bool on) {
  if (!on) {
    half_.reset();
    return;
  }
  if (weight_.dtype() != DType::f32)
    fail(fmt::format("float16 weights need a float32 layer, this one is {}", dtype_name(weight_.dtype())));
  half_ = std::make_shared<const HalfMatrix>(weight_.data(), /*transpose=*/true, where().c_str());
}

}  // namespace kat
