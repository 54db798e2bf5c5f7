#include "autograd/functions/linalg.h"

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

}  // namespace

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
