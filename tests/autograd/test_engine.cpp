#include <doctest/doctest.h>

#include "core/parallel.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/reduce.h"
#include "core/storage.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

TEST_CASE("gradients of a reused input accumulate along every path") {
  Variable x(Tensor::from_vector<double>({1.0, -2.0, 3.0}), true);
  Variable y = sum(x * x + x * 3.0 + exp(x) * x);  // d/dx = 2x + 3 + e^x (1 + x)
  y.backward();
  for (int i = 0; i < 3; ++i) {
    const double v = x.data().at({i});
    CHECK(x.grad().at({i}) == doctest::Approx(2 * v + 3 + std::exp(v) * (1 + v)));
  }
}

TEST_CASE("gradients summed in place: a broadcast gradient and a saved tensor are left alone") {
  // sum's gradient is a broadcast view (every element the same memory): the first sum into it must
  // make a new tensor; later ones may add in place, but never into a tensor a node still holds.
  Variable x(Tensor::from_vector<double>({0.5, -1.0, 2.0, 0.25}, {2, 2}), true);
  const Variable e = exp(x);                        // e saves its output for its gradient
  Variable y = sum(x) + sum(x * 3.0) + sum(e * e);  // d/dx = 1 + 3 + 2 e^(2x)
  y.backward();
  for (std::int64_t i = 0; i < 2; ++i) {
    for (std::int64_t j = 0; j < 2; ++j) {
      const double v = x.data().at({i, j});
      CHECK(x.grad().at({i, j}) == doctest::Approx(4 + 2 * std::exp(2 * v)));
      CHECK(e.data().at({i, j}) == doctest::Approx(std::exp(v)));
    }
  }
  // add passes one gradient tensor to both inputs: summing more into x's must not change y's.
  for (int order = 0; order < 2; ++order) {
    Variable a(Tensor::from_vector<double>({1.0, 2.0}), true), b(Tensor::from_vector<double>({3.0, 4.0}), true);
    const Variable s = a + b;
    Variable loss =
        order == 0 ? sum(s * 5.0) + sum(a * 2.0) + sum(b * 3.0) : sum(a * 2.0) + sum(b * 3.0) + sum(s * 5.0);
    loss.backward();
    for (std::int64_t i = 0; i < 2; ++i) {
      CHECK(a.grad().at({i}) == doctest::Approx(7.0));
      CHECK(b.grad().at({i}) == doctest::Approx(8.0));
    }
  }
}

TEST_CASE("elementwise backwards write into the incoming gradient only when nothing else holds it") {
  // relu_dropout, dropout, elu + 1 and layer norm may return their gradient in the memory of the
  // one they receive; a gradient the caller holds, or one an add passes to both of its inputs, must
  // come through unchanged, and the result must equal that of the same graph fed a fresh gradient.
  Rng rng(71);
  const Tensor x0 = randn({6, 8}, rng);
  const Tensor g0 = randn({6, 8}, rng);
  auto graph = [&](Variable& x) {
    Rng drop(5);
    const Variable a = relu_dropout(x, 0.25, drop);
    const Variable b = dropout(elu_plus_one(x), 0.25, drop);
    return layer_norm(a + b, Variable(), Variable(), 1e-5);  // the add's gradient reaches both branches
  };
  Variable x1(x0.clone(), true);
  const Tensor g = g0.clone();
  graph(x1).backward(g);
  CHECK(max_abs_diff(g, g0) == 0.0);  // the caller's gradient is untouched
  Variable x2(x0.clone(), true);
  sum(graph(x2) * Variable(g0)).backward();  // the same gradient, made by an op: nobody else holds it
  CHECK(max_abs_diff(x1.grad(), x2.grad()) < 1e-12);
  CHECK(max(unary(UnaryOp::abs, x1.grad())).item() > 1e-3);
}

TEST_CASE("leaf gradients accumulate across backward calls until zero_grad") {
  Variable w(Tensor::from_vector<double>({2.0}), true);
  sum(w * w).backward();
  sum(w * w).backward();
  CHECK(w.grad().at({0}) == doctest::Approx(8.0));
  w.zero_grad();
  CHECK_FALSE(w.grad().defined());
  sum(w * 5.0).backward();
  CHECK(w.grad().at({0}) == doctest::Approx(5.0));
}

