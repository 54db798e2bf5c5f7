// A gradient check for every differentiable op, on random shapes with broadcasting and size-1
// axes, in float64. Inputs of ops with kinks (relu, abs) are kept away from the kink.
#include <doctest/doctest.h>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/kernels/elementwise.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::rand_uniform;
using kat::test::randn;

namespace {

using Vars = std::vector<Variable>;

void require_ok(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  const GradcheckResult r = gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

// A random shape of 1 to 3 axes with sizes 1 to 4, and a second shape that broadcasts against it
// (some axes set to 1, sometimes fewer leading axes).
std::pair<Shape, Shape> broadcast_pair(Rng& rng) {
  Shape a(1 + rng.below(3));
  for (auto& s : a) s = 1 + static_cast<std::int64_t>(rng.below(4));
  Shape b = a;
  for (auto& s : b) {
    if (rng.below(3) == 0) s = 1;
  }
  if (b.size() > 1 && rng.below(2) == 0) b.erase(b.begin());
  if (rng.below(2) == 0) std::swap(a, b);
  return {a, b};
}

// Values with |x| in [0.2, 1.5]: away from kinks and from zero.
Tensor away_from_zero(const Shape& shape, Rng& rng) {
  Tensor t = rand_uniform(shape, rng, 0.2, 1.5);
  double* p = t.data<double>();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    if (rng.below(2) == 0) p[i] = -p[i];
  }
  return t;
}

}  // namespace

TEST_CASE("gradcheck: binary ops with broadcasting") {
  Rng rng(100);
  for (int trial = 0; trial < 6; ++trial) {
    const auto [sa, sb] = broadcast_pair(rng);
    CAPTURE(to_string(sa));
    CAPTURE(to_string(sb));
    Tensor a = randn(sa, rng), b = randn(sb, rng);
    require_ok([](const Vars& v) { return add(v[0], v[1]); }, {a, b});
    require_ok([](const Vars& v) { return sub(v[0], v[1]); }, {a, b});
    require_ok([](const Vars& v) { return mul(v[0], v[1]); }, {a, b});
    require_ok([](const Vars& v) { return div(v[0], v[1]); }, {a, away_from_zero(sb, rng)});
  }
}

TEST_CASE("gradcheck: a binary op where one input needs no gradient") {
  Rng rng(101);
  Tensor c = randn({3, 4}, rng);
  require_ok([&](const Vars& v) { return mul(v[0], Variable(c.to(DType::f64))); }, {randn({3, 4}, rng)});
  require_ok([&](const Vars& v) { return div(Variable(c.to(DType::f64)), v[0]); }, {away_from_zero({4}, rng)});
}

TEST_CASE("gradcheck: unary ops") {
  Rng rng(102);
  for (int trial = 0; trial < 3; ++trial) {
    Shape s = broadcast_pair(rng).first;
    CAPTURE(to_string(s));
    Tensor x = randn(s, rng);
    Tensor xk = away_from_zero(s, rng);
    Tensor pos = rand_uniform(s, rng, 0.3, 2.0);
    require_ok([](const Vars& v) { return neg(v[0]); }, {x});
    require_ok([](const Vars& v) { return v[0] * 2.5 + 1.0; }, {x});
    require_ok([](const Vars& v) { return pow(v[0], 2.5); }, {pos});
    require_ok([](const Vars& v) { return exp(v[0]); }, {x});
    require_ok([](const Vars& v) { return log(v[0]); }, {pos});
    require_ok([](const Vars& v) { return sqrt(v[0]); }, {pos});
    require_ok([](const Vars& v) { return tanh(v[0]); }, {x});
    require_ok([](const Vars& v) { return relu(v[0]); }, {xk});
    require_ok([](const Vars& v) { return gelu(v[0]); }, {x});
    require_ok([](const Vars& v) { return elu(v[0], 0.7); }, {xk});
    require_ok([](const Vars& v) { return elu_plus_one(v[0]); }, {xk});
    require_ok([](const Vars& v) { return sigmoid(v[0]); }, {x});
    require_ok([](const Vars& v) { return sin(v[0]); }, {x});
    require_ok([](const Vars& v) { return cos(v[0]); }, {x});
  }
}

