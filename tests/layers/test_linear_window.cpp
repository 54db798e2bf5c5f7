// Linear attention with a softmax window (AttentionOptions::window): against the formula spelled out
// with every weight, its gradients, its recurrent form with beams, its distillation loss, and its
// errors.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/gemm.h"
#include "core/kernels/reduce.h"
#include "layers/attention/linear_attention.h"
#include "tests/layers/recurrence_check.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

namespace {

std::shared_ptr<LinearAttention> make_windowed(const std::string& map, std::int64_t window, std::int64_t heads,
                                               std::int64_t head_dim, std::vector<double> decay, Rng& rng) {
  AttentionOptions o;
  o.type = "linear";
  o.feature_map = map;
  o.features = map == "elu" ? 0 : 8;
  o.window = window;
  o.decay = std::move(decay);
  return std::make_shared<LinearAttention>(o, AttentionSetup{head_dim, true, heads}, "elu", rng);
}

Variable window_scale(LinearAttention& kernel) {
  for (const auto& [name, p] : kernel.named_parameters()) {
    if (name == "window_scale") return p;
  }
  FAIL("no window_scale parameter");
  return Variable();
}

// (1, H, N, N) weight masks: `near` 1 for i - W < j <= i; `far` gamma_h^(i - j - W) for j <= i - W.
Tensor band(std::int64_t heads, std::int64_t n, std::int64_t w, const std::vector<double>& gammas, bool near) {
  Tensor t = Tensor::zeros({1, heads, n, n}, DType::f64);
  double* p = t.data<double>();
  for (std::int64_t h = 0; h < heads; ++h) {
    const double g = gammas.empty() ? 1.0 : gammas[static_cast<std::size_t>(h)];
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j <= i; ++j) {
        const std::int64_t back = i - j;
        if (near && back < w) p[(h * n + i) * n + j] = 1.0;
        if (!near && back >= w) p[(h * n + i) * n + j] = std::pow(g, static_cast<double>(back - w));
      }
    }
  }
  return t;
}

// The formula: weights exp(q.k / sqrt(D)) in the window, exp(beta_h) phi(q).phi(k) gamma^(i - j - W)
// beyond it, one normalizer.
Variable windowed_formula(LinearAttention& kernel, const Variable& q, const Variable& k, const Variable& v,
                          std::int64_t w, const std::vector<double>& gammas) {
  const std::int64_t H = q.size(1), N = q.size(2);
  const Variable scores = matmul(q, transpose(k, 2, 3)) * (1.0 / std::sqrt(static_cast<double>(q.size(3))));
  const Variable near = exp(scores) * Variable(band(H, N, w, gammas, true));
  FeatureMap& fm = kernel.feature_map();
  const Variable beta = exp(reshape(window_scale(kernel), {1, H, 1, 1}));
  const Variable far = matmul(fm.forward(q, FeatureRole::query), transpose(fm.forward(k, FeatureRole::key), 2, 3)) *
                       Variable(band(H, N, w, gammas, false)) * beta;
  const Variable a = near + far;
  return matmul(a, v) / sum(a, {3}, true);
}

double abs_max(const Tensor& t) { return max(unary(UnaryOp::abs, t)).to(DType::f64).item(); }

void set_scale(LinearAttention& kernel, const std::vector<double>& beta) {
  Tensor t = window_scale(kernel).data();
  for (std::size_t h = 0; h < beta.size(); ++h) t.data<double>()[h] = beta[h];
}

}  // namespace

