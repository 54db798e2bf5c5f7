#include "autograd/functions/embedding.h"

#include <fmt/format.h>

#include "autograd/profiler.h"
#include "core/kernels/index.h"

namespace kat {
namespace {

class EmbeddingNode final : public Node {
 public:
  Tensor ids;
  Shape weight_shape;
  std::int64_t padding_idx = -1;
  const char* name() const override { return "embedding"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gw = Tensor::zeros(weight_shape, g.dtype());
    scatter_add_rows(g, ids, gw, "embedding backward");
    if (padding_idx >= 0) gw.select(0, padding_idx).zero_();
    return {gw};
  }
};

}  // namespace

Variable embedding(const Variable& weight, const Tensor& ids, std::int64_t padding_idx) {
  OpTimer timer("embedding");
  if (!weight.defined() || !ids.defined()) throw Error("embedding: undefined input");
  if (padding_idx >= weight.size(0)) {
    throw Error(fmt::format("embedding: padding index {} outside the table's {} rows", padding_idx, weight.size(0)));
  }
  Tensor out = gather_rows(weight.data(), ids, "embedding");
  if (!any_requires_grad({&weight})) return Variable(out);
  auto node = std::make_shared<EmbeddingNode>();
  node->ids = ids;
  node->weight_shape = weight.shape();
  node->padding_idx = padding_idx;
  return attach(std::move(out), std::move(node), {&weight});
}

}  // namespace kat
