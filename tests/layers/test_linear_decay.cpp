// Linear attention with per-head decay (AttentionOptions::decay): against the quadratic formula
// with weights gamma^(i - j), its gradients, its recurrent form, the float32 kernels at a length
// where the decay's log-scale is large, and its errors.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/gemm.h"
#include "layers/attention/bidirectional_decay.h"
#include "layers/attention/causal_linear_op.h"
#include "layers/attention/feature_maps/favor.h"
#include "layers/attention/linear_attention.h"
#include "tests/layers/recurrence_check.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

namespace {

// (1, H, N, N): gamma_h^(i - j) for j <= i, else 0; or gamma_h^|i - j| for every j (both_ways).
Tensor decayed_causal_weights(const std::vector<double>& gammas, std::int64_t n, bool both_ways = false) {
  const auto H = static_cast<std::int64_t>(gammas.size());
  Tensor t = Tensor::zeros({1, H, n, n}, DType::f64);
  double* p = t.data<double>();
  for (std::int64_t h = 0; h < H; ++h) {
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < (both_ways ? n : i + 1); ++j) {
        p[(h * n + i) * n + j] = std::pow(gammas[static_cast<std::size_t>(h)], std::abs(static_cast<double>(i - j)));
      }
    }
  }
  return t;
}

// The decayed attention spelled out: A = phi(Q) phi(K)^T times the weights, rows normalized.
Variable decayed_quadratic(const Variable& phi_q, const Variable& phi_k, const Variable& v,
                           const std::vector<double>& gammas, double eps, bool both_ways = false) {
  Variable a =
      matmul(phi_q, transpose(phi_k, 2, 3)) * Variable(decayed_causal_weights(gammas, phi_q.size(2), both_ways));
  return matmul(a, v) / (sum(a, {3}, true) + eps);
}

std::shared_ptr<LinearAttention> make_decayed(const std::string& map, std::int64_t features, std::int64_t head_dim,
                                              std::vector<double> decay, Rng& rng, double eps = 1e-6,
                                              bool causal = true) {
  AttentionOptions o;
  o.type = "linear";
  o.feature_map = map;
  o.features = features;
  o.eps = eps;
  o.decay = std::move(decay);
  const auto heads = static_cast<std::int64_t>(o.decay.size());
  return std::make_shared<LinearAttention>(o, AttentionSetup{head_dim, causal, heads}, "elu", rng);
}

}  // namespace

TEST_CASE(
    "decayed linear attention equals the quadratic formula with weights gamma^(i - j), or gamma^|i - j| both ways "
    "with padding, with gradients") {
  Rng rng(41);
  const std::int64_t B = 2, H = 3, N = 9, D = 4, Dv = 3;
  const std::vector<double> gammas = {0.5, 0.9, 1.0};
  for (const bool both_ways : {false, true}) {
    for (const char* map : {"elu", "favor+"}) {
      CAPTURE(both_ways);
      CAPTURE(map);
      const bool favor = std::string(map) == "favor+";
      const double eps = favor ? 0.0 : 1e-6;  // favor: the stabilizer cancels exactly without an epsilon
      auto kernel = make_decayed(map, favor ? 8 : 0, D, gammas, rng, eps, /*causal=*/!both_ways);
      kernel->to(DType::f64);
      AttentionMask mask;  // an encoder's: the second item's last three keys are padding
      if (both_ways) mask.key_lengths = {N, 6};
      Variable q(randn({B, H, N, D}, rng), true), k(randn({B, H, N, D}, rng), true);
      Variable v(randn({B, H, N, Dv}, rng), true);
      Variable out = kernel->forward(q, k, v, mask);
      const Tensor g = randn(out.shape(), rng);
      out.backward(g);
      const Tensor dq = q.grad(), dk = k.grad(), dv = v.grad();
      q.zero_grad();
      k.zero_grad();
      v.zero_grad();
      FeatureMap& fm = kernel->feature_map();
      if (auto* f = dynamic_cast<FavorFeatureMap*>(&fm)) f->set_stabilize(false);
      const Variable phi_q = fm.forward(q, FeatureRole::query);
      Variable phi_k = fm.forward(k, FeatureRole::key);
      if (both_ways) phi_k = phi_k * Variable(key_padding_weights(mask, B, N, DType::f64));
      Variable ref = decayed_quadratic(phi_q, phi_k, v, gammas, eps, both_ways);
      ref.backward(g);
      CHECK(allclose(out.data(), ref.data(), 1e-9, 1e-9));
      CHECK(allclose(dq, q.grad(), 1e-9, 1e-9));
      CHECK(allclose(dk, k.grad(), 1e-9, 1e-9));
      CHECK(allclose(dv, v.grad(), 1e-9, 1e-9));
      // The decay changes the result: the same weights without it do not match the formula.
      const Tensor plain = decayed_quadratic(phi_q, phi_k, v, {1.0, 1.0, 1.0}, eps, both_ways).data();
      CHECK_FALSE(allclose(out.data(), plain, 1e-3, 1e-3));
      // gamma = 1 is no decay: the head matches the undecayed formula.
      CHECK(allclose(out.data().slice(1, 2, 3), plain.slice(1, 2, 3), 1e-9, 1e-9));
    }
  }
}