TEST_CASE("gradcheck: unary ops on permuted views, whose gradients take the view's layout") {
  Rng rng(109);
  const Tensor x = randn({3, 4, 5}, rng);
  require_ok([](const Vars& v) { return elu_plus_one(permute(v[0], {1, 0, 2})); }, {x});
  require_ok([](const Vars& v) { return exp(permute(v[0], {2, 0, 1})); }, {x});
  require_ok([](const Vars& v) { return tanh(permute(v[0], {0, 2, 1})) * 2.0; }, {x});
  // The output takes the view's layout when its last axis stays innermost, with the values of
  // the op on a contiguous copy; ops on operands permuted alike walk memory in order.
  const Variable heads = permute(Variable(x), {1, 0, 2});
  const Variable y = elu_plus_one(heads);
  CHECK(y.data().strides() == heads.data().strides());
  CHECK(max_abs_diff(y.data(), elu_plus_one(Variable(heads.data().contiguous())).data()) == 0.0);
  const Variable z = y * heads + y;
  const Variable yc(y.data().contiguous()), hc(heads.data().contiguous());
  CHECK(max_abs_diff(z.data(), (yc * hc + yc).data()) == 0.0);
  CHECK(exp(permute(Variable(x), {2, 0, 1})).data().is_contiguous());
}

TEST_CASE("gradcheck: matmul in its 2-D, folded and batched forms") {
  Rng rng(103);
  require_ok([](const Vars& v) { return matmul(v[0], v[1]); }, {randn({3, 4}, rng), randn({4, 2}, rng)});
  require_ok([](const Vars& v) { return matmul(v[0], v[1]); }, {randn({2, 3, 4}, rng), randn({4, 1}, rng)});
  require_ok([](const Vars& v) { return matmul(v[0], v[1]); }, {randn({2, 1, 3, 4}, rng), randn({3, 4, 2}, rng)});
  require_ok([](const Vars& v) { return matmul(v[0], v[1]); }, {randn({1, 4}, rng), randn({2, 4, 3}, rng)});
  // Transposed views go to BLAS as flags; the gradient must still be right.
  require_ok([](const Vars& v) { return matmul(transpose(v[0], 0, 1), transpose(v[1], -1, -2)); },
             {randn({4, 3}, rng), randn({2, 4}, rng)});
}

TEST_CASE("gradcheck: linear (x @ w + b), with and without a bias, from a strided input") {
  Rng rng(113);
  require_ok([](const Vars& v) { return linear(v[0], v[1], v[2]); },
             {randn({2, 3, 4}, rng), randn({4, 5}, rng), randn({5}, rng)});
  require_ok([](const Vars& v) { return linear(v[0], v[1], Variable()); }, {randn({3, 4}, rng), randn({4, 2}, rng)});
  require_ok([](const Vars& v) { return linear(transpose(v[0], 0, 1), v[1], v[2]); },
             {randn({4, 3}, rng), randn({4, 2}, rng), randn({2}, rng)});
  // One input into several products (projections of one x): each adds its gradient into the one
  // the others sent, through the input's own sum and alongside an elementwise path.
  require_ok(
      [](const Vars& v) {
        return (linear(v[0], v[1], v[2]) * linear(v[0], v[3], v[2]) + linear(v[0], v[1], Variable())) * 2.0;
      },
      {randn({3, 4}, rng), randn({4, 2}, rng), randn({2}, rng), randn({4, 2}, rng)});
  require_ok(
      [](const Vars& v) { return (linear(v[0], v[1], Variable()) + linear(exp(v[0]) + v[0], v[1], Variable())) * 2.0; },
      {randn({2, 3, 4}, rng), randn({4, 4}, rng)});
  // A single row: the product is a matrix-vector one onto the bias.
  require_ok([](const Vars& v) { return linear(v[0], v[1], v[2]); },
             {randn({1, 4}, rng), randn({4, 3}, rng), randn({3}, rng)});
}

TEST_CASE("linear: equals matmul plus the bias, and refuses shapes that do not fit") {
  Rng rng(114);
  const Variable x(randn({2, 3, 4}, rng)), w(randn({4, 5}, rng)), b(randn({5}, rng));
  CHECK(max_abs_diff(linear(x, w, b).data(), (matmul(x, w) + b).data()) < 1e-12);
  CHECK_THROWS_AS(linear(x, Variable(randn({3, 5}, rng)), b), Error);
  CHECK_THROWS_AS(linear(x, w, Variable(randn({4}, rng))), Error);
}

