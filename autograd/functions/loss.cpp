#include "autograd/functions/loss.h"

#include <fmt/format.h>

#include "autograd/profiler.h"

namespace kat {
namespace {

class CrossEntropyNode final : public Node {
 public:
  Tensor logits, targets, lse;  // logits (R, V), targets (R), lse (R)
  Shape logits_shape;
  CrossEntropyOptions options;
  std::int64_t counted = 0;
  const char* name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor d;
    cross_entropy_backward(g.item(), logits, targets, lse, options, counted, d);
    return {d.view(logits_shape)};
  }
};

}  // namespace

Variable cross_entropy(const Variable& logits, const Tensor& targets, const CrossEntropyOptions& options) {
  OpTimer timer("cross_entropy");
  if (!logits.defined() || !targets.defined()) throw Error("cross_entropy: undefined input");
  if (logits.dim() < 1) throw Error("cross_entropy: logits need a class axis, got a scalar");
  Shape expect(logits.shape().begin(), logits.shape().end() - 1);
  if (targets.shape() != expect) {
    throw Error(fmt::format("cross_entropy: targets of shape {} do not match logits {} (expected {})",
                            to_string(targets.shape()), to_string(logits.shape()), to_string(expect)));
  }
  const Tensor l2 = logits.data().reshape({-1, logits.size(-1)});
  const Tensor t1 = targets.reshape({-1});
  Tensor lse;
  std::int64_t counted = 0;
  const double loss = kat::cross_entropy(l2, t1, options, lse, counted);
  Tensor out = Tensor::scalar(loss, logits.dtype());
  if (!any_requires_grad({&logits})) return Variable(out);
  auto node = std::make_shared<CrossEntropyNode>();
  node->logits = l2;
  node->targets = t1;
  node->lse = lse;
  node->logits_shape = logits.shape();
  node->options = options;
  node->counted = counted;
  return attach(std::move(out), std::move(node), {&logits});
}

}  // namespace kat
