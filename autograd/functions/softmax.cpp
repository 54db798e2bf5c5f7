#include "autograd/functions/softmax.h"

#include "autograd/profiler.h"
#include "core/kernels/softmax.h"

namespace kat {
namespace {

class SoftmaxNode final : public Node {
 public:
  Tensor y;
  bool log = false;
  const char* name() const override { return log ? "log_softmax" : "softmax"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor dx = Tensor::empty(g.shape(), g.dtype());
    if (log) {
      log_softmax_backward(g, y, dx);
    } else {
      softmax_backward(g, y, dx);
    }
    return {dx};
  }
};

Variable softmax_op(const Variable& x, bool log) {
  OpTimer timer(log ? "log_softmax" : "softmax");
  if (!x.defined()) throw Error(log ? "log_softmax: undefined input" : "softmax: undefined input");
  Tensor y = log ? kat::log_softmax(x.data()) : kat::softmax(x.data());
  if (!any_requires_grad({&x})) return Variable(y);
  auto node = std::make_shared<SoftmaxNode>();
  node->y = y;
  node->log = log;
  return attach(std::move(y), std::move(node), {&x});
}

}  // namespace

Variable softmax(const Variable& x) { return softmax_op(x, false); }
Variable log_softmax(const Variable& x) { return softmax_op(x, true); }

}  // namespace kat