TEST_CASE("gradcheck: views and joins") {
  Rng rng(104);
  Tensor x = randn({2, 3, 4}, rng);
  require_ok([](const Vars& v) { return reshape(v[0], {4, -1}); }, {x});
  require_ok([](const Vars& v) { return reshape(transpose(v[0], 0, 2), {-1}); }, {x});
  require_ok([](const Vars& v) { return permute(v[0], {2, 0, 1}); }, {x});
  require_ok([](const Vars& v) { return slice(v[0], 2, 1, 3); }, {x});
  require_ok([](const Vars& v) { return slice(v[0], -1, -3, -1); }, {x});
  require_ok([](const Vars& v) { return expand(v[0], {3, 2, 4}); }, {randn({2, 1}, rng)});
  require_ok([](const Vars& v) { return squeeze(unsqueeze(v[0], 1), 1) * v[0]; }, {randn({3, 1}, rng)});
  require_ok([](const Vars& v) { return concat({v[0], v[1], v[0]}, 1); }, {randn({2, 3}, rng), randn({2, 1}, rng)});
}

TEST_CASE("gradcheck: sum and mean over axes") {
  Rng rng(105);
  Tensor x = randn({2, 3, 4}, rng);
  require_ok([](const Vars& v) { return sum(v[0]); }, {x});
  require_ok([](const Vars& v) { return mean(v[0]); }, {x});
  require_ok([](const Vars& v) { return sum(v[0], {1}); }, {x});
  require_ok([](const Vars& v) { return mean(v[0], {0, 2}, true); }, {x});
  require_ok([](const Vars& v) { return sum(v[0], {-1}, false); }, {randn({3, 1}, rng)});
}

TEST_CASE("gradcheck: softmax and log-softmax") {
  Rng rng(106);
  for (const Shape& s : {Shape{5}, Shape{3, 4}, Shape{2, 1, 6}, Shape{2, 3, 1}}) {
    require_ok([](const Vars& v) { return softmax(v[0]); }, {randn(s, rng)});
    require_ok([](const Vars& v) { return log_softmax(v[0]); }, {randn(s, rng)});
  }
}

TEST_CASE("gradcheck: cross-entropy with padding and label smoothing") {
  Rng rng(107);
  Tensor targets = Tensor::from_vector<std::int64_t>({1, 0, -100, 4, 2, 2}, {2, 3});
  for (double smoothing : {0.0, 0.1}) {
    CrossEntropyOptions opt;
    opt.label_smoothing = smoothing;
    require_ok([&](const Vars& v) { return cross_entropy(v[0], targets, opt); }, {randn({2, 3, 5}, rng)});
  }
  CrossEntropyOptions pad0;
  pad0.ignore_index = 0;
  Tensor padded = Tensor::from_vector<std::int64_t>({1, 0, 0, 4, 2, 0});
  require_ok([&](const Vars& v) { return cross_entropy(v[0], padded, pad0); }, {randn({6, 5}, rng)});
  CHECK_THROWS_AS(cross_entropy(Variable(randn({6, 5}, rng)), targets.reshape({6}), pad0), Error);
}

TEST_CASE("gradcheck: layer norm with and without affine") {
  Rng rng(108);
  Tensor x = randn({3, 2, 5}, rng);
  require_ok([](const Vars& v) { return layer_norm(v[0], v[1], v[2]); }, {x, randn({5}, rng), randn({5}, rng)});
  require_ok([](const Vars& v) { return layer_norm(v[0], Variable(), Variable()); }, {x});
  require_ok([](const Vars& v) { return layer_norm(v[0], v[1], Variable(), 1e-3); },
             {randn({4, 1}, rng), randn({1}, rng)});
  // Inside a residual block (x + f(norm(x))) and after one (norm(x) + x): the norm's gradient is
  // added into the one the residual sent, whichever arrives first (the last scaling makes that
  // gradient a tensor nothing else holds, as in a model, so that it can be added into).
  require_ok([](const Vars& v) { return (v[0] + exp(layer_norm(v[0], v[1], v[2])) * 0.5) * 2.0; },
             {x, randn({5}, rng), randn({5}, rng)});
  require_ok([](const Vars& v) { return (layer_norm(v[0], v[1], v[2]) * 3.0 + v[0]) * 2.0; },
             {x, randn({5}, rng), randn({5}, rng)});
}