TEST_CASE("a leaf's gradient never aliases another tensor") {
  Variable x(Tensor::ones({3}, DType::f64), true);
  Tensor g = Tensor::full({3}, 2.0, DType::f64);
  Variable y = reshape(x, {3, 1});
  y.backward(g.reshape({3, 1}));
  y = reshape(x, {3, 1});
  y.backward(g.reshape({3, 1}));
  CHECK(g.at({0}) == 2.0);  // the caller's gradient was not accumulated into
  CHECK(x.grad().at({0}) == 4.0);
}

TEST_CASE("inputs that do not require a gradient get none, and constants record no graph") {
  Variable a(Tensor::ones({2}, DType::f64), true);
  Variable c(Tensor::ones({2}, DType::f64), false);
  Variable y = sum(a * c);
  CHECK(y.requires_grad());
  y.backward();
  CHECK(a.grad().defined());
  CHECK_FALSE(c.grad().defined());
  Variable z = c * c;
  CHECK_FALSE(z.requires_grad());
  CHECK(z.grad_fn() == nullptr);
}

TEST_CASE("NoGradGuard records nothing and restores the mode") {
  Variable w(Tensor::ones({2}, DType::f64), true);
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Variable y = w * 2.0;
    CHECK_FALSE(y.requires_grad());
    { NoGradGuard nested; }
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  CHECK((w * 2.0).requires_grad());
}

TEST_CASE("backward errors are clear") {
  Variable x(Tensor::ones({2, 3}, DType::f64), true);
  Variable y = x * 2.0;
  try {
    y.backward();
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("(2, 3)") != std::string::npos);
    CHECK(std::string(e.what()).find("scalar") != std::string::npos);
  }
  CHECK_THROWS_AS(y.backward(Tensor::ones({3, 2}, DType::f64)), Error);
  Variable s = sum(y);
  s.backward();
  try {
    s.backward();
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("already freed") != std::string::npos);
  }
  CHECK_THROWS_AS(Variable(Tensor::zeros({2})).backward(), Error);
  CHECK_THROWS_AS(Variable(Tensor::zeros({2}, DType::i64), true), Error);
}

TEST_CASE("ops refuse bad shapes and empty tensors, naming the op") {
  Variable a(Tensor::ones({3, 4}), true);
  Variable b(Tensor::ones({5, 2}), true);
  try {
    (void)matmul(a, b);
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string m = e.what();
    CHECK(m.find("matmul") != std::string::npos);
    CHECK(m.find("(3, 4)") != std::string::npos);
    CHECK(m.find("(5, 2)") != std::string::npos);
  }
  CHECK_THROWS_AS(add(a, b), Error);
  CHECK_THROWS_AS(exp(Variable(Tensor::zeros({0, 3}))), Error);
  CHECK_THROWS_AS(sum(Variable(Tensor::zeros({0}))), Error);
  CHECK_THROWS_AS(embedding(a, Tensor::from_vector<std::int64_t>({3})), Error);
  CHECK_THROWS_AS(cross_entropy(a, Tensor::from_vector<std::int64_t>({0, 1})), Error);
  Rng rng(1);
  CHECK_THROWS_AS(dropout(a, 1.0, rng), Error);
}

TEST_CASE("saved tensors are freed as backward runs and after the step") {
  Rng rng(3);
  Variable w(randn({64, 64}, rng, DType::f32), true);
  const Tensor x = randn({32, 64}, rng, DType::f32);
  auto step = [&] {
    Variable h = tanh(matmul(Variable(x), w));
    Variable loss = mean(h * h);
    loss.backward();
    w.zero_grad();
  };
  step();
  const std::int64_t after_one = memory_stats().live_bytes;
  for (int i = 0; i < 1000; ++i) step();
  CHECK(memory_stats().live_bytes == after_one);
}

