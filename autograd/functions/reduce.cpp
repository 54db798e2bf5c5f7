#include "autograd/functions/reduce.h"

#include <fmt/format.h>

#include "autograd/profiler.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/reduce.h"

namespace kat {
namespace {

class ReduceNode final : public Node {
 public:
  Shape in_shape, kept_shape;  // kept_shape: the output with reduced axes kept as size 1
  double scale = 1.0;          // 1 for sum, 1/count for mean
  bool is_mean = false;
  const char* name() const override { return is_mean ? "mean" : "sum"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gk = g.reshape(kept_shape);
    Tensor gx = Tensor::empty(in_shape, g.dtype());
    if (scale == 1.0) {
      gx.copy_(gk);
    } else {
      gx.zero_();
      add_scaled_(gx, gk, scale);
    }
    return {gx};
  }
};

Variable reduce_op(ReduceOp op, const Variable& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  const bool is_mean = op == ReduceOp::mean;
  const char* name = is_mean ? "mean" : "sum";
  OpTimer timer(name);
  if (!x.defined()) throw Error(fmt::format("{}: undefined input", name));
  if (x.numel() == 0) throw Error(fmt::format("{}: empty input of shape {}", name, to_string(x.shape())));
  Tensor out = reduce(op, x.data(), axes, keepdim);
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<ReduceNode>();
  node->in_shape = x.shape();
  node->is_mean = is_mean;
  Shape kept = x.shape();
  std::int64_t count = 1;
  for (std::int64_t d = 0; d < x.dim(); ++d) {
    bool reduced = axes.empty();
    for (auto a : axes) reduced = reduced || normalize_axis(a, x.dim(), name) == d;
    if (reduced) {
      count *= kept[d];
      kept[d] = 1;
    }
  }
  node->kept_shape = kept;
  node->scale = is_mean ? 1.0 / static_cast<double>(count) : 1.0;
  return attach(std::move(out), std::move(node), {&x});
}

}  // namespace

Variable sum(const Variable& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return reduce_op(ReduceOp::sum, x, axes, keepdim);
}

Variable mean(const Variable& x, const std::vector<std::int64_t>& axes, bool keepdim) {
  return reduce_op(ReduceOp::mean, x, axes, keepdim);
}

}  // namespace kat
