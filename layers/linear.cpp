#include "layers/linear.h"

#include <fmt/format.h>

#include <algorithm>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/profiler.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"
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

void Linear::forward_into(const Tensor& x, Tensor& out) const {
  if (x.dim() != 2 || x.size(1) != options_.in || out.dim() != 2 || out.size(0) != x.size(0) ||
      out.size(1) != options_.out || x.dtype() != DType::f32 || out.dtype() != DType::f32 || !x.is_contiguous() ||
      !out.is_contiguous()) {
    fail(fmt::format("forward_into takes float32 (rows, {}) into (rows, {}), got {} into {}", options_.in, options_.out,
                     to_string(x.shape()), to_string(out.shape())));
  }
  OpTimer timer("linear");
  const std::int64_t rows = x.size(0);
  if (timer.active()) timer.set_flops(2.0 * static_cast<double>(rows * options_.in * options_.out), 0);
  const float* b = options_.bias ? bias_.data().data<float>() : nullptr;
  if (half_ != nullptr && rows <= kHalfRowsAtMost) {
    for (std::int64_t r = 0; r < rows; ++r) {
      half_->gemv(x.data<float>() + r * options_.in, b, out.data<float>() + r * options_.out);
    }
    return;
  }
  if (b != nullptr) {
    float* o = out.data<float>();
    for (std::int64_t r = 0; r < rows; ++r) std::copy(b, b + options_.out, o + r * options_.out);
  }
  // One row on one thread (the product is not split: gemm.cpp's policy) goes straight to BLAS.
  if (rows == 1 &&
      (num_threads() == 1 || in_parallel_region() || options_.in * options_.out < kSplitVectorProductFrom)) {
    gemv_row(x.data<float>(), weight_.data().data<float>(), options_.in, options_.out, b != nullptr ? 1.0f : 0.0f,
             out.data<float>());
    return;
  }
  gemm(x, weight_.data(), out, false, false, 1.0, b != nullptr ? 1.0 : 0.0);
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
