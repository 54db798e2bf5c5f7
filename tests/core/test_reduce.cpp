#include <doctest/doctest.h>

#include "core/kernels/reduce.h"
#include "core/parallel.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;
using kat::test::unravel;

namespace {

// Naive reduction: visits every element and folds it into the output position.
Tensor naive(ReduceOp op, const Tensor& x, const std::vector<std::int64_t>& axes) {
  Shape kept = x.shape();
  for (auto a : axes) kept[a] = 1;
  Tensor out = Tensor::full(kept, op == ReduceOp::max ? -1e300 : 0.0, DType::f64);
  std::int64_t count = x.numel() / out.numel();
  double* po = out.data<double>();
  const Strides st = out.strides();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    auto idx = unravel(i, x.shape());
    std::int64_t o = 0;
    for (std::size_t d = 0; d < idx.size(); ++d) o += (kept[d] == 1 ? 0 : idx[d]) * st[d];
    const double v = x.at(idx);
    po[o] = op == ReduceOp::max ? std::max(po[o], v) : po[o] + v;
  }
  if (op == ReduceOp::mean) {
    for (std::int64_t i = 0; i < out.numel(); ++i) po[i] /= static_cast<double>(count);
  }
  return out;
}

}  // namespace

TEST_CASE("sum, mean and max over any axes") {
  Rng rng(10);
  Tensor x = randn({3, 4, 5, 2}, rng);
  const std::vector<std::vector<std::int64_t>> axis_sets = {{0},    {1},    {3},    {0, 1},
                                                            {1, 2}, {0, 2}, {0, 3}, {0, 1, 2, 3}};
  for (ReduceOp op : {ReduceOp::sum, ReduceOp::mean, ReduceOp::max}) {
    for (const auto& axes : axis_sets) {
      Tensor got = reduce(op, x, axes, true);
      Tensor want = naive(op, x, axes);
      REQUIRE(got.shape() == want.shape());
      CHECK(max_abs_diff(got, want) < 1e-12);
    }
  }
  CHECK(sum(x).dim() == 0);
  CHECK(sum(x, {-1}).shape() == Shape{3, 4, 5});
  CHECK(mean(x.transpose(0, 2), {0}).shape() == Shape{4, 3, 2});
}

TEST_CASE("reductions over strided views") {
  Rng rng(11);
  Tensor x = randn({6, 7}, rng);
  Tensor t = x.transpose(0, 1);  // (7, 6)
  Tensor s = sum(t, {1});
  for (int i = 0; i < 7; ++i) {
    double acc = 0;
    for (int j = 0; j < 6; ++j) acc += x.at({j, i});
    CHECK(s.at({i}) == doctest::Approx(acc));
  }
}

TEST_CASE("long float32 sums are accurate and thread-independent") {
  Rng rng(12);
  Tensor x = Tensor::full({100000, 3}, 0.1, DType::f32);
  const int saved = num_threads();
  set_num_threads(1);
  Tensor one = sum(x, {0});
  set_num_threads(2);
  Tensor two = sum(x, {0});
  set_num_threads(saved);
  CHECK(max_abs_diff(one, two) == 0.0);
  CHECK(one.at({0}) == doctest::Approx(10000.0).epsilon(1e-6));
}

TEST_CASE("sum_to reverses broadcasting") {
  Rng rng(13);
  Tensor g = randn({4, 3, 5}, rng);
  Tensor s = sum_to(g, {3, 1});
  CHECK(s.shape() == Shape{3, 1});
  CHECK(max_abs_diff(s, naive(ReduceOp::sum, g, {0, 2}).reshape({3, 1})) < 1e-12);
  CHECK(sum_to(g, {5}).shape() == Shape{5});
  CHECK(sum_to(g, {}).item() == doctest::Approx(sum(g).item()));
  CHECK(sum_to(g, g.shape()).storage() == g.storage());
  CHECK_THROWS_AS(sum_to(g, {2, 5}), Error);
}

TEST_CASE("argmax and reduction errors") {
  Tensor x = Tensor::from_vector<double>({1, 5, 5, -1, 0, 2}, {2, 3});
  CHECK(argmax(x, 1).to_vector<std::int64_t>() == std::vector<std::int64_t>{1, 2});
  CHECK(argmax(x, 0).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 0, 0});
  CHECK_THROWS_AS(sum(x, {2}), Error);
  CHECK_THROWS_AS(sum(Tensor::zeros({0, 3}), {0}), Error);
}
