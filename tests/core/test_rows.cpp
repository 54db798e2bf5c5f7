// Row kernels: softmax, log-softmax, layer norm, cross-entropy, gather/scatter, concat.
#include <doctest/doctest.h>

#include <cmath>

#include "core/kernels/index.h"
#include "core/kernels/loss.h"
#include "core/kernels/norm.h"
#include "core/kernels/softmax.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

TEST_CASE("softmax and log-softmax match the definition and stay finite") {
  Rng rng(30);
  Tensor x = randn({4, 9}, rng);
  x.data<double>()[0] = 800.0;  // would overflow exp without the max subtraction
  Tensor y = softmax(x);
  Tensor ly = log_softmax(x);
  for (int r = 0; r < 4; ++r) {
    double m = -1e300, s = 0;
    for (int c = 0; c < 9; ++c) m = std::max(m, x.at({r, c}));
    for (int c = 0; c < 9; ++c) s += std::exp(x.at({r, c}) - m);
    for (int c = 0; c < 9; ++c) {
      CHECK(y.at({r, c}) == doctest::Approx(std::exp(x.at({r, c}) - m) / s).epsilon(1e-12));
      CHECK(ly.at({r, c}) == doctest::Approx(x.at({r, c}) - m - std::log(s)).epsilon(1e-12));
    }
  }
  CHECK_THROWS_AS(softmax(Tensor::zeros({3, 0})), Error);
}

TEST_CASE("float32 softmax (vectorized exp) agrees with float64") {
  Rng rng(31);
  Tensor x = randn({32, 257}, rng);
  fill_uniform(x, rng, -80.0, 80.0);
  Tensor y64 = softmax(x);
  Tensor y32 = softmax(x.to(DType::f32));
  CHECK(max_abs_diff(y32.to(DType::f64), y64) < 2e-6);
  Tensor l64 = log_softmax(x);
  Tensor l32 = log_softmax(x.to(DType::f32));
  CHECK(max_abs_diff(l32.to(DType::f64), l64) < 1e-4);
}

TEST_CASE("softmax backward kernels match the Jacobian product") {
  Rng rng(32);
  Tensor x = randn({3, 6}, rng);
  Tensor g = randn({3, 6}, rng);
  Tensor y = softmax(x);
  Tensor dx = Tensor::empty({3, 6}, DType::f64);
  softmax_backward(g, y, dx);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 6; ++i) {
      double want = 0;  // sum_j g_j * dy_j/dx_i, dy_j/dx_i = y_j (delta_ij - y_i)
      for (int j = 0; j < 6; ++j) want += g.at({r, j}) * y.at({r, j}) * ((i == j) - y.at({r, i}));
      CHECK(dx.at({r, i}) == doctest::Approx(want).epsilon(1e-12));
    }
  Tensor ly = log_softmax(x);
  log_softmax_backward(g, ly, dx);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 6; ++i) {
      double want = 0;  // d log y_j / dx_i = delta_ij - y_i
      for (int j = 0; j < 6; ++j) want += g.at({r, j}) * ((i == j) - y.at({r, i}));
      CHECK(dx.at({r, i}) == doctest::Approx(want).epsilon(1e-12));
    }
}

TEST_CASE("layer norm normalizes each row and applies the affine") {
  Rng rng(33);
  Tensor x = randn({5, 8}, rng);
  Tensor w = randn({8}, rng);
  Tensor b = randn({8}, rng);
  Tensor y, mean, rstd;
  layer_norm(x, w, b, 1e-5, y, mean, rstd);
  for (int r = 0; r < 5; ++r) {
    double mu = 0, var = 0;
    for (int c = 0; c < 8; ++c) mu += x.at({r, c}) / 8;
    for (int c = 0; c < 8; ++c) var += (x.at({r, c}) - mu) * (x.at({r, c}) - mu) / 8;
    CHECK(mean.at({r}) == doctest::Approx(mu));
    CHECK(rstd.at({r}) == doctest::Approx(1 / std::sqrt(var + 1e-5)));
    for (int c = 0; c < 8; ++c) {
      CHECK(y.at({r, c}) == doctest::Approx((x.at({r, c}) - mu) / std::sqrt(var + 1e-5) * w.at({c}) + b.at({c})));
    }
  }
  CHECK_THROWS_AS(layer_norm(x, Tensor::ones({7}, DType::f64), b, 1e-5, y, mean, rstd), Error);
  CHECK_THROWS_AS(layer_norm(x, w, b, 0.0, y, mean, rstd), Error);
}

TEST_CASE("cross-entropy with ignore index and label smoothing") {
  Rng rng(34);
  Tensor logits = randn({4, 5}, rng);
  Tensor targets = Tensor::from_vector<std::int64_t>({2, -100, 4, 0});
  CrossEntropyOptions opt;
  opt.label_smoothing = 0.1;
  Tensor lse;
  std::int64_t counted = 0;
  const double loss = cross_entropy(logits, targets, opt, lse, counted);
  CHECK(counted == 3);
  Tensor lp = log_softmax(logits);
  double want = 0;
  for (int r : {0, 2, 3}) {
    const auto t = static_cast<std::int64_t>(targets.at({r}));
    double smooth = 0;
    for (int c = 0; c < 5; ++c) smooth -= lp.at({r, c}) / 5;
    want += 0.9 * -lp.at({r, t}) + 0.1 * smooth;
  }
  CHECK(loss == doctest::Approx(want / 3).epsilon(1e-12));

  Tensor bad = Tensor::from_vector<std::int64_t>({2, 5, 0, 1});
  try {
    cross_entropy(logits, bad, opt, lse, counted);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("target 5 at row 1") != std::string::npos);
  }
  CHECK_THROWS_AS(cross_entropy(logits, Tensor::zeros({3}, DType::i64), opt, lse, counted), Error);
}

TEST_CASE("gather and scatter rows") {
  Tensor table = Tensor::from_vector<double>({0, 1, 10, 11, 20, 21}, {3, 2});
  Tensor ids = Tensor::from_vector<std::int64_t>({2, 0, 2, 1}, {2, 2});
  Tensor out = gather_rows(table, ids);
  CHECK(out.shape() == Shape{2, 2, 2});
  CHECK(out.to_vector<double>() == std::vector<double>{20, 21, 0, 1, 20, 21, 10, 11});
  Tensor grad = Tensor::zeros({3, 2}, DType::f64);
  scatter_add_rows(Tensor::ones({2, 2, 2}, DType::f64), ids, grad);
  CHECK(grad.to_vector<double>() == std::vector<double>{1, 1, 1, 1, 2, 2});
  try {
    gather_rows(table, Tensor::from_vector<std::int64_t>({1, 3}), "embedding");
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("embedding: id 3 at position 1") != std::string::npos);
  }
  CHECK_THROWS_AS(gather_rows(table, Tensor::from_vector<std::int64_t>({-1})), Error);
}

TEST_CASE("concat joins along any axis") {
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector<double>({5, 6}, {2, 1});
  Tensor c = concat({a, b}, 1);
  CHECK(c.to_vector<double>() == std::vector<double>{1, 2, 5, 3, 4, 6});
  CHECK(concat({a, a.transpose(0, 1)}, 0).to_vector<double>() == std::vector<double>{1, 2, 3, 4, 1, 3, 2, 4});
  CHECK_THROWS_AS(concat({a, b}, 0), Error);
  CHECK_THROWS_AS(concat({}, 0), Error);
}
