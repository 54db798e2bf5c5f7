#include "autograd/functions/dropout.h"

#include <fmt/format.h>

#include "autograd/functions/elementwise.h"
#include "autograd/profiler.h"
#include "core/kernels/dropout.h"

namespace kat {
namespace {

// Keeps the mask's key, not the mask: the backward draws the same mask again (g * mask).
class DropoutNode final : public Node {
 public:
  DropoutNode(double p, std::uint64_t key, std::int64_t first) : p_(p), key_(key), first_(first) {}
  const char* name() const override { return "dropout"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor dx = gradient_buffer(g);  // before gc, another handle on g's memory
    const Tensor gc = g.contiguous();
    dropout_mask_apply(gc, dx, p_, key_, first_);
    return {dx};
  }

 private:
  double p_;
  std::uint64_t key_;
  std::int64_t first_;
};

// residual + dropout(x): dx as dropout's (the mask drawn again from its key), d residual = g.
class DropoutAddNode final : public Node {
 public:
  DropoutAddNode(double p, std::uint64_t key, std::int64_t first) : p_(p), key_(key), first_(first) {}
  const char* name() const override { return "dropout_add"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor gc = g.contiguous();
    Tensor dx;
    if (needs_grad(0)) {
      dx = Tensor::empty(gc.shape(), gc.dtype());
      dropout_mask_apply(gc, dx, p_, key_, first_);
    }
    return {dx, needs_grad(1) ? g : Tensor()};
  }

 private:
  double p_;
  std::uint64_t key_;
  std::int64_t first_;
};

// Keeps the output: dx = g / (1 - p) where it is positive.
class ReluDropoutNode final : public Node {
 public:
  ReluDropoutNode(double p, Tensor out) : p_(p), out_(std::move(out)) {}
  const char* name() const override { return "relu_dropout"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor dx = gradient_buffer(g);  // before gc, another handle on g's memory
    const Tensor gc = g.contiguous();
    relu_dropout_backward(out_, gc, dx, p_);
    out_ = Tensor();
    return {dx};
  }

 private:
  double p_;
  Tensor out_;
};

void check_dropout_args(const char* op, const Variable& x, double p, std::int64_t first_element) {
  if (!x.defined()) throw Error(fmt::format("{}: undefined input", op));
  if (!(p >= 0.0 && p < 1.0)) throw Error(fmt::format("{}: probability must be in [0, 1), got {}", op, p));
  if (first_element < 0) throw Error(fmt::format("{}: first_element must be >= 0, got {}", op, first_element));
}

}  // namespace

Variable dropout(const Variable& x, double p, Rng& rng, bool training, std::int64_t first_element) {
  check_dropout_args("dropout", x, p, first_element);
  if (!training || p == 0.0) return x;
  OpTimer timer("dropout");
  const Tensor in = x.data().contiguous();
  const std::uint64_t key = rng.next_u64();
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  dropout_mask_apply(in, out, p, key, first_element);
  if (!any_requires_grad({&x})) return Variable(out);
  return attach(std::move(out), std::make_shared<DropoutNode>(p, key, first_element), {&x});
}

Variable dropout_add(const Variable& x, const Variable& residual, double p, Rng& rng, bool training,
                     std::int64_t first_element) {
  check_dropout_args("dropout_add", x, p, first_element);
  if (!residual.defined() || residual.shape() != x.shape() || residual.dtype() != x.dtype()) {
    throw Error(fmt::format("dropout_add: the residual must have the input's shape and type {} {}, got {}",
                            to_string(x.shape()), dtype_name(x.dtype()),
                            residual.defined()
                                ? fmt::format("{} {}", to_string(residual.shape()), dtype_name(residual.dtype()))
                                : std::string("undefined")));
  }
  if (!training || p == 0.0) return residual + x;
  OpTimer timer("dropout_add");
  const Tensor in = x.data().contiguous(), add = residual.data().contiguous();
  const std::uint64_t key = rng.next_u64();
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  dropout_mask_apply_add(in, add, out, p, key, first_element);
  if (!any_requires_grad({&x, &residual})) return Variable(out);
  return attach(std::move(out), std::make_shared<DropoutAddNode>(p, key, first_element), {&x, &residual});
}

Variable relu_dropout(const Variable& x, double p, Rng& rng, bool training, std::int64_t first_element) {
  check_dropout_args("relu_dropout", x, p, first_element);
  if (!training || p == 0.0) return relu(x);
  OpTimer timer("relu_dropout");
  const Tensor in = x.data().contiguous();
  const std::uint64_t key = rng.next_u64();
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  relu_dropout_mask_apply(in, out, p, key, first_element);
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<ReluDropoutNode>(p, out);
  return attach(std::move(out), std::move(node), {&x});
}

}  // namespace kat
