#include "autograd/functions/linalg.h"

#include <fmt/format.h>

#include "autograd/profiler.h"
#include "core/kernels/gemm.h"
#include "core/kernels/reduce.h"

namespace kat {
namespace {

class MatmulNode final : public Node {
 public:
  Tensor a, b;  // each saved only when the other input needs a gradient
  Shape a_shape, b_shape;
  const char* name() const override { return "matmul"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    if (b_shape.size() == 2) {
      // Rows of a folded: g2 (R, N), a2 (R, K), b (K, N).
      const std::int64_t N = b_shape[1], K = b_shape[0];
      const Tensor g2 = g.reshape({-1, N});
      if (needs_grad(0)) {
        ga = Tensor::empty(a_shape, g.dtype());
        Tensor ga2 = ga.view({-1, K});
        gemm(g2, b, ga2, false, true);
      }
      if (needs_grad(1)) {
        gb = Tensor::empty(b_shape, g.dtype());
        gemm(a.reshape({-1, K}), g2, gb, true, false);
      }
      return {ga, gb};
    }
    const Shape& out_shape = g.shape();
    if (needs_grad(0)) {
      Shape s = out_shape;
      s.back() = a_shape.back();
      Tensor full = Tensor::empty(s, g.dtype());
      bmm(g, b, full, false, true);
      ga = sum_to(full, a_shape);
    }
    if (needs_grad(1)) {
      Shape s = out_shape;
      s[s.size() - 2] = b_shape[b_shape.size() - 2];
      Tensor full = Tensor::empty(s, g.dtype());
      bmm(a, g, full, true, false);
      gb = sum_to(full, b_shape);
    }
    return {ga, gb};
  }
};

class LinearNode final : public Node {
 public:
  Tensor x, w;  // x saved when w needs a gradient, w when x does
  Shape x_shape;
  bool has_bias = false;
  const char* name() const override { return "linear"; }
  bool adds_into(std::size_t input) const override { return input == 0; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const std::int64_t K = x_shape.back(), N = g.size(-1);
    const Tensor g2 = g.reshape({-1, N});  // (R, N)
    Tensor dx, dw, db;
    if (needs_grad(0)) {
      // Added into the gradient x's other consumers sent (an input shared by projections), if any.
      const Tensor& earlier = partial_grad(0);
      const bool into = earlier.defined() && earlier.dtype() == g.dtype();
      dx = into ? earlier : Tensor::empty(x_shape, g.dtype());
      Tensor dx2 = dx.view({-1, K});
      gemm(g2, w, dx2, false, true, 1.0, into ? 1.0 : 0.0);
    }
    if (needs_grad(1)) {
      dw = Tensor::empty({K, N}, g.dtype());
      gemm(x.reshape({-1, K}), g2, dw, true, false);
    }
    if (!has_bias) return {dx, dw};
    if (needs_grad(2)) db = sum(g2, {0});
    return {dx, dw, db};
  }
};

}  // namespace

Variable linear(const Variable& x, const Variable& w, const Variable& b) {
  if (!x.defined() || !w.defined()) throw Error("linear: undefined input or weight");
  if (w.dim() != 2 || x.dim() < 1 || x.size(-1) != w.size(0)) {
    throw Error(
        fmt::format("linear: cannot multiply {} by a weight of shape {}", to_string(x.shape()), to_string(w.shape())));
  }
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(1))) {
    throw Error(
        fmt::format("linear: bias of shape {} for a weight of shape {}", to_string(b.shape()), to_string(w.shape())));
  }
  if (x.dtype() != w.dtype() || (b.defined() && b.dtype() != w.dtype())) {
    throw Error(
        fmt::format("linear: element types differ: input {}, weight {}", dtype_name(x.dtype()), dtype_name(w.dtype())));
  }
  OpTimer timer("linear");
  const std::int64_t K = w.size(0), N = w.size(1);
  Shape out_shape = x.shape();
  out_shape.back() = N;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  Tensor out2 = out.view({-1, N});        // (R, N)
  if (b.defined()) out2.copy_(b.data());  // every row starts as the bias
  gemm(x.data().reshape({-1, K}), w.data(), out2, false, false, 1.0, b.defined() ? 1.0 : 0.0);
  if (timer.active()) {
    const double flops = 2.0 * static_cast<double>(out.numel()) * static_cast<double>(K);
    timer.set_flops(flops, flops * ((x.requires_grad() ? 1 : 0) + (w.requires_grad() ? 1 : 0)));
  }
  if (!any_requires_grad({&x, &w, &b})) return Variable(out);
  auto node = std::make_shared<LinearNode>();
  node->x_shape = x.shape();
  node->has_bias = b.defined();
  if (w.requires_grad()) node->x = x.data();
  if (x.requires_grad()) node->w = w.data();
  if (!b.defined()) return attach(std::move(out), std::move(node), {&x, &w});
  return attach(std::move(out), std::move(node), {&x, &w, &b});
}

Variable matmul(const Variable& a, const Variable& b) {
  if (!a.defined() || !b.defined()) throw Error("matmul: undefined input");
  OpTimer timer("matmul");
  Tensor out = kat::matmul(a.data(), b.data());
  if (timer.active()) {
    // 2 M N K per product; backward runs one product of the same size per input needing a gradient.
    const double flops = 2.0 * static_cast<double>(out.numel()) * static_cast<double>(a.size(-1));
    timer.set_flops(flops, flops * ((a.requires_grad() ? 1 : 0) + (b.requires_grad() ? 1 : 0)));
  }
  if (!any_requires_grad({&a, &b})) return Variable(out);
  auto node = std::make_shared<MatmulNode>();
  node->a_shape = a.shape();
  node->b_shape = b.shape();
  if (b.requires_grad()) node->a = a.data();
  if (a.requires_grad()) node->b = b.data();
  return attach(std::move(out), std::move(node), {&a, &b});
}

}  // namespace kat