TEST_CASE("a graph built in a loop of 1,000 steps does not grow memory") {
  Rng rng(4);
  Variable w(randn({16, 16}, rng, DType::f32), true);
  Variable b(randn({16}, rng, DType::f32), true);
  const Tensor x = randn({8, 16}, rng, DType::f32);
  const Tensor targets = Tensor::from_vector<std::int64_t>({0, 1, 2, 3, 4, 5, 6, 7});
  std::int64_t baseline = 0;
  for (int i = 0; i < 1000; ++i) {
    Variable logits = matmul(gelu(matmul(Variable(x), w) + b), w);
    Variable loss = cross_entropy(logits, targets);
    loss.backward();
    {
      NoGradGuard no_grad;
      add_scaled_(w.data(), w.grad(), -0.01);
      add_scaled_(b.data(), b.grad(), -0.01);
    }
    w.zero_grad();
    b.zero_grad();
    if (i == 9) baseline = memory_stats().live_bytes;
    if (i > 9) REQUIRE(memory_stats().live_bytes == baseline);
  }
}

TEST_CASE("dropping a very long graph does not overflow the stack") {
  Variable x(Tensor::ones({1}, DType::f32), true);
  Variable y = x;
  for (int i = 0; i < 200000; ++i) y = y * 1.0;
  y = Variable();  // the whole chain is released here
  CHECK(true);
}

TEST_CASE("dropout: the mask follows the generator, not the threads, and eval passes through") {
  Variable x(Tensor::ones({1000}, DType::f32), false);
  Rng a(5), b(5);
  Tensor m1 = dropout(x, 0.25, a).data();
  Tensor m2 = dropout(x, 0.25, b).data();
  CHECK(max_abs_diff(m1, m2) == 0.0);
  const double kept = kat::sum(m1).item() / (1.0 / 0.75);
  CHECK(kept > 650);
  CHECK(kept < 850);
  Rng c(5);
  CHECK(dropout(x, 0.25, c, false).data().storage() == x.data().storage());
  // A large odd-sized input: the drop rate is p, and one or two threads draw the same mask.
  Variable big(Tensor::ones({1000003}, DType::f32), false);
  const int saved = num_threads();
  set_num_threads(1);
  Rng d1(9);
  const Tensor one = dropout(big, 0.1, d1).data();
  set_num_threads(2);
  Rng d2(9);
  const Tensor two = dropout(big, 0.1, d2).data();
  set_num_threads(saved);
  CHECK(max_abs_diff(one, two) == 0.0);
  const double dropped = 1000003.0 - kat::sum(one).item() * 0.9;
  CHECK(std::abs(dropped / 1000003.0 - 0.1) < 0.002);  // 6 standard deviations
  CHECK(one.at({1000002}) >= 0.0);
}

TEST_CASE("dropout: a slice of elements gets the slice of the whole tensor's mask") {
  // Parts starting at any element draw what the whole tensor draws there.
  Variable whole(Tensor::ones({5, 7}, DType::f32), false);
  Rng a(11);
  const Tensor full = dropout(whole, 0.5, a).data();
  for (std::int64_t first_row : {0, 1, 2, 3}) {
    const std::int64_t rows = 5 - first_row;
    Variable part(Tensor::ones({rows, 7}, DType::f32), false);
    Rng b(11);
    const Tensor got = dropout(part, 0.5, b, true, first_row * 7).data();
    CHECK(max_abs_diff(got, full.slice(0, first_row, 5).contiguous()) == 0.0);
  }
  Rng c(11);
  CHECK_THROWS_AS(dropout(whole, 0.5, c, true, -1), Error);
}

TEST_CASE("dropout: the backward draws the forward's mask again") {
  Rng init(3);
  Variable x(randn({37, 29}, init), true);
  Rng r(4);
  const Variable y = dropout(x, 0.3, r);
  sum(y).backward();
  const Tensor g = x.grad();
  const Tensor yd = y.data();
  const Tensor xd = x.data();
  std::int64_t dropped = 0;
  for (std::int64_t i = 0; i < 37; ++i) {
    for (std::int64_t j = 0; j < 29; ++j) {
      const double gi = g.at({i, j});
      // Dropped: y = 0 and dy/dx = 0; kept: y = x / 0.7 and dy/dx = 1 / 0.7.
      if (gi == 0.0) {
        ++dropped;
        CHECK(yd.at({i, j}) == 0.0);
      } else {
        CHECK(gi == doctest::Approx(1.0 / 0.7));
        CHECK(yd.at({i, j}) == doctest::Approx(xd.at({i, j}) / 0.7));
      }
    }
  }
  CHECK(dropped > 0.3 * 37 * 29 - 100);
  CHECK(dropped < 0.3 * 37 * 29 + 100);
}

