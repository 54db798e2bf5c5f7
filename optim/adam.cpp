#include "optim/adam.h"

#include <fmt/format.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/parallel.h"

namespace kat {

Adam::Adam(std::vector<Variable> params, const AdamOptions& options)
    : params_(std::move(params)), m_(params_.size()), v_(params_.size()), options_(options) {
  const auto& o = options;
  if (!(o.lr >= 0)) throw Error(fmt::format("adam: lr must be non-negative, got {}", o.lr));
  if (!(o.beta1 >= 0 && o.beta1 < 1)) throw Error(fmt::format("adam: beta1 must be in [0, 1), got {}", o.beta1));
  if (!(o.beta2 >= 0 && o.beta2 < 1)) throw Error(fmt::format("adam: beta2 must be in [0, 1), got {}", o.beta2));
  if (!(o.eps > 0)) throw Error(fmt::format("adam: eps must be positive, got {}", o.eps));
  if (!(o.weight_decay >= 0))
    throw Error(fmt::format("adam: weight_decay must be non-negative, got {}", o.weight_decay));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Variable& p = params_[i];
    if (!p.defined() || !p.is_leaf() || !p.requires_grad() || !p.data().is_contiguous()) {
      throw Error(fmt::format("adam: parameter {} is not a contiguous leaf that requires a gradient", i));
    }
  }
}

void Adam::step() {
  NoGradGuard no_grad;
  ++t_;
  const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t_));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.grad().defined()) continue;
    Tensor& w = p.data();
    if (!m_[i].defined()) {
      m_[i] = Tensor::zeros(w.shape(), w.dtype());
      v_[i] = Tensor::zeros(w.shape(), w.dtype());
    }
    const Tensor g = p.grad().contiguous();
    dispatch_float(w.dtype(), "adam", [&](auto tag) {
      using T = decltype(tag);
      T* pw = w.data<T>();
      T* pm = m_[i].data<T>();
      T* pv = v_[i].data<T>();
      const T* pg = g.data<T>();
      const T b1 = static_cast<T>(options_.beta1), b2 = static_cast<T>(options_.beta2);
      const T step = static_cast<T>(options_.lr / bc1);
      const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(bc2));
      const T eps = static_cast<T>(options_.eps);
      const T wd = static_cast<T>(options_.weight_decay);
      const T decay = static_cast<T>(options_.decoupled ? 1.0 - options_.lr * options_.weight_decay : 1.0);
      const bool l2 = !options_.decoupled && options_.weight_decay != 0;
      parallel_for(0, w.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t j = b; j < e; ++j) {
          const T gj = l2 ? pg[j] + wd * pw[j] : pg[j];
          pm[j] = b1 * pm[j] + (T(1) - b1) * gj;
          pv[j] = b2 * pv[j] + (T(1) - b2) * gj * gj;
          pw[j] = pw[j] * decay - step * pm[j] / (std::sqrt(pv[j]) * inv_sqrt_bc2 + eps);
        }
      });
    });
  }
}

void Adam::zero_grad() {
  for (Variable& p : params_) p.zero_grad();
}

}  // namespace kat
