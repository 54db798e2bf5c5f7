#include "autograd/functions/norm.h"

#include "autograd/profiler.h"
#include "core/kernels/norm.h"

namespace kat {
namespace {

class LayerNormNode final : public Node {
 public:
  Tensor x, weight, mean, rstd;
  const char* name() const override { return "layer_norm"; }
  bool adds_into(std::size_t input) const override { return input == 0; }
  std::vector<Tensor> backward(const Tensor& g) override {
    // dx is added into the gradient x's other consumers sent (the residual stream's), if any, else
    // written into g's own memory when nothing else holds it.
    const Tensor& earlier = partial_grad(0);
    const bool into = needs_grad(0) && earlier.defined() && earlier.dtype() == g.dtype();
    Tensor dx, dw, db;
    if (needs_grad(0)) dx = into ? earlier : gradient_buffer(g);
    layer_norm_backward(g, x, weight, mean, rstd, needs_grad(0) ? &dx : nullptr, needs_grad(1) ? &dw : nullptr,
                        needs_grad(2) ? &db : nullptr, into);
    return {dx, dw, db};
  }
};

}  // namespace

Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps) {
  OpTimer timer("layer_norm");
  if (!x.defined()) throw Error("layer_norm: undefined input");
  static const Tensor none;
  const Tensor& w = weight.defined() ? weight.data() : none;
  const Tensor& b = bias.defined() ? bias.data() : none;
  Tensor y, mean, rstd;
  kat::layer_norm(x.data(), w, b, eps, y, mean, rstd);
  // Undefined weight/bias take part as constants that need no gradient.
  const Variable w_var = weight.defined() ? weight : Variable(Tensor::zeros({1}, x.dtype()));
  const Variable b_var = bias.defined() ? bias : Variable(Tensor::zeros({1}, x.dtype()));
  if (!any_requires_grad({&x, &w_var, &b_var})) return Variable(y);
  auto node = std::make_shared<LayerNormNode>();
  node->x = x.data();
  node->weight = w;
  node->mean = mean;
  node->rstd = rstd;
  return attach(std::move(y), std::move(node), {&x, &w_var, &b_var});
}

}  // namespace kat