TEST_CASE(
    "linear attention with a window equals the formula (softmax in the window, the kernel beyond), with gradients") {
  Rng rng(61);
  const std::int64_t B = 2, H = 2, D = 4, Dv = 3, W = 4;
  for (const std::int64_t N : {11, 8, 3}) {
    for (const char* map : {"elu", "hedgehog"}) {
      for (const bool decayed : {false, true}) {
        CAPTURE(N);
        CAPTURE(std::string(map));
        CAPTURE(decayed);
        const std::vector<double> gammas = decayed ? std::vector<double>{0.6, 1.0} : std::vector<double>{};
        auto kernel = make_windowed(map, W, H, D, gammas, rng);
        kernel->to(DType::f64);
        set_scale(*kernel, {0.7, -1.3});
        Variable q(randn({B, H, N, D}, rng), true), k(randn({B, H, N, D}, rng), true);
        Variable v(randn({B, H, N, Dv}, rng), true);
        const Variable out = kernel->forward(q, k, v, AttentionMask{});
        const Tensor g = randn(out.shape(), rng);
        out.backward(g);
        const Tensor dq = q.grad(), dk = k.grad(), dv = v.grad(), dbeta = window_scale(*kernel).grad();
        q.zero_grad();
        k.zero_grad();
        v.zero_grad();
        kernel->zero_grad();
        const Variable ref = windowed_formula(*kernel, q, k, v, W, gammas);
        ref.backward(g);
        CHECK(allclose(out.data(), ref.data(), 1e-9, 1e-9));
        CHECK(allclose(dq, q.grad(), 1e-9, 1e-9));
        CHECK(allclose(dk, k.grad(), 1e-9, 1e-9));
        CHECK(allclose(dv, v.grad(), 1e-9, 1e-9));
        if (N > W) {
          CHECK(allclose(dbeta, window_scale(*kernel).grad(), 1e-9, 1e-9));
          CHECK(abs_max(dbeta) > 1e-6);  // the scale moves the result
        }
        // The window changes the result: softmax alone over the whole prefix differs past W.
        if (N > W) {
          const Variable all =
              softmax(matmul(q, transpose(k, 2, 3)) * (0.5) +
                      Variable(unary(UnaryOp::scale, unary(UnaryOp::add_scalar, band(H, N, N, {}, true), -1.0), 1e30)));
          CHECK_FALSE(allclose(out.data(), matmul(all, v).data(), 1e-3, 1e-3));
        }
      }
    }
  }
}

