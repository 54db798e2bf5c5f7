// Optimizer updates against values computed by hand for two steps, the weight-decay rule, and the
// export and import of per-parameter state.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/ops.h"
#include "optim/adam.h"
#include "optim/clip.h"
#include "optim/sgd.h"

using namespace kat;

namespace {

// A float64 parameter of one element.
Variable param(double value) { return Variable(Tensor::full({1}, value, DType::f64), true); }
// A float64 (2, 2) matrix parameter with every element equal to value (a decayed parameter).
Variable matrix(double value) { return Variable(Tensor::full({2, 2}, value, DType::f64), true); }

// Sets the gradient of p to the constant c, through the loss sum(c * p).
void set_grad(Optimizer& opt, const std::vector<std::pair<Variable, double>>& grads) {
  opt.zero_grad();
  for (const auto& [p, c] : grads) sum(p * Variable(Tensor::full(p.shape(), c, DType::f64))).backward();
}

double value(const Variable& p) { return p.data().to_vector<double>()[0]; }

}  // namespace

TEST_CASE("sgd: plain, momentum and nesterov steps match the hand-computed values") {
  SUBCASE("plain: w -= lr g") {
    Variable w = param(1.0);
    Sgd opt(std::vector<Variable>{w}, {.lr = 0.1});
    set_grad(opt, {{w, 0.5}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.95).epsilon(1e-14));
    set_grad(opt, {{w, -1.0}});
    opt.step();
    CHECK(value(w) == doctest::Approx(1.05).epsilon(1e-14));
  }
  SUBCASE("momentum 0.9 with weight decay 0.1 (g = 0.5 both steps)") {
    // d1 = 0.5 + 0.1 * 1 = 0.6, v1 = 0.6, w1 = 1 - 0.1 * 0.6 = 0.94
    // d2 = 0.5 + 0.1 * 0.94 = 0.594, v2 = 0.9 * 0.6 + 0.594 = 1.134, w2 = 0.94 - 0.1134 = 0.8266
    Variable w = param(1.0);
    Sgd opt(std::vector<Variable>{w}, {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
    set_grad(opt, {{w, 0.5}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.94).epsilon(1e-14));
    set_grad(opt, {{w, 0.5}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.8266).epsilon(1e-14));
  }
  SUBCASE("nesterov 0.9 with weight decay 0.1 (g = 0.5 both steps)") {
    // d1 = 0.6, v1 = 0.6, w1 = 1 - 0.1 * (0.6 + 0.9 * 0.6) = 0.886
    // d2 = 0.5 + 0.0886 = 0.5886, v2 = 0.54 + 0.5886 = 1.1286,
    // w2 = 0.886 - 0.1 * (0.5886 + 0.9 * 1.1286) = 0.725566
    Variable w = param(1.0);
    Sgd opt(std::vector<Variable>{w}, {.lr = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 0.1});
    set_grad(opt, {{w, 0.5}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.886).epsilon(1e-14));
    set_grad(opt, {{w, 0.5}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.725566).epsilon(1e-14));
  }
}

TEST_CASE("adam, L2 adam and adamw match the hand-computed values for two steps") {
  // Gradients 0.5 then -1.0, lr 0.1, betas (0.9, 0.999), eps 1e-8. Step 1 of Adam always moves
  // by about lr (m^ = g, v^ = g^2). Step 2: m = 0.045 - 0.1 = -0.055, v = 0.00024975 + 0.001,
  // m^ = -0.055 / 0.19, v^ = 0.00124975 / 0.001999, w2 = 0.9 - 0.1 m^ / (sqrt(v^) + eps).
  const AdamOptions base{.lr = 0.1};
  SUBCASE("adam") {
    Variable w = param(1.0);
    Adam opt(std::vector<Variable>{w}, base);
    set_grad(opt, {{w, 0.5}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.900000002).epsilon(1e-12));
    set_grad(opt, {{w, -1.0}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.9366103542405654).epsilon(1e-12));
    CHECK(opt.steps() == 2);
  }
  SUBCASE("adam with L2 decay 0.1: the decay enters the moments") {
    // g1 = 0.5 + 0.1 = 0.6 -> w1 = 0.9; g2 = -1 + 0.09 = -0.91, m = 0.054 - 0.091 = -0.037,
    // v = 0.00035964 + 0.0008281 -> w2 = 0.9 + 0.1 * 0.19474 / 0.77082 = 0.92526
    Variable w = param(1.0);
    AdamOptions o = base;
    o.weight_decay = 0.1;
    Adam opt(std::vector<Variable>{w}, o);
    set_grad(opt, {{w, 0.5}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.9000000016666666).epsilon(1e-12));
    set_grad(opt, {{w, -1.0}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.9252635194456061).epsilon(1e-12));
  }
  SUBCASE("adamw 0.1: decoupled decay on the matrix, none on the bias") {
    // Matrix: w1 = 1 * (1 - 0.01) - 0.1 = 0.89; w2 = 0.89 * 0.99 + 0.0366103542 = 0.91771035.
    // Bias (rank 1, name *.bias): plain Adam from -2 with gradients 0.25 then 0.75.
    Variable w = matrix(1.0);
    Variable b = param(-2.0);
    AdamOptions o = base;
    o.weight_decay = 0.1;
    AdamW opt(decay_groups({{"proj.weight", w}, {"proj.bias", b}}), o);
    CHECK(opt.parameters()[0].decay);
    CHECK_FALSE(opt.parameters()[1].decay);
    set_grad(opt, {{w, 0.5}, {b, 0.25}});
    opt.step();
    CHECK(value(w) == doctest::Approx(0.890000002).epsilon(1e-12));
    CHECK(value(b) == doctest::Approx(-2.099999996).epsilon(1e-12));
    set_grad(opt, {{w, -1.0}, {b, 0.75}});
    opt.step();
    for (double x : w.data().to_vector<double>()) CHECK(x == doctest::Approx(0.9177103542205653).epsilon(1e-12));
    CHECK(value(b) == doctest::Approx(-2.1917781062565815).epsilon(1e-12));
  }
}

TEST_CASE("the default decay rule spares biases and normalization gains") {
  CHECK(decays_by_default("decoder.layers.0.self_attn.q_proj.weight", {16, 16}));
  CHECK(decays_by_default("decoder.input.embedding.weight", {20, 16}));
  CHECK_FALSE(decays_by_default("decoder.layers.0.self_attn.q_proj.bias", {16}));
  CHECK_FALSE(decays_by_default("decoder.layers.0.norm1.weight", {16}));
  CHECK_FALSE(decays_by_default("decoder.norm.weight", {16}));
  CHECK_FALSE(decays_by_default("odd.layernorm.scale", {4, 4}));  // a component names a norm
  CHECK_FALSE(decays_by_default("weird.bias", {4, 4}));
  const auto all = decay_groups({{"a.bias", param(0)}}, /*decay_all=*/true);
  CHECK(all[0].decay);
}

TEST_CASE("optimizer state: export, import into a fresh optimizer, identical next steps") {
  for (const char* kind : {"sgd", "adam", "adamw"}) {
    CAPTURE(kind);
    auto make = [&](const Variable& w, const Variable& b) -> std::unique_ptr<Optimizer> {
      NamedParameters ps = decay_groups({{"w", w}, {"b", b}});
      if (std::string(kind) == "sgd") return std::make_unique<Sgd>(ps, SgdOptions{.lr = 0.1, .momentum = 0.9});
      if (std::string(kind) == "adam") return std::make_unique<Adam>(ps, AdamOptions{.lr = 0.1});
      return std::make_unique<AdamW>(ps, AdamOptions{.lr = 0.1, .weight_decay = 0.1});
    };
    Variable w1 = matrix(1.0), b1 = param(0.5);
    auto a = make(w1, b1);
    set_grad(*a, {{w1, 0.3}});  // b1 gets no gradient: its slots stay unallocated
    a->step();
    const OptimizerState s = a->state();
    CHECK(s.kind == kind);
    CHECK(s.steps == 1);
    CHECK(s.slots.count(std::string("w.") + (std::string(kind) == "sgd" ? "velocity" : "exp_avg")) == 1);
    for (const auto& [key, t] : s.slots) CHECK(key.rfind("b.", 0) != 0);

    Variable w2(w1.data().clone(), true), b2(b1.data().clone(), true);
    auto c = make(w2, b2);
    c->load_state(s);
    CHECK(c->steps() == 1);
    set_grad(*a, {{w1, -0.7}, {b1, 0.2}});
    set_grad(*c, {{w2, -0.7}, {b2, 0.2}});
    a->step();
    c->step();
    CHECK(max_abs_diff(w1.data(), w2.data()) == 0.0);
    CHECK(max_abs_diff(b1.data(), b2.data()) == 0.0);
  }
}

TEST_CASE("optimizer state: a foreign or mismatched state is refused and changes nothing") {
  Variable w = matrix(1.0);
  Adam adam(decay_groups({{"w", w}}), {.lr = 0.1});
  Sgd sgd(decay_groups({{"w", matrix(1.0)}}), {.lr = 0.1, .momentum = 0.5});
  CHECK_THROWS_WITH_AS(adam.load_state(sgd.state()), doctest::Contains("cannot load the state of a 'sgd'"), Error);

  OptimizerState bad{"adam", 3, {{"w.exp_avg", Tensor::zeros({3}, DType::f64)}}};
  CHECK_THROWS_WITH_AS(adam.load_state(bad), doctest::Contains("slot 'w.exp_avg' has shape (3)"), Error);
  CHECK(adam.steps() == 0);
  OptimizerState stray{"adam", 3, {{"v.exp_avg", Tensor::zeros({2, 2}, DType::f64)}}};
  CHECK_THROWS_WITH_AS(adam.load_state(stray), doctest::Contains("'v.exp_avg' matches no parameter"), Error);
  CHECK(adam.steps() == 0);
}

TEST_CASE("optimizers refuse bad options and parameters with the reason") {
  CHECK_THROWS_WITH_AS(Sgd(std::vector<Variable>{param(1)}, {.lr = 0.1, .nesterov = true}),
                       doctest::Contains("nesterov needs momentum"), Error);
  CHECK_THROWS_WITH_AS(Adam(std::vector<Variable>{param(1)}, {.lr = -1}),
                       doctest::Contains("learning rate must be finite and non-negative, got -1"), Error);
  CHECK_THROWS_WITH_AS(Adam(std::vector<Variable>{param(1)}, {.beta2 = 1.0}), doctest::Contains("beta2"), Error);
  Variable frozen(Tensor::zeros({2}, DType::f64), false);
  CHECK_THROWS_WITH_AS(Adam(decay_groups({{"enc.w", frozen}}), {}),
                       doctest::Contains("'enc.w' is not a contiguous leaf"), Error);
  CHECK_THROWS_WITH_AS(Adam(decay_groups({{"w", param(1)}, {"w", param(2)}}), {}), doctest::Contains("'w' given twice"),
                       Error);
}

TEST_CASE("clipping by global norm") {
  Variable a = param(0), b = param(0);
  Sgd opt(std::vector<Variable>{a, b}, {});
  set_grad(opt, {{a, 3.0}, {b, 4.0}});
  CHECK(grad_norm({a, b}) == doctest::Approx(5.0));
  CHECK(clip_grad_norm({a, b}, 10.0) == doctest::Approx(5.0));
  CHECK(a.grad().item() == doctest::Approx(3.0));  // below the threshold: unchanged
  CHECK(clip_grad_norm({a, b}, 1.0) == doctest::Approx(5.0));
  CHECK(a.grad().item() == doctest::Approx(0.6));
  CHECK(b.grad().item() == doctest::Approx(0.8));
  CHECK(grad_norm({a, b}) == doctest::Approx(1.0));
  scale_grads({a, b}, 2.0);
  CHECK(b.grad().item() == doctest::Approx(1.6));

  set_grad(opt, {{a, std::nan("")}, {b, 4.0}});
  CHECK(std::isnan(clip_grad_norm({a, b}, 1.0)));
  CHECK(b.grad().item() == 4.0);  // a non-finite norm leaves the gradients alone
  Variable none = param(0);       // no gradient: counts as zero
  CHECK(grad_norm({none}) == 0.0);
}