TEST_CASE("relu_dropout: dropout of relu in one pass, with the same mask, values and gradients") {
  Rng init(13);
  const Tensor x0 = randn({67, 1031}, init);  // odd sizes: the row loops' tails
  for (const std::int64_t first : {std::int64_t{0}, std::int64_t{12345}}) {
    CAPTURE(first);
    Variable a(x0.clone(), true), b(x0.clone(), true);
    Rng ra(21), rb(21);
    const Variable fused = relu_dropout(a, 0.25, ra, true, first);
    const Variable composed = dropout(relu(b), 0.25, rb, true, first);
    CHECK(max_abs_diff(fused.data(), composed.data()) == 0.0);
    CHECK(ra.next_u64() == rb.next_u64());  // one draw each: the generators stay in step
    const Tensor g = randn({67, 1031}, init);
    fused.backward(g);
    composed.backward(g);
    CHECK(max_abs_diff(a.grad(), b.grad()) == 0.0);
    // Some units were dropped, some kept, some negative: all three cases were exercised.
    const Tensor y = fused.data();
    std::int64_t zeros_from_drop = 0;
    for (std::int64_t i = 0; i < 67; i += 3) {
      for (std::int64_t j = 0; j < 1031; j += 7) zeros_from_drop += x0.at({i, j}) > 0 && y.at({i, j}) == 0.0;
    }
    CHECK(zeros_from_drop > 0);
  }
  // Outside training, or with p = 0, it is relu.
  Variable x(x0, false);
  Rng r(1);
  CHECK(max_abs_diff(relu_dropout(x, 0.25, r, false).data(), relu(x).data()) == 0.0);
  CHECK(max_abs_diff(relu_dropout(x, 0.0, r).data(), relu(x).data()) == 0.0);
  CHECK_THROWS_WITH_AS(relu_dropout(x, 1.0, r), doctest::Contains("relu_dropout"), Error);
  CHECK_THROWS_WITH_AS(relu_dropout(x, 0.5, r, true, -1), doctest::Contains("first_element"), Error);
}

TEST_CASE("dropout: neighbouring draws are independent, and indices past 2^32 keep the slice property") {
  // P(both of two neighbours dropped) = p^2 for independent draws; p = 0.5, n = 2^20 pairs.
  const std::int64_t n = std::int64_t{1} << 21;
  Variable ones(Tensor::ones({n}, DType::f32), false);
  Rng a(21);
  const Tensor m = dropout(ones, 0.5, a).data();
  const float* pm = m.data<float>();
  std::int64_t both = 0, first_dropped = 0;
  for (std::int64_t i = 0; i + 1 < n; i += 2) {
    first_dropped += pm[i] == 0.0f;
    both += pm[i] == 0.0f && pm[i + 1] == 0.0f;
  }
  const double pairs = static_cast<double>(n / 2);
  CHECK(std::abs(first_dropped / pairs - 0.5) < 6 * 0.5 / std::sqrt(pairs));
  CHECK(std::abs(both / pairs - 0.25) < 6 * std::sqrt(0.25 * 0.75 / pairs));
  // Another key draws another mask: agreement near 1/2.
  Rng b(22);
  const Tensor m2 = dropout(ones, 0.5, b).data();
  std::int64_t same = 0;
  for (std::int64_t i = 0; i < n; ++i) same += (pm[i] == 0.0f) == (m2.data<float>()[i] == 0.0f);
  CHECK(std::abs(same / static_cast<double>(n) - 0.5) < 6 * 0.5 / std::sqrt(static_cast<double>(n)));
  // Elements [2^32 - 5, 2^32 + 6) at once, and in two parts split at 2^32.
  const std::int64_t first = (std::int64_t{1} << 32) - 5;
  Variable whole(Tensor::ones({11}, DType::f64), false);
  Variable head(Tensor::ones({5}, DType::f64), false);
  Variable tail(Tensor::ones({6}, DType::f64), false);
  Rng c1(8), c2(8), c3(8);
  const Tensor w = dropout(whole, 0.5, c1, true, first).data();
  const Tensor h = dropout(head, 0.5, c2, true, first).data();
  const Tensor t = dropout(tail, 0.5, c3, true, first + 5).data();
  CHECK(max_abs_diff(w.slice(0, 0, 5).contiguous(), h) == 0.0);
  CHECK(max_abs_diff(w.slice(0, 5, 11).contiguous(), t) == 0.0);
}

