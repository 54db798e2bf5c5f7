#include "autograd/functions/shape.h"

#include <fmt/format.h>

#include "autograd/profiler.h"
#include "core/kernels/index.h"
#include "core/kernels/reduce.h"

namespace kat {
namespace {

void check_input(const char* op, const Variable& x) {
  if (!x.defined()) throw Error(fmt::format("{}: undefined input", op));
}

class ReshapeNode final : public Node {
 public:
  Shape in_shape;
  const char* name() const override { return "reshape"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.reshape(in_shape)}; }
};

class PermuteNode final : public Node {
 public:
  std::vector<std::int64_t> inverse;
  const char* name() const override { return "permute"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.permute(inverse)}; }
};

class SliceNode final : public Node {
 public:
  Shape in_shape;
  std::int64_t axis = 0, start = 0, end = 0;
  const char* name() const override { return "slice"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::zeros(in_shape, g.dtype());
    Tensor part = gx.slice(axis, start, end);
    part.copy_(g);
    return {gx};
  }
};

class ExpandNode final : public Node {
 public:
  Shape in_shape;
  const char* name() const override { return "expand"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {sum_to(g, in_shape)}; }
};

class ConcatNode final : public Node {
 public:
  std::int64_t axis = 0;
  std::vector<std::int64_t> sizes;
  const char* name() const override { return "concat"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    std::vector<Tensor> out(sizes.size());
    std::int64_t at = 0;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
      if (needs_grad(i)) out[i] = g.slice(axis, at, at + sizes[i]);
      at += sizes[i];
    }
    return out;
  }
};

Variable reshape_like(const Variable& x, Tensor out) {
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<ReshapeNode>();
  node->in_shape = x.shape();
  return attach(std::move(out), std::move(node), {&x});
}

}  // namespace

Variable reshape(const Variable& x, const Shape& shape) {
  check_input("reshape", x);
  OpTimer timer("reshape");
  return reshape_like(x, x.data().reshape(shape));
}

Variable unsqueeze(const Variable& x, std::int64_t axis) {
  check_input("unsqueeze", x);
  OpTimer timer("reshape");
  return reshape_like(x, x.data().unsqueeze(axis));
}

Variable squeeze(const Variable& x, std::int64_t axis) {
  check_input("squeeze", x);
  OpTimer timer("reshape");
  return reshape_like(x, x.data().squeeze(axis));
}

Variable permute(const Variable& x, const std::vector<std::int64_t>& order) {
  check_input("permute", x);
  OpTimer timer("permute");
  Tensor out = x.data().permute(order);
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<PermuteNode>();
  node->inverse.resize(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    node->inverse[normalize_axis(order[i], x.dim(), "permute")] = static_cast<std::int64_t>(i);
  }
  return attach(std::move(out), std::move(node), {&x});
}

Variable transpose(const Variable& x, std::int64_t a, std::int64_t b) {
  check_input("transpose", x);
  std::vector<std::int64_t> order(x.dim());
  for (std::int64_t i = 0; i < x.dim(); ++i) order[i] = i;
  std::swap(order[normalize_axis(a, x.dim(), "transpose")], order[normalize_axis(b, x.dim(), "transpose")]);
  return permute(x, order);
}

Variable slice(const Variable& x, std::int64_t axis, std::int64_t start, std::int64_t end) {
  check_input("slice", x);
  OpTimer timer("slice");
  Tensor out = x.data().slice(axis, start, end);
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<SliceNode>();
  node->in_shape = x.shape();
  node->axis = normalize_axis(axis, x.dim(), "slice");
  node->start = start < 0 ? start + x.size(node->axis) : start;  // bounds as Tensor::slice resolved them
  node->end = node->start + out.size(node->axis);
  return attach(std::move(out), std::move(node), {&x});
}

Variable expand(const Variable& x, const Shape& shape) {
  check_input("expand", x);
  OpTimer timer("expand");
  Tensor out = x.data().expand(shape);
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<ExpandNode>();
  node->in_shape = x.shape();
  return attach(std::move(out), std::move(node), {&x});
}

Variable concat(const std::vector<Variable>& parts, std::int64_t axis) {
  OpTimer timer("concat");
  std::vector<Tensor> tensors;
  VariableRefs refs;
  for (const Variable& p : parts) {
    check_input("concat", p);
    tensors.push_back(p.data());
    refs.push_back(&p);
  }
  Tensor out = kat::concat(tensors, axis);
  if (!any_requires_grad(refs)) return Variable(out);
  auto node = std::make_shared<ConcatNode>();
  node->axis = normalize_axis(axis, out.dim(), "concat");
  for (const Variable& p : parts) node->sizes.push_back(p.size(node->axis));
  return attach(std::move(out), std::move(node), refs);
}

}  // namespace kat
