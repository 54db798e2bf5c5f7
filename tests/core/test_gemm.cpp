#include <doctest/doctest.h>

#include <tuple>

#include "core/kernels/elementwise.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

namespace {

// c[i, j] = sum_k a[i, k] b[k, j] for 2-D tensors, by the definition.
Tensor naive_mm(const Tensor& a, const Tensor& b) {
  Tensor c = Tensor::zeros({a.size(0), b.size(1)}, DType::f64);
  for (std::int64_t i = 0; i < a.size(0); ++i)
    for (std::int64_t j = 0; j < b.size(1); ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < a.size(1); ++k) s += a.at({i, k}) * b.at({k, j});
      c.data<double>()[i * b.size(1) + j] = s;
    }
  return c;
}

}  // namespace

TEST_CASE("gemm honours transpose flags and transposed views alike") {
  Rng rng(20);
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor a = randn({5, 7}, rng, dt);
    Tensor b = randn({7, 3}, rng, dt);
    Tensor want = naive_mm(a, b);
    const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
    Tensor c = Tensor::empty({5, 3}, dt);
    gemm(a, b, c);
    CHECK(max_abs_diff(c, want) < tol);
    // The same product from stored transposes, through the flags.
    Tensor at = a.transpose(0, 1).contiguous();
    Tensor bt = b.transpose(0, 1).contiguous();
    gemm(at, bt, c, true, true);
    CHECK(max_abs_diff(c, want) < tol);
    // And through transposed views without flags.
    gemm(at.transpose(0, 1), bt.transpose(0, 1), c);
    CHECK(max_abs_diff(c, want) < tol);
    // A sliced view with a leading dimension larger than its width.
    Tensor wide = randn({5, 10}, rng, dt);
    Tensor part = wide.slice(1, 2, 9);
    gemm(part, b, c);
    CHECK(max_abs_diff(c, naive_mm(part, b)) < tol);
  }
}

TEST_CASE("matrix-vector products (one row or one column) in every layout, with alpha and beta") {
  // These take the GEMV path; every combination of transpose flag and stored layout must agree.
  Rng rng(25);
  for (DType dt : {DType::f32, DType::f64}) {
    const double tol = dt == DType::f32 ? 1e-5 : 1e-12;
    for (auto [m, k, n] : {std::tuple{1, 6, 4}, std::tuple{5, 6, 1}, std::tuple{1, 3, 1}}) {
      CAPTURE(m);
      CAPTURE(n);
      const Tensor a = randn({m, k}, rng, dt), b = randn({k, n}, rng, dt);
      const Tensor want = naive_mm(a, b);
      const Tensor at = a.transpose(0, 1).contiguous(), bt = b.transpose(0, 1).contiguous();
      // Strided views: every other column of a wider tensor.
      Tensor a_wide = randn({m, 2 * k}, rng, dt), b_wide = randn({k, 2 * n}, rng, dt);
      Tensor a_str = a_wide.slice(1, 0, 2 * k).view({m, k, 2}).select(2, 0);
      a_str.copy_(a);
      Tensor b_str = b_wide.view({k, n, 2}).select(2, 1);
      b_str.copy_(b);
      for (int variant = 0; variant < 4; ++variant) {
        CAPTURE(variant);
        Tensor c = Tensor::ones({m, n}, dt);
        if (variant == 0) gemm(a, b, c, false, false, 1.0, 0.0);
        if (variant == 1) gemm(at, bt, c, true, true, 1.0, 0.0);
        if (variant == 2) gemm(at.transpose(0, 1), bt.transpose(0, 1), c, false, false, 1.0, 0.0);
        if (variant == 3) gemm(a_str, b_str, c, false, false, 1.0, 0.0);
        CHECK(max_abs_diff(c, want.to(dt)) < tol);
      }
      Tensor c = Tensor::ones({m, n}, dt);
      gemm(a, b, c, false, false, 2.0, 0.5);
      CHECK(max_abs_diff(c, binary(BinaryOp::add, unary(UnaryOp::scale, want.to(dt), 2.0),
                                   Tensor::full({m, n}, 0.5, dt))) < tol);
    }
  }
}

