// Learning-rate schedules against their formulas.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "optim/schedule.h"

using namespace kat;

TEST_CASE("constant: linear warmup, then the rate") {
  auto s = make_schedule({.type = "constant", .warmup = 4});
  CHECK(s->lr(1, 0.5) == doctest::Approx(0.125));
  CHECK(s->lr(2, 0.5) == doctest::Approx(0.25));
  CHECK(s->lr(4, 0.5) == doctest::Approx(0.5));
  CHECK(s->lr(1000, 0.5) == doctest::Approx(0.5));
  auto flat = make_schedule({.type = "constant"});
  CHECK(flat->lr(1, 0.5) == 0.5);
}

TEST_CASE("inverse_sqrt: lr * min(step / warmup, sqrt(warmup / step)), the Transformer schedule") {
  const double lr = 1e-3;
  auto s = make_schedule({.type = "inverse_sqrt", .warmup = 4000});
  CHECK(s->lr(1000, lr) == doctest::Approx(lr / 4));
  CHECK(s->lr(4000, lr) == doctest::Approx(lr));
  CHECK(s->lr(16000, lr) == doctest::Approx(lr / 2));
  CHECK(s->lr(64000, lr) == doctest::Approx(lr / 4));
  // Vaswani et al.: d_model^-0.5 * min(step^-0.5, step * warmup^-1.5) is the same curve scaled.
  const double d = 512, w = 4000;
  for (std::int64_t step : {10, 3999, 4001, 90000}) {
    const double vaswani = std::pow(d, -0.5) * std::min(std::pow(step, -0.5), step * std::pow(w, -1.5));
    const double peak = std::pow(d, -0.5) * std::pow(w, -0.5);
    CHECK(make_schedule({.type = "inverse_sqrt", .warmup = 4000})->lr(step, peak) ==
          doctest::Approx(vaswani).epsilon(1e-12));
  }
  CHECK_THROWS_WITH_AS(make_schedule({.type = "inverse_sqrt", .warmup = 0}), doctest::Contains("warmup must be >= 1"),
                       Error);
}

TEST_CASE("cosine: warmup, then half a cosine from lr to min_lr at total_steps") {
  auto s = make_schedule({.type = "cosine", .warmup = 10, .total_steps = 110, .min_lr = 0.1});
  CHECK(s->lr(5, 1.0) == doctest::Approx(0.5));
  CHECK(s->lr(10, 1.0) == doctest::Approx(1.0));
  CHECK(s->lr(60, 1.0) == doctest::Approx(0.55));  // halfway: (lr + min_lr) / 2
  const double p = 25.0 / 100.0;
  CHECK(s->lr(35, 1.0) == doctest::Approx(0.1 + 0.9 * 0.5 * (1 + std::cos(std::numbers::pi * p))));
  CHECK(s->lr(110, 1.0) == doctest::Approx(0.1));
  CHECK(s->lr(500, 1.0) == doctest::Approx(0.1));  // past the end: stays at min_lr
}

TEST_CASE("linear: warmup, then a straight line from lr to min_lr at total_steps") {
  auto s = make_schedule({.type = "linear", .warmup = 0, .total_steps = 100, .min_lr = 0.0});
  CHECK(s->lr(0, 2.0) == doctest::Approx(2.0));
  CHECK(s->lr(25, 2.0) == doctest::Approx(1.5));
  CHECK(s->lr(50, 2.0) == doctest::Approx(1.0));
  CHECK(s->lr(100, 2.0) == doctest::Approx(0.0));
  auto w = make_schedule({.type = "linear", .warmup = 20, .total_steps = 120, .min_lr = 1.0});
  CHECK(w->lr(10, 2.0) == doctest::Approx(1.0));
  CHECK(w->lr(70, 2.0) == doctest::Approx(1.5));
}

TEST_CASE("schedules refuse inconsistent options, naming the field") {
  CHECK_THROWS_WITH_AS(make_schedule({.type = "cosine", .warmup = 10, .total_steps = 10}),
                       doctest::Contains("total_steps (10) must be greater than warmup (10)"), Error);
  CHECK_THROWS_WITH_AS(make_schedule({.type = "cosine", .total_steps = 10, .min_lr = -2.0}),
                       doctest::Contains("min_lr must be >= 0, got -2"), Error);
  CHECK_THROWS_WITH_AS(make_schedule({.type = "step"}), doctest::Contains("unknown type 'step'"), Error);
}
