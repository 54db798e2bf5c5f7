#include "optim/adam.h"

#include <fmt/format.h>

#include <cmath>

#include "core/parallel.h"

namespace kat {

Adam::Adam(NamedParameters params, const AdamOptions& options) : Adam("adam", std::move(params), options) {}

Adam::Adam(const char* kind, NamedParameters params, const AdamOptions& options)
    : Optimizer(kind, std::move(params), options.lr, {kExpAvg, kExpAvgSq}), options_(options) {
  const auto& o = options;
  if (!(o.beta1 >= 0 && o.beta1 < 1)) throw Error(fmt::format("{}: beta1 must be in [0, 1), got {}", kind, o.beta1));
  if (!(o.beta2 >= 0 && o.beta2 < 1)) throw Error(fmt::format("{}: beta2 must be in [0, 1), got {}", kind, o.beta2));
  if (!(o.eps > 0)) throw Error(fmt::format("{}: eps must be positive, got {}", kind, o.eps));
  if (!(o.weight_decay >= 0)) {
    throw Error(fmt::format("{}: weight_decay must be non-negative, got {}", kind, o.weight_decay));
  }
}

void Adam::update(std::size_t i, Tensor& w, const Tensor& g, std::vector<Tensor>& slots) {
  const double t = static_cast<double>(steps());
  const double bc1 = 1.0 - std::pow(options_.beta1, t);
  const double bc2 = 1.0 - std::pow(options_.beta2, t);
  // The moments, by the names the checkpoint stores them under (slots follow the constructor's order).
  Tensor& exp_avg = slots[0];
  Tensor& exp_avg_sq = slots[1];
  if (!exp_avg.defined()) {
    exp_avg = Tensor::zeros(w.shape(), w.dtype());
    exp_avg_sq = Tensor::zeros(w.shape(), w.dtype());
  }
  const double wd = parameters()[i].decay ? options_.weight_decay : 0.0;
  dispatch_float(w.dtype(), kind().c_str(), [&](auto tag) {
    using T = decltype(tag);
    T* pw = w.data<T>();
    T* pm = exp_avg.data<T>();
    T* pv = exp_avg_sq.data<T>();
    const T* pg = g.data<T>();
    const T b1 = static_cast<T>(options_.beta1), b2 = static_cast<T>(options_.beta2);
    const T step = static_cast<T>(lr() / bc1);
    const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
    const T eps = static_cast<T>(options_.eps);
    const T l2 = static_cast<T>(options_.decoupled ? 0.0 : wd);
    const T decay = static_cast<T>(options_.decoupled ? 1.0 - lr() * wd : 1.0);
    parallel_for(0, w.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
    // The weight, its gradient and its two slots are four separate tensors: no element depends
    // on another, which the compiler cannot prove (three arrays written, one read).
#pragma omp simd
      for (std::int64_t j = b; j < e; ++j) {
        const T gj = pg[j] + l2 * pw[j];
        pm[j] = b1 * pm[j] + (T(1) - b1) * gj;
        pv[j] = b2 * pv[j] + (T(1) - b2) * gj * gj;
        pw[j] = pw[j] * decay - step * pm[j] / (std::sqrt(pv[j]) * inv_sqrt_bc2 + eps);
      }
    });
  });
}

namespace {

AdamOptions with_decoupled_decay(AdamOptions o) {
  o.decoupled = true;
  return o;
}

}  // namespace

AdamW::AdamW(NamedParameters params, const AdamOptions& options)
    : Adam("adamw", std::move(params), with_decoupled_decay(options)) {}

}  // namespace kat
