#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "core/rng.h"

using namespace kat;

TEST_CASE("same seed, same stream, and different seeds differ") {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next_u64();
    CHECK(x == b.next_u64());
    CHECK(x != c.next_u64());
  }
}

TEST_CASE("state saved and restored replays the stream") {
  Rng a(7);
  for (int i = 0; i < 10; ++i) a.normal();
  const Rng::State s = a.state();
  std::vector<double> first;
  for (int i = 0; i < 20; ++i) first.push_back(a.normal());
  Rng b(999);
  b.set_state(s);
  for (int i = 0; i < 20; ++i) CHECK(b.normal() == first[i]);
  CHECK_THROWS_AS(b.set_state({0, 0, 0, 0}), Error);
}

TEST_CASE("split streams are independent of each other and of the parent") {
  Rng parent(5);
  Rng child = parent.split();
  Rng child2 = parent.split();
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    seen.insert(parent.next_u64());
    seen.insert(child.next_u64());
    seen.insert(child2.next_u64());
  }
  CHECK(seen.size() == 3000);
}

TEST_CASE("uniform and normal have the right moments") {
  Rng r(11);
  const int n = 200000;
  double su = 0, sn = 0, sn2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = r.uniform();
    CHECK_UNARY(u >= 0.0);
    CHECK_UNARY(u < 1.0);
    su += u;
    const double z = r.normal();
    sn += z;
    sn2 += z * z;
  }
  CHECK(su / n == doctest::Approx(0.5).epsilon(0.01));
  CHECK(std::abs(sn / n) < 0.01);
  CHECK(sn2 / n == doctest::Approx(1.0).epsilon(0.02));
  for (int i = 0; i < 1000; ++i) CHECK(r.below(7) < 7);
}

TEST_CASE("fills depend on the shape and generator, not the layout") {
  Rng a(3), b(3);
  Tensor x = Tensor::empty({4, 5}, DType::f32);
  fill_normal(x, a, 0.0, 1.0);
  Tensor y = Tensor::empty({5, 4}, DType::f64).transpose(0, 1);  // (4, 5) column-major
  fill_normal(y, b, 0.0, 1.0);
  CHECK(max_abs_diff(x.to(DType::f64), y) < 1e-6);
}

TEST_CASE("counter_uniform is a fixed function of key and counter") {
  CHECK(counter_uniform(1, 2) == counter_uniform(1, 2));
  CHECK(counter_uniform(1, 2) != counter_uniform(1, 3));
  CHECK(counter_uniform(1, 2) != counter_uniform(2, 2));
  double s = 0;
  for (int i = 0; i < 100000; ++i) s += counter_uniform(77, static_cast<std::uint64_t>(i));
  CHECK(s / 100000 == doctest::Approx(0.5).epsilon(0.01));
}