TEST_CASE("the grad-ready hook of a leaf fires once per backward, when its gradient is final") {
  Variable a(Tensor::from_vector<double>({1.0, 2.0}), true);
  Variable b(Tensor::from_vector<double>({3.0, 4.0}), true);
  Variable unused(Tensor::from_vector<double>({5.0}), true);
  std::vector<std::string> order;
  std::vector<double> seen;
  // a is used on three paths; its hook must see the sum of all three (d/da = 2a + b + 1).
  a.set_grad_ready_hook([&] {
    order.push_back("a");
    seen.push_back(a.grad().at({0}));
  });
  b.set_grad_ready_hook([&] { order.push_back("b"); });
  unused.set_grad_ready_hook([&] { order.push_back("unused"); });
  Variable y = sum(a * a + a * b + a);
  y.backward();
  REQUIRE(order.size() == 2);
  CHECK(std::count(order.begin(), order.end(), "a") == 1);
  CHECK(std::count(order.begin(), order.end(), "b") == 1);
  CHECK(seen.back() == doctest::Approx(2 * 1.0 + 3.0 + 1.0));
  // A second backward accumulates and fires again; the hook sees the running sum.
  sum(a * 10.0).backward();
  CHECK(order.size() == 3);
  CHECK(seen.back() == doctest::Approx(6.0 + 10.0));
  a.set_grad_ready_hook({});
  sum(a).backward();
  CHECK(order.size() == 3);
  CHECK_THROWS_AS(y.set_grad_ready_hook([] {}), Error);
}

TEST_CASE("set_grad replaces a leaf's gradient and checks its shape") {
  Variable w(Tensor::from_vector<double>({1.0, 2.0}), true);
  sum(w).backward();
  w.set_grad(Tensor::full({2}, 7.0, DType::f64));
  CHECK(w.grad().at({1}) == 7.0);
  sum(w).backward();
  CHECK(w.grad().at({1}) == 8.0);
  CHECK_THROWS_AS(w.set_grad(Tensor::ones({3}, DType::f64)), Error);
  CHECK_THROWS_AS(w.set_grad(Tensor::ones({2}, DType::f32)), Error);
  w.set_grad(Tensor());
  CHECK_FALSE(w.grad().defined());
}

TEST_CASE("dropout_add equals the residual plus dropout: the same mask, values and gradients") {
  Rng init(17);
  const Tensor x0 = randn({37, 523}, init), r0 = randn({37, 523}, init);
  for (const std::int64_t first : {std::int64_t{0}, std::int64_t{777}}) {
    CAPTURE(first);
    Variable a(x0.clone(), true), ra(r0.clone(), true), b(x0.clone(), true), rb(r0.clone(), true);
    Rng ga(5), gb(5);
    const Variable fused = dropout_add(a, ra, 0.3, ga, true, first);
    const Variable composed = rb + dropout(b, 0.3, gb, true, first);
    CHECK(max_abs_diff(fused.data(), composed.data()) < 1e-6);
    CHECK(ga.next_u64() == gb.next_u64());  // one draw each
    const Tensor g = randn({37, 523}, init);
    fused.backward(g);
    composed.backward(g);
    CHECK(max_abs_diff(a.grad(), b.grad()) == 0.0);
    CHECK(max_abs_diff(ra.grad(), rb.grad()) == 0.0);
    CHECK(max_abs_diff(ra.grad(), g) == 0.0);
  }
  // Outside training, or with p = 0, it is the plain sum; shapes must agree.
  Variable x(x0, false), res(r0, false);
  Rng r(1);
  const Tensor sum = binary(BinaryOp::add, r0, x0);
  CHECK(max_abs_diff(dropout_add(x, res, 0.3, r, false).data(), sum) == 0.0);
  CHECK(max_abs_diff(dropout_add(x, res, 0.0, r).data(), sum) == 0.0);
  CHECK_THROWS_WITH_AS(dropout_add(x, Variable(randn({37, 2}, init)), 0.3, r), doctest::Contains("dropout_add"), Error);
}