TEST_CASE("gradcheck: embedding with repeated ids") {
  Rng rng(109);
  Tensor ids = Tensor::from_vector<std::int64_t>({3, 0, 3, 1, 3, 2}, {2, 3});
  require_ok([&](const Vars& v) { return embedding(v[0], ids); }, {randn({5, 4}, rng)});
}

TEST_CASE("gradcheck: dropout with a fixed mask") {
  Rng rng(110);
  require_ok(
      [](const Vars& v) {
        Rng r(9);  // the same mask on every evaluation
        return dropout(v[0], 0.3, r);
      },
      {randn({4, 6}, rng)});
}

TEST_CASE("gradcheck: relu_dropout with a fixed mask") {
  Rng rng(112);
  require_ok(
      [](const Vars& v) {
        Rng r(9);  // the same mask on every evaluation
        return relu_dropout(v[0], 0.3, r);
      },
      {away_from_zero({5, 7}, rng)});
}

TEST_CASE("gradcheck: dropout_add with a fixed mask") {
  Rng rng(113);
  require_ok(
      [](const Vars& v) {
        Rng r(11);  // the same mask on every evaluation
        return dropout_add(v[0], v[1], 0.3, r);
      },
      {randn({4, 9}, rng), randn({4, 9}, rng)});
}

TEST_CASE("gradcheck: a small network of several ops") {
  Rng rng(111);
  Tensor ids = Tensor::from_vector<std::int64_t>({0, 2, 1, 2});
  Tensor targets = Tensor::from_vector<std::int64_t>({1, 2, 0, 1});
  require_ok(
      [&](const Vars& v) {
        Variable h = embedding(v[0], ids);                                // (4, 3)
        h = layer_norm(h, v[1], Variable());                              // (4, 3)
        h = gelu(matmul(h, v[2]) + v[3]);                                 // (4, 3)
        return cross_entropy(matmul(h, transpose(v[0], 0, 1)), targets);  // tied output
      },
      {randn({3, 3}, rng), randn({3}, rng), randn({3, 3}, rng), randn({3}, rng)});
}

// ---- the checker itself ----

namespace {

// mul with its backward scaled by `factor`: 1.0 is correct, 1.01 is a 1% bug.
class ScaledMulNode final : public Node {
 public:
  Tensor a, b;
  double factor = 1.0;
  const char* name() const override { return "scaled_mul"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor ga = binary(BinaryOp::mul, g, b);
    Tensor gb = binary(BinaryOp::mul, g, a);
    return {unary(UnaryOp::scale, ga, factor), unary(UnaryOp::scale, gb, factor)};
  }
};

Variable scaled_mul(const Variable& a, const Variable& b, double factor) {
  Tensor out = binary(BinaryOp::mul, a.data(), b.data());
  auto node = std::make_shared<ScaledMulNode>();
  node->a = a.data();
  node->b = b.data();
  node->factor = factor;
  return attach(std::move(out), std::move(node), {&a, &b});
}

}  // namespace

TEST_CASE("gradcheck fails on a backward that is off by 1%") {
  Rng rng(112);
  for (int trial = 0; trial < 5; ++trial) {
    Tensor a = randn({3, 4}, rng), b = randn({3, 4}, rng);
    const GradcheckResult good = gradcheck([](const Vars& v) { return scaled_mul(v[0], v[1], 1.0); }, {a, b});
    CHECK(good.ok);
    const GradcheckResult bad = gradcheck([](const Vars& v) { return scaled_mul(v[0], v[1], 1.01); }, {a, b});
    CHECK_FALSE(bad.ok);
    CHECK(bad.message.find("analytic") != std::string::npos);
  }
}

TEST_CASE("a backward returning a gradient of the wrong shape is refused") {
  Rng rng(113);
  // A wrong broadcasting reduction: the engine itself refuses a gradient of the wrong shape.
  class BadBroadcastNode final : public Node {
   public:
    const char* name() const override { return "bad_broadcast"; }
    std::vector<Tensor> backward(const Tensor& g) override { return {g, g}; }  // b's grad not reduced
  };
  auto bad_add = [](const Vars& v) {
    Tensor out = binary(BinaryOp::add, v[0].data(), v[1].data());
    return attach(std::move(out), std::make_shared<BadBroadcastNode>(), {&v[0], &v[1]});
  };
  CHECK_THROWS_AS(gradcheck(bad_add, {randn({3, 4}, rng), randn({4}, rng)}), Error);
}
