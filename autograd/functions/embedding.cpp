#include "autograd/functions/embedding.h"

#include "core/kernels/index.h"

namespace kat {
namespace {

class EmbeddingNode final : public Node {
 public:
  Tensor ids;
  Shape weight_shape;
  const char* name() const override { return "embedding"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gw = Tensor::zeros(weight_shape, g.dtype());
    scatter_add_rows(g, ids, gw, "embedding backward");
    return {gw};
  }
};

}  // namespace

Variable embedding(const Variable& weight, const Tensor& ids) {
  if (!weight.defined() || !ids.defined()) throw Error("embedding: undefined input");
  Tensor out = gather_rows(weight.data(), ids, "embedding");
  if (!any_requires_grad({&weight})) return Variable(out);
  auto node = std::make_shared<EmbeddingNode>();
  node->ids = ids;
  node->weight_shape = weight.shape();
  return attach(std::move(out), std::move(node), {&weight});
}

}  // namespace kat