TEST_CASE("a single large product split over threads equals the one-thread result") {
  Rng rng(26);
  const int saved = num_threads();
  // Split by rows, by columns, by blocks of a long inner dimension (partial products added), and
  // matrix-vector products (from 64 Ki elements of the matrix; one row times a matrix by blocks of
  // its rows, whose partial sums are added).
  for (auto [m, k, n] :
       {std::tuple{300, 200, 150}, std::tuple{40, 300, 500}, std::tuple{1, 1024, 1024}, std::tuple{1024, 1024, 1},
        std::tuple{1, 257, 256}, std::tuple{1, 1024, 256}, std::tuple{64, 600, 40}}) {
    CAPTURE(m);
    CAPTURE(n);
    const Tensor a = randn({m, k}, rng, DType::f32), b = randn({k, n}, rng, DType::f32);
    const Tensor at = a.transpose(0, 1).contiguous(), bt = b.transpose(0, 1).contiguous();
    Tensor one = Tensor::empty({m, n}), two = Tensor::empty({m, n}), two_t = Tensor::empty({m, n});
    set_num_threads(1);
    gemm(a, b, one);
    set_num_threads(2);
    gemm(a, b, two);
    gemm(at, bt, two_t, true, true);
    CHECK(max_abs_diff(one, two) < 1e-4);
    CHECK(max_abs_diff(one, two_t) < 1e-4);
    CHECK(max_abs_diff(one.to(DType::f64), naive_mm(a.to(DType::f64), b.to(DType::f64))) < 1e-3);
    // alpha and beta: c = 0.5 a b + 2 c on both thread counts.
    Tensor c1 = Tensor::full({m, n}, 3.0), c2 = Tensor::full({m, n}, 3.0);
    set_num_threads(1);
    gemm(a, b, c1, false, false, 0.5, 2.0);
    set_num_threads(2);
    gemm(a, b, c2, false, false, 0.5, 2.0);
    CHECK(max_abs_diff(c1, c2) < 1e-4);
    CHECK(max_abs_diff(c1, binary(BinaryOp::add, unary(UnaryOp::scale, one, 0.5), Tensor::full({m, n}, 6.0))) < 1e-4);
  }
  set_num_threads(saved);
}

TEST_CASE("gemm alpha and beta accumulate into the output") {
  Rng rng(21);
  Tensor a = randn({4, 6}, rng);
  Tensor b = randn({6, 2}, rng);
  Tensor c = Tensor::ones({4, 2}, DType::f64);
  gemm(a, b, c, false, false, 2.0, 0.5);
  Tensor want = naive_mm(a, b);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) CHECK(c.at({i, j}) == doctest::Approx(2.0 * want.at({i, j}) + 0.5));
}

TEST_CASE("batched matmul broadcasts batch axes") {
  Rng rng(22);
  Tensor a = randn({3, 1, 4, 5}, rng);
  Tensor b = randn({2, 5, 6}, rng);
  Tensor c = matmul(a, b);
  REQUIRE(c.shape() == Shape{3, 2, 4, 6});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 2; ++j) {
      Tensor want = naive_mm(a.select(0, i).select(0, 0), b.select(0, j));
      CHECK(max_abs_diff(c.select(0, i).select(0, j), want) < 1e-12);
    }
}

TEST_CASE("many small products give the same result on one or two threads") {
  Rng rng(23);
  Tensor a = randn({64, 16, 8}, rng, DType::f32);
  Tensor b = randn({64, 8, 16}, rng, DType::f32).transpose(1, 2);  // (64, 16, 8) stored transposed
  const int saved = num_threads();
  set_num_threads(1);
  Tensor one = Tensor::empty({64, 16, 16}, DType::f32);
  bmm(a, b, one, false, true);
  set_num_threads(2);
  Tensor two = Tensor::empty({64, 16, 16}, DType::f32);
  bmm(a, b, two, false, true);
  set_num_threads(saved);
  CHECK(max_abs_diff(one, two) == 0.0);
  CHECK(max_abs_diff(one.select(0, 7), naive_mm(a.select(0, 7), b.select(0, 7).transpose(0, 1))) < 1e-4);
}

TEST_CASE("matmul folds the rows of an N-D left operand against a matrix") {
  Rng rng(24);
  Tensor a = randn({2, 3, 4}, rng);
  Tensor w = randn({4, 5}, rng);
  Tensor c = matmul(a, w);
  REQUIRE(c.shape() == Shape{2, 3, 5});
  CHECK(max_abs_diff(c.reshape({6, 5}), naive_mm(a.reshape({6, 4}), w)) < 1e-12);
  CHECK(max_abs_diff(matmul(a.transpose(0, 1), w).transpose(0, 1), c) < 1e-12);
}

TEST_CASE("matmul errors name the shapes") {
  Tensor a = Tensor::zeros({3, 4});
  try {
    (void)matmul(a, Tensor::zeros({5, 2}));
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("matmul") != std::string::npos);
    CHECK(m.find("(3, 4)") != std::string::npos);
    CHECK(m.find("(5, 2)") != std::string::npos);
  }
  CHECK_THROWS_AS(matmul(a, Tensor::zeros({4})), Error);
  CHECK_THROWS_AS(matmul(Tensor::zeros({0, 4}), Tensor::zeros({4, 2})), Error);
  CHECK_THROWS_AS(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 2})), Error);
  Tensor c = Tensor::empty({3, 3});
  CHECK_THROWS_AS(gemm(a, Tensor::zeros({4, 2}), c), Error);
  CHECK_THROWS_AS(gemm(a, Tensor::zeros({4, 2}, DType::f64), c), Error);
}
