#include "optim/clip.h"

#include <fmt/format.h>

#include <cmath>

#include "core/kernels/elementwise.h"

namespace kat {

double grad_norm(const std::vector<Variable>& params) {
  double total = 0.0;
  for (const Variable& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    const Tensor g = p.grad().contiguous();
    dispatch_float(g.dtype(), "grad_norm", [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      // Vector lanes hold partial sums (a fixed order, whatever the threads: this loop runs on one).
      double s = 0.0;
      const std::int64_t n = g.numel();
#pragma omp simd reduction(+ : s)
      for (std::int64_t i = 0; i < n; ++i) s += static_cast<double>(pg[i]) * static_cast<double>(pg[i]);
      total += s;
    });
  }
  return std::sqrt(total);
}

void scale_grads(const std::vector<Variable>& params, double factor) {
  for (const Variable& p : params) {
    if (!p.defined() || !p.grad().defined()) continue;
    Tensor g = p.grad();  // aliases the leaf's gradient, which the leaf owns alone
    unary(UnaryOp::scale, g, g, factor);
  }
}

double clip_grad_norm(const std::vector<Variable>& params, double max_norm) {
  if (!(max_norm > 0)) throw Error(fmt::format("clip_grad_norm: max_norm must be positive, got {}", max_norm));
  const double norm = grad_norm(params);
  if (std::isfinite(norm) && norm > max_norm) scale_grads(params, max_norm / norm);
  return norm;
}

}  // namespace kat