TEST_CASE("gradcheck: decayed linear attention, causal (one decay for every head) and both ways (one per head)") {
  Rng rng(42);
  for (const bool causal : {true, false}) {
    CAPTURE(causal);
    auto kernel =
        make_decayed("elu", 0, 3, causal ? std::vector<double>{0.7} : std::vector<double>{0.7, 0.4}, rng, 1e-6, causal);
    kernel->to(DType::f64);
    const GradcheckResult r =
        gradcheck([&](const std::vector<Variable>& x) { return kernel->forward(x[0], x[1], x[2], AttentionMask{}); },
                  {randn({2, 2, 6, 3}, rng), randn({2, 2, 6, 3}, rng), randn({2, 2, 6, 2}, rng)});
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("decayed linear attention: the recurrent form reproduces the causal forward, and beams reorder it") {
  Rng rng(43);
  for (const char* map : {"elu", "favor+"}) {
    CAPTURE(map);
    const bool favor = std::string(map) == "favor+";
    auto kernel = make_decayed(map, favor ? 16 : 0, 8, {0.6, 0.95, 0.99, 1.0}, rng);
    kernel->to(DType::f32);
    const std::int64_t B = 2, H = 4, N = 48;
    const Tensor q = randn({B, H, N, 8}, rng, DType::f32), k = randn({B, H, N, 8}, rng, DType::f32);
    const Tensor v = randn({B, H, N, 16}, rng, DType::f32);
    const Tensor full = kernel->forward(Variable(q), Variable(k), Variable(v), AttentionMask{}).data();
    kat::test::check_steps_match_forward(*kernel, q, k, v, full);
  }
}

TEST_CASE("decayed linear attention in float32 at N = 4,096 agrees with float64") {
  // The decay enters the causal op as a key log-scale j (-log gamma), which reaches ~5,700 here
  // for gamma = 0.25: the float32 kernels (the register-tiled ones where available) still match.
  Rng rng(44);
  const std::int64_t N = 4096, D = 16;
  auto kernel = make_decayed("elu", 0, D, {0.25, 0.99, 1.0, 0.9}, rng);
  const Tensor q = randn({1, 4, N, D}, rng), k = randn({1, 4, N, D}, rng), v = randn({1, 4, N, 16}, rng);
  kernel->to(DType::f64);
  const Tensor ref = kernel->forward(Variable(q), Variable(k), Variable(v), AttentionMask{}).data();
  kernel->to(DType::f32);
  const Tensor out =
      kernel
          ->forward(Variable(q.to(DType::f32)), Variable(k.to(DType::f32)), Variable(v.to(DType::f32)), AttentionMask{})
          .data();
  // float32 holds C_j to half a unit in the last place, 2.4e-4 near 5,700: the weights of the
  // fastest head are within 0.05% (3.6e-4 measured on its outputs, the other heads 1e-5 or less).
  CHECK(allclose(out.to(DType::f64).slice(1, 0, 1), ref.slice(1, 0, 1), 1e-3, 1e-3));
  CHECK(allclose(out.to(DType::f64).slice(1, 1, 4), ref.slice(1, 1, 4), 1e-4, 5e-5));
  // Without the decay the outputs differ: the check above sees it.
  CHECK_FALSE(allclose(out.to(DType::f64).slice(1, 0, 1), ref.slice(1, 2, 3), 1e-2, 1e-2));
}

TEST_CASE("decayed linear attention: distillation measures the decayed weights against softmax") {
  Rng rng(46);
  const std::int64_t B = 1, H = 2, N = 6, D = 4;
  const std::vector<double> gammas = {0.5, 1.0};
  for (const bool causal : {true, false}) {
    CAPTURE(causal);
    auto kernel = make_decayed("elu", 0, D, gammas, rng, /*eps=*/0.0, causal);
    kernel->to(DType::f64);
    kernel->set_distillation(true);
    const Tensor q = randn({B, H, N, D}, rng), k = randn({B, H, N, D}, rng), v = randn({B, H, N, 3}, rng);
    kernel->forward(Variable(q), Variable(k), Variable(v), AttentionMask{});
    const double loss = kernel->distillation_loss().data().item();
    // The same KL divergence by hand: P from the scaled logits, A from the decayed features, over
    // the keys each query sees (j <= i when causal, every j when not).
    FeatureMap& fm = kernel->feature_map();
    const Tensor a = binary(BinaryOp::mul,
                            matmul(fm.forward(Variable(q), FeatureRole::query).data(),
                                   fm.forward(Variable(k), FeatureRole::key).data().transpose(2, 3)),
                            decayed_causal_weights(gammas, N, /*both_ways=*/!causal));
    const Tensor logits = unary(UnaryOp::scale, matmul(q, k.transpose(2, 3)), 1.0 / std::sqrt(double(D)));
    double kl = 0;
    for (std::int64_t h = 0; h < H; ++h) {
      for (std::int64_t i = 0; i < N; ++i) {
        const std::int64_t seen = causal ? i + 1 : N;
        double top = -1e300, zp = 0, za = 0;
        for (std::int64_t j = 0; j < seen; ++j) top = std::max(top, logits.at({0, h, i, j}));
        for (std::int64_t j = 0; j < seen; ++j) {
          zp += std::exp(logits.at({0, h, i, j}) - top);
          za += a.at({0, h, i, j});
        }
        for (std::int64_t j = 0; j < seen; ++j) {
          const double pij = std::exp(logits.at({0, h, i, j}) - top) / zp;
          kl += pij * (std::log(pij) - std::log(a.at({0, h, i, j}) / za));
        }
      }
    }
    CHECK(loss == doctest::Approx(kl / static_cast<double>(H * N)).epsilon(1e-9));
    // Without the decay the divergence differs.
    auto plain = make_decayed("elu", 0, D, {1.0, 1.0}, rng, 0.0, causal);
    plain->to(DType::f64);
    plain->set_distillation(true);
    plain->forward(Variable(q), Variable(k), Variable(v), AttentionMask{});
    CHECK(plain->distillation_loss().data().item() != doctest::Approx(loss).epsilon(1e-3));
  }
}

TEST_CASE("decayed linear attention: bad decays are refused naming the option") {
  Rng rng(45);
  AttentionOptions o;
  o.type = "linear";
  o.decay = {0.5, 0.9};
  CHECK_THROWS_WITH_AS(LinearAttention(o, AttentionSetup{4, true, 3}, "elu", rng),
                       doctest::Contains("decay takes one number or one per head (3), got 2"), Error);
  o.decay = {1.5};
  CHECK_THROWS_WITH_AS(LinearAttention(o, AttentionSetup{4, true, 2}, "elu", rng),
                       doctest::Contains("decay must be in (0, 1], got 1.5"), Error);
  o.decay = {0.9};
  CHECK_THROWS_WITH_AS(LinearAttention(o, AttentionSetup{4, false, 2, /*cross=*/true}, "elu", rng),
                       doctest::Contains("decay applies to self-attention only"), Error);
  // Non-causal self-attention takes it (both directions), but only with as many queries as keys.
  LinearAttention both(o, AttentionSetup{4, false, 2}, "elu", rng);
  CHECK_THROWS_WITH_AS(both.forward(Variable(randn({1, 2, 3, 4}, rng)), Variable(randn({1, 2, 5, 4}, rng)),
                                    Variable(randn({1, 2, 5, 2}, rng)), AttentionMask{}),
                       doctest::Contains("decay needs self-attention (as many queries as keys), got 3 queries and 5"),
                       Error);
}

TEST_CASE("gradcheck: the parts of bidirectional decay, the reversal and the decayed prefix sum") {
  Rng rng(48);
  const GradcheckResult flip =
      gradcheck([](const std::vector<Variable>& x) { return reverse_positions(x[0]); }, {randn({2, 2, 5, 3}, rng)});
  INFO(flip.message);
  CHECK(flip.ok);
  const GradcheckResult scan = gradcheck(
      [](const std::vector<Variable>& x) {
        return decayed_prefix_sum(x[0], {0.6, 1.0});
      },
      {randn({2, 2, 5, 3}, rng)});
  INFO(scan.message);
  CHECK(scan.ok);
}

TEST_CASE("bidirectional decay: the scan and the reversal by hand, and their errors") {
  Tensor x = Tensor::zeros({1, 2, 4, 1}, DType::f64);
  for (std::int64_t h = 0; h < 2; ++h) {
    for (std::int64_t i = 0; i < 4; ++i) x.data<double>()[h * 4 + i] = static_cast<double>(i + 1);
  }
  const Tensor y = decayed_prefix_sum(Variable(x), {0.5, 1.0}).data();
  // Head 0: 1, 2 + 0.5, 3 + 1.25, 4 + 2.125; head 1 (no decay): the plain running sum.
  CHECK(y.at({0, 0, 3, 0}) == doctest::Approx(6.125));
  CHECK(y.at({0, 0, 1, 0}) == doctest::Approx(2.5));
  CHECK(y.at({0, 1, 3, 0}) == doctest::Approx(10.0));
  const Tensor r = reverse_positions(Variable(x)).data();
  CHECK(r.at({0, 1, 0, 0}) == 4.0);
  CHECK(r.at({0, 1, 3, 0}) == 1.0);
  CHECK_THROWS_WITH_AS(decayed_prefix_sum(Variable(x), {0.5}), doctest::Contains("1 decays for 2 heads"), Error);
  CHECK_THROWS_WITH_AS(decayed_prefix_sum(Variable(x), {0.5, 0.0}), doctest::Contains("outside (0, 1]"), Error);
  CHECK_THROWS_WITH_AS(reverse_positions(Variable(Tensor::zeros({2, 3}, DType::f64))),
                       doctest::Contains("expected a (B, H, N, F) tensor"), Error);
}

TEST_CASE("bidirectional decay in float32 at N = 1,024 agrees with float64") {
  Rng rng(49);
  const std::int64_t N = 1024, D = 16;
  auto kernel = make_decayed("elu", 0, D, {0.25, 0.99, 1.0, 0.9}, rng, 1e-6, /*causal=*/false);
  const Tensor q = randn({1, 4, N, D}, rng), k = randn({1, 4, N, D}, rng), v = randn({1, 4, N, 16}, rng);
  kernel->to(DType::f64);
  const Tensor ref = kernel->forward(Variable(q), Variable(k), Variable(v), AttentionMask{}).data();
  kernel->to(DType::f32);
  const Tensor out =
      kernel
          ->forward(Variable(q.to(DType::f32)), Variable(k.to(DType::f32)), Variable(v.to(DType::f32)), AttentionMask{})
          .data();
  CHECK(allclose(out.to(DType::f64), ref, 1e-3, 1e-3));
}
