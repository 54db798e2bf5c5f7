#include <doctest/doctest.h>

#include <cmath>

#include "core/kernels/elementwise.h"
#include "core/parallel.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::broadcast_at;
using kat::test::randn;
using kat::test::unravel;

namespace {

double reference(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::add: return a + b;
    case BinaryOp::sub: return a - b;
    case BinaryOp::mul: return a * b;
    case BinaryOp::div: return a / b;
    case BinaryOp::maximum: return std::max(a, b);
    case BinaryOp::minimum: return std::min(a, b);
  }
  return 0;
}

}  // namespace

TEST_CASE("binary ops broadcast like NumPy") {
  Rng rng(1);
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{4, 3}, {4, 3}}, {{4, 3}, {3}},          {{4, 1}, {1, 5}}, {{2, 1, 3}, {4, 1}},
      {{}, {2, 3}},     {{3, 1, 1}, {1, 2, 2}}, {{1}, {7}},       {{5, 1, 6}, {5, 4, 6}},
  };
  for (BinaryOp op :
       {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div, BinaryOp::maximum, BinaryOp::minimum}) {
    for (const auto& [sa, sb] : cases) {
      Tensor a = randn(sa, rng);
      Tensor b = randn(sb, rng);
      Tensor out = binary(op, a, b);
      const Shape expect = broadcast_shapes(sa, sb, "test");
      REQUIRE(out.shape() == expect);
      for (std::int64_t i = 0; i < out.numel(); ++i) {
        const auto idx = unravel(i, expect);
        CHECK(out.at(idx) == doctest::Approx(reference(op, broadcast_at(a, idx), broadcast_at(b, idx))));
      }
    }
  }
}

TEST_CASE("binary ops read strided and transposed inputs") {
  Rng rng(2);
  Tensor a = randn({6, 5}, rng);
  Tensor b = randn({5, 6}, rng).transpose(0, 1);  // (6, 5), column-major
  Tensor out = binary(BinaryOp::mul, a.slice(0, 1, 4), b.slice(0, 1, 4));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) CHECK(out.at({i, j}) == doctest::Approx(a.at({i + 1, j}) * b.at({i + 1, j})));
}

TEST_CASE("binary ops refuse mismatched shapes and types") {
  Tensor a = Tensor::zeros({2, 3});
  CHECK_THROWS_AS(binary(BinaryOp::add, a, Tensor::zeros({4})), Error);
  CHECK_THROWS_AS(binary(BinaryOp::add, a, Tensor::zeros({2, 3}, DType::f64)), Error);
  CHECK_THROWS_AS(binary(BinaryOp::add, Tensor::zeros({2}, DType::i64), Tensor::zeros({2}, DType::i64)), Error);
  try {
    binary(BinaryOp::mul, a, Tensor::zeros({4, 3}));
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("mul") != std::string::npos);
    CHECK(m.find("(2, 3)") != std::string::npos);
    CHECK(m.find("(4, 3)") != std::string::npos);
  }
}

TEST_CASE("unary ops match the scalar math") {
  Rng rng(3);
  Tensor x = randn({3, 7}, rng);
  Tensor pos = unary(UnaryOp::add_scalar, unary(UnaryOp::abs, x), 0.1);
  auto check = [&](UnaryOp op, const Tensor& in, auto f, double alpha = 0.0) {
    Tensor y = unary(op, in, alpha);
    for (std::int64_t i = 0; i < in.numel(); ++i) {
      const auto idx = unravel(i, in.shape());
      CHECK(y.at(idx) == doctest::Approx(f(in.at(idx))).epsilon(1e-12));
    }
  };
  check(UnaryOp::neg, x, [](double v) { return -v; });
  check(UnaryOp::exp, x, [](double v) { return std::exp(v); });
  check(UnaryOp::log, pos, [](double v) { return std::log(v); });
  check(UnaryOp::sqrt, pos, [](double v) { return std::sqrt(v); });
  check(UnaryOp::rsqrt, pos, [](double v) { return 1 / std::sqrt(v); });
  check(UnaryOp::tanh, x, [](double v) { return std::tanh(v); });
  check(UnaryOp::relu, x, [](double v) { return v > 0 ? v : 0; });
  check(UnaryOp::gelu, x, [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
  check(
      UnaryOp::elu, x, [](double v) { return v > 0 ? v : 0.5 * (std::exp(v) - 1); }, 0.5);
  check(UnaryOp::elu1, x, [](double v) { return v > 0 ? v + 1 : std::exp(v); });
  check(UnaryOp::sigmoid, x, [](double v) { return 1 / (1 + std::exp(-v)); });
  check(UnaryOp::sin, x, [](double v) { return std::sin(v); });
  check(UnaryOp::cos, x, [](double v) { return std::cos(v); });
  check(UnaryOp::square, x, [](double v) { return v * v; });
  check(
      UnaryOp::scale, x, [](double v) { return 3 * v; }, 3.0);
  check(
      UnaryOp::pow_scalar, pos, [](double v) { return std::pow(v, 1.5); }, 1.5);
}

TEST_CASE("float32 and float64 kernels agree") {
  Rng rng(4);
  Tensor x = randn({64, 33}, rng);
  Tensor y64 = unary(UnaryOp::gelu, x);
  Tensor y32 = unary(UnaryOp::gelu, x.to(DType::f32));
  CHECK(max_abs_diff(y32.to(DType::f64), y64) < 1e-6);
}

TEST_CASE("add_scaled_ accumulates with broadcasting") {
  Tensor acc = Tensor::ones({2, 3}, DType::f64);
  add_scaled_(acc, Tensor::from_vector<double>({1, 2, 3}), 2.0);
  CHECK(acc.to_vector<double>() == std::vector<double>{3, 5, 7, 3, 5, 7});
  CHECK_THROWS_AS(add_scaled_(acc, Tensor::zeros({4}, DType::f64)), Error);
}

TEST_CASE("large elementwise results do not depend on the thread count") {
  Rng rng(5);
  Tensor a = randn({1 << 18}, rng, DType::f32);
  Tensor b = randn({1 << 18}, rng, DType::f32);
  const int saved = num_threads();
  set_num_threads(1);
  Tensor one = binary(BinaryOp::mul, a, b);
  set_num_threads(2);
  Tensor two = binary(BinaryOp::mul, a, b);
  set_num_threads(saved);
  CHECK(max_abs_diff(one, two) == 0.0);
}

TEST_CASE("float32 exp: within 2e-7 of float64 on its range, exactly 0 where e^x would be subnormal") {
  Tensor x = Tensor::empty({9});
  const float in[9] = {-1e30f, -300.0f, -88.0f, -87.4f, -87.0f, -50.0f, -1.0f, 0.0f, 80.0f};
  for (int i = 0; i < 9; ++i) x.data<float>()[i] = in[i];
  const Tensor y = unary(UnaryOp::exp, x);
  for (int i = 0; i < 9; ++i) {
    CAPTURE(in[i]);
    const float got = y.data<float>()[i];
    if (in[i] < -87.3f) {
      CHECK(got == 0.0f);  // not a tiny positive number: products that read it stay fast and exact
    } else {
      CHECK(std::fpclassify(got) == FP_NORMAL);
      CHECK(got == doctest::Approx(std::exp(static_cast<double>(in[i]))).epsilon(2e-7));
    }
  }
}
