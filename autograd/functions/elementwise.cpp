#include "autograd/functions/elementwise.h"

#include <fmt/format.h>

#include "autograd/profiler.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/reduce.h"

namespace kat {
namespace {

void check_defined(const char* op, const VariableRefs& inputs) {
  for (const Variable* v : inputs) {
    if (!v->defined()) throw Error(fmt::format("{}: undefined input", op));
  }
}

void check_nonempty(const char* op, const Variable& x) {
  if (x.numel() == 0) throw Error(fmt::format("{}: empty input of shape {}", op, to_string(x.shape())));
}

// ---- binary ops: out = a (op) b, with broadcasting ----

class AddNode final : public Node {
 public:
  Shape a_shape, b_shape;
  bool subtract = false;
  const char* name() const override { return subtract ? "sub" : "add"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    if (needs_grad(0)) ga = sum_to(g, a_shape);
    if (needs_grad(1)) gb = subtract ? unary(UnaryOp::neg, sum_to(g, b_shape)) : sum_to(g, b_shape);
    return {ga, gb};
  }
};

// d(a*b) = g*b da + g*a db; d(a/b) = g/b da - g*a/b^2 db.
class MulNode final : public Node {
 public:
  Tensor a, b;  // saved only when the other input needs a gradient
  const char* name() const override { return "mul"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    if (needs_grad(0)) ga = sum_to(binary(BinaryOp::mul, g, b), a_shape);
    if (needs_grad(1)) gb = sum_to(binary(BinaryOp::mul, g, a), b_shape);
    return {ga, gb};
  }
  Shape a_shape, b_shape;
};

class DivNode final : public Node {
 public:
  Tensor b, out;  // out = a / b, so d/db = -g * out / b
  Shape a_shape, b_shape;
  const char* name() const override { return "div"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga, gb;
    const Tensor g_over_b = binary(BinaryOp::div, g, b);
    if (needs_grad(0)) ga = sum_to(g_over_b, a_shape);
    if (needs_grad(1)) gb = unary(UnaryOp::neg, sum_to(binary(BinaryOp::mul, g_over_b, out), b_shape));
    return {ga, gb};
  }
};

Variable add_or_sub(const Variable& a, const Variable& b, bool subtract) {
  const char* op = subtract ? "sub" : "add";
  OpTimer timer(op);
  check_defined(op, {&a, &b});
  check_nonempty(op, a);
  check_nonempty(op, b);
  Tensor out = binary(subtract ? BinaryOp::sub : BinaryOp::add, a.data(), b.data());
  if (!any_requires_grad({&a, &b})) return Variable(out);
  auto node = std::make_shared<AddNode>();
  node->a_shape = a.shape();
  node->b_shape = b.shape();
  node->subtract = subtract;
  return attach(std::move(out), std::move(node), {&a, &b});
}

// ---- unary ops: the node saves the input or the output, whichever its derivative reads ----

bool reads_output(UnaryOp op) {
  return op == UnaryOp::exp || op == UnaryOp::tanh || op == UnaryOp::sigmoid || op == UnaryOp::sqrt ||
         op == UnaryOp::rsqrt || op == UnaryOp::elu1;
}

class UnaryNode final : public Node {
 public:
  UnaryOp op;
  double alpha = 0.0;
  Tensor x, y;
  // The input's layout (rows_layout), which its gradient takes: the gradient of heads split from a
  // projection then merges back without a copy.
  std::vector<std::int64_t> x_order;
  const char* name() const override { return unary_name(op); }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor dx = gradient_buffer(g, x_order);
    unary_backward(op, g, x, y, dx, alpha);
    return {dx};
  }
};

Variable unary_op(UnaryOp op, const Variable& x, double alpha = 0.0) {
  OpTimer timer(unary_name(op));
  check_defined(unary_name(op), {&x});
  check_nonempty(unary_name(op), x);
  // The output takes the input's layout (rows_layout): on heads split from a projection the op
  // then walks memory in order, and its gradient (in the same layout) too.
  const std::vector<std::int64_t> x_order =
      x.data().is_contiguous() ? std::vector<std::int64_t>{} : rows_layout(x.data());
  Tensor y = empty_in_order(x.shape(), x_order, x.dtype());
  unary(op, x.data(), y, alpha);
  if (!any_requires_grad({&x})) return Variable(y);
  auto node = std::make_shared<UnaryNode>();
  node->op = op;
  node->alpha = alpha;
  node->x_order = x_order;
  // Linear ops (neg, scale, add_scalar) read neither.
  const bool linear = op == UnaryOp::neg || op == UnaryOp::scale || op == UnaryOp::add_scalar;
  if (reads_output(op)) {
    node->y = y;
  } else if (!linear) {
    node->x = x.data();
  }
  return attach(std::move(y), std::move(node), {&x});
}

}  // namespace

Variable add(const Variable& a, const Variable& b) { return add_or_sub(a, b, false); }
Variable sub(const Variable& a, const Variable& b) { return add_or_sub(a, b, true); }

Variable mul(const Variable& a, const Variable& b) {
  OpTimer timer("mul");
  check_defined("mul", {&a, &b});
  check_nonempty("mul", a);
  check_nonempty("mul", b);
  Tensor out = binary(BinaryOp::mul, a.data(), b.data());
  if (!any_requires_grad({&a, &b})) return Variable(out);
  auto node = std::make_shared<MulNode>();
  node->a_shape = a.shape();
  node->b_shape = b.shape();
  if (b.requires_grad()) node->a = a.data();
  if (a.requires_grad()) node->b = b.data();
  return attach(std::move(out), std::move(node), {&a, &b});
}

Variable div(const Variable& a, const Variable& b) {
  OpTimer timer("div");
  check_defined("div", {&a, &b});
  check_nonempty("div", a);
  check_nonempty("div", b);
  Tensor out = binary(BinaryOp::div, a.data(), b.data());
  if (!any_requires_grad({&a, &b})) return Variable(out);
  auto node = std::make_shared<DivNode>();
  node->a_shape = a.shape();
  node->b_shape = b.shape();
  node->b = b.data();
  if (b.requires_grad()) node->out = out;
  return attach(std::move(out), std::move(node), {&a, &b});
}

Variable neg(const Variable& x) { return unary_op(UnaryOp::neg, x); }
Variable add(const Variable& x, double s) { return unary_op(UnaryOp::add_scalar, x, s); }
Variable mul(const Variable& x, double s) { return unary_op(UnaryOp::scale, x, s); }
Variable pow(const Variable& x, double p) { return unary_op(UnaryOp::pow_scalar, x, p); }
Variable exp(const Variable& x) { return unary_op(UnaryOp::exp, x); }
Variable log(const Variable& x) { return unary_op(UnaryOp::log, x); }
Variable sqrt(const Variable& x) { return unary_op(UnaryOp::sqrt, x); }
Variable tanh(const Variable& x) { return unary_op(UnaryOp::tanh, x); }
Variable relu(const Variable& x) { return unary_op(UnaryOp::relu, x); }
Variable gelu(const Variable& x) { return unary_op(UnaryOp::gelu, x); }
Variable elu(const Variable& x, double alpha) { return unary_op(UnaryOp::elu, x, alpha); }
Variable elu_plus_one(const Variable& x) { return unary_op(UnaryOp::elu1, x); }
Variable sigmoid(const Variable& x) { return unary_op(UnaryOp::sigmoid, x); }
Variable sin(const Variable& x) { return unary_op(UnaryOp::sin, x); }
Variable cos(const Variable& x) { return unary_op(UnaryOp::cos, x); }

}  // namespace kat