TEST_CASE("gradcheck: linear attention with a window, every input and weight (t2r map, decay)") {
  Rng rng(62);
  auto kernel = make_windowed("t2r", 3, 2, 3, {0.7, 1.0}, rng);
  kernel->to(DType::f64);
  set_scale(*kernel, {0.4, -0.2});
  std::vector<Variable> params;
  for (const auto& [name, p] : kernel->named_parameters()) params.push_back(p);
  REQUIRE(params.size() == 3);  // the map's weight and bias, window_scale
  const GradcheckResult r =
      gradcheck([&](const std::vector<Variable>& x) { return kernel->forward(x[0], x[1], x[2], AttentionMask{}); },
                {randn({1, 2, 8, 3}, rng), randn({1, 2, 8, 3}, rng), randn({1, 2, 8, 2}, rng)}, params);
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("linear attention with a window: the recurrent form reproduces the causal forward, and beams reorder it") {
  Rng rng(63);
  for (const std::string map : {"elu", "hedgehog"}) {
    CAPTURE(map);
    auto kernel = make_windowed(map, 8, 4, 8, {0.6, 0.95, 0.99, 1.0}, rng);
    Tensor beta = window_scale(*kernel).data();
    for (std::int64_t h = 0; h < 4; ++h) beta.data<float>()[h] = 0.5f * static_cast<float>(h) - 0.7f;
    const std::int64_t B = 2, H = 4, N = 37;
    // Scores large enough that exp(q.k / sqrt(D)) alone would overflow float32.
    const Tensor q = unary(UnaryOp::scale, randn({B, H, N, 8}, rng, DType::f32), 6.0);
    const Tensor k = unary(UnaryOp::scale, randn({B, H, N, 8}, rng, DType::f32), 6.0);
    const Tensor v = randn({B, H, N, 16}, rng, DType::f32);
    const Tensor full = kernel->forward(Variable(q), Variable(k), Variable(v), AttentionMask{}).data();
    CHECK(std::isfinite(abs_max(full)));
    kat::test::check_steps_match_forward(*kernel, q, k, v, full);
  }
}

TEST_CASE("linear attention with a window: distillation measures the combined weights against softmax") {
  Rng rng(64);
  const std::int64_t B = 1, H = 2, N = 9, D = 4, W = 3;
  const std::vector<double> gammas = {0.5, 1.0};
  auto kernel = make_windowed("hedgehog", W, H, D, gammas, rng);
  kernel->to(DType::f64);
  set_scale(*kernel, {1.1, -0.4});
  kernel->set_distillation(true);
  const Tensor q = randn({B, H, N, D}, rng), k = randn({B, H, N, D}, rng), v = randn({B, H, N, 3}, rng);
  kernel->forward(Variable(q), Variable(k), Variable(v), AttentionMask{});
  const Variable loss = kernel->distillation_loss();
  // By hand: P the causal softmax, A the formula's weights, KL averaged over the queries.
  FeatureMap& fm = kernel->feature_map();
  const Tensor kern = matmul(fm.forward(Variable(q), FeatureRole::query).data(),
                             fm.forward(Variable(k), FeatureRole::key).data().transpose(2, 3));
  const Tensor far = band(H, N, W, gammas, false);
  const Tensor logits = unary(UnaryOp::scale, matmul(q, k.transpose(2, 3)), 1.0 / std::sqrt(double(D)));
  const double beta[] = {1.1, -0.4};
  double kl = 0;
  for (std::int64_t h = 0; h < H; ++h) {
    for (std::int64_t i = 0; i < N; ++i) {
      std::vector<double> p(static_cast<std::size_t>(i + 1)), a(p.size());
      double zp = 0, za = 0;
      for (std::int64_t j = 0; j <= i; ++j) {
        p[j] = std::exp(logits.at({0, h, i, j}));
        a[j] = i - j < W ? p[j] : std::exp(beta[h]) * kern.at({0, h, i, j}) * far.at({0, h, i, j});
        zp += p[j];
        za += a[j];
      }
      for (std::int64_t j = 0; j <= i; ++j) kl += p[j] / zp * (std::log(p[j] / zp) - std::log(a[j] / za));
    }
  }
  CHECK(loss.data().item() == doctest::Approx(kl / static_cast<double>(H * N)).epsilon(1e-9));
  // The loss trains the map and the window's scale, and nothing reaches q or k.
  loss.backward();
  CHECK(abs_max(window_scale(*kernel).grad()) > 1e-6);
  const auto learned = kernel->distilled_parameters();
  REQUIRE(learned.size() == 3);
  CHECK(learned.back().first.find("window_scale") != std::string::npos);
}

TEST_CASE("linear attention with a window: what it refuses, naming the option") {
  Rng rng(65);
  AttentionOptions o;
  o.type = "linear";
  o.window = 4;
  CHECK_THROWS_WITH_AS(LinearAttention(o, AttentionSetup{4, false, 2, /*cross=*/true}, "elu", rng),
                       doctest::Contains("window applies to causal self-attention only"), Error);
  LinearAttention both(o, AttentionSetup{4, false, 2}, "elu", rng);
  const Variable x(randn({1, 2, 6, 4}, rng, DType::f32));
  CHECK_THROWS_WITH_AS(both.forward(x, x, x, AttentionMask{}),
                       doctest::Contains("window applies to causal self-attention only"), Error);
  o.feature_map = "favor+";
  o.features = 8;
  LinearAttention favor(o, AttentionSetup{4, true, 2}, "elu", rng);
  CHECK_THROWS_WITH_AS(favor.forward(x, x, x, AttentionMask{}),
                       doctest::Contains("this one stabilizes its keys (favor+, favor-trig)"), Error);
  o.window = -1;
  CHECK_THROWS_WITH_AS(LinearAttention(o, AttentionSetup{4, true, 2}, "elu", rng),
                       doctest::Contains("window must be >= 0, got -1"), Error);
}
