// Linear attention and its feature maps: every kernel against the quadratic formula (values and
// gradients, causal or not, with padding), gradient checks of the fused causal op, its memory
// (independent of N), thread independence, and the recurrent form.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/reduce.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "layers/attention/causal_linear_op.h"
#include "layers/attention/feature_maps/favor.h"
#include "layers/attention/feature_maps/registry.h"
#include "layers/attention/linear_attention.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::rand_uniform;
using kat::test::randn;

namespace {

using Vars = std::vector<Variable>;

void require_ok(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opt = {}) {
  const GradcheckResult r = gradcheck(fn, inputs, opt);
  INFO(r.message);
  REQUIRE(r.ok);
}

// (1, 1, N, N) lower-triangular ones.
Tensor causal_ones(std::int64_t n, DType dtype) {
  Tensor t = Tensor::zeros({1, 1, n, n}, dtype);
  for (std::int64_t i = 0; i < n; ++i) t.select(0, 0).select(0, 0).select(0, i).slice(0, 0, i + 1).fill_(1.0);
  return t;
}

// The quadratic formula, each step explicit: A = phi(Q) phi(K)^T, hidden pairs zeroed, rows
// normalized (plus eps), times V.
Variable quadratic(const Variable& phi_q, const Variable& phi_k, const Variable& v, const AttentionMask& mask,
                   double eps) {
  const std::int64_t B = phi_q.size(0), N = phi_q.size(2), M = phi_k.size(2);
  Variable a = matmul(phi_q, transpose(phi_k, 2, 3));  // (B, H, N, M)
  if (mask.causal) a = a * Variable(causal_ones(N, a.dtype()));
  if (!mask.key_lengths.empty()) {
    a = a * Variable(key_padding_weights(mask, B, M, a.dtype()).transpose(2, 3));  // (B, 1, 1, M)
  }
  return matmul(a, v) / (sum(a, {3}, true) + eps);
}

struct MapCase {
  std::string map;
  std::int64_t features;
};

const std::vector<MapCase>& map_cases() {
  static const std::vector<MapCase> all = {{"elu", 0}, {"relu", 0}, {"favor+", 12}, {"favor-trig", 6}};
  return all;
}

std::shared_ptr<LinearAttention> make_linear(const MapCase& c, std::int64_t head_dim, bool causal, Rng& rng,
                                             double feature_eps = 1e-6, double eps = 1e-6) {
  AttentionOptions o;
  o.eps = eps;
  o.type = "linear";
  o.feature_map = c.map;
  o.features = c.features;
  o.feature_eps = feature_eps;
  auto k = std::make_shared<LinearAttention>(o, AttentionSetup{head_dim, causal}, "elu", rng);
  k->to(DType::f64);
  return k;
}

}  // namespace

TEST_CASE("linear attention equals the quadratic formula, values and gradients, for every map and mask") {
  Rng rng(11);
  const std::int64_t B = 2, H = 2, N = 7, D = 4, Dv = 3;
  for (const MapCase& c : map_cases()) {
    for (bool causal : {false, true}) {
      for (bool padded : {false, true}) {
        CAPTURE(c.map);
        CAPTURE(causal);
        CAPTURE(padded);
        // The stabilizers cancel exactly where no epsilon sits beside them: favor maps run with
        // a normalizer epsilon of 0 here (their default, 1e-30, is tested below).
        const bool favor = c.map.rfind("favor", 0) == 0;
        const double eps = favor ? 0.0 : 1e-6;
        auto kernel = make_linear(c, D, causal, rng, /*feature_eps=*/favor ? 0.0 : 1e-6, eps);
        const AttentionMask mask{false, padded ? std::vector<std::int64_t>{7, 4} : std::vector<std::int64_t>{}};
        Variable q(randn({B, H, N, D}, rng), true), k(randn({B, H, N, D}, rng), true),
            v(randn({B, H, N, Dv}, rng), true);
        Variable out = kernel->forward(q, k, v, mask);
        const Tensor g = randn(out.shape(), rng);
        out.backward(g);
        const Tensor dq = q.grad(), dk = k.grad(), dv = v.grad();
        q.zero_grad();
        k.zero_grad();
        v.zero_grad();

        // The reference reads unstabilized features from the same map: the stabilizers cancel.
        FeatureMap& fm = kernel->feature_map();
        if (auto* favor = dynamic_cast<FavorFeatureMap*>(&fm)) favor->set_stabilize(false);
        AttentionMask ref_mask = mask;
        ref_mask.causal = causal;
        Variable ref = quadratic(fm.forward(q, FeatureRole::query), fm.forward(k, FeatureRole::key), v, ref_mask, eps);
        ref.backward(g);
        const double tol = c.map == "favor-trig" ? 1e-7 : 1e-9;  // signed features: larger cancellation
        CHECK(allclose(out.data(), ref.data(), tol, tol));
        CHECK(allclose(dq, q.grad(), tol, tol));
        CHECK(allclose(dk, k.grad(), tol, tol));
        CHECK(allclose(dv, v.grad(), tol, tol));
      }
    }
  }
}

TEST_CASE("FAVOR attention does not depend on its stabilizer, even where normalizers are tiny") {
  // Queries and keys of norm 12 in random directions: after the stabilizers most normalizers are
  // far below 1e-6, as in trained language models. With the default epsilons the result is the
  // plain formula's; an epsilon of 1e-6 on the normalizers would bias it (checked too, so the test
  // knows it is in that regime).
  Rng rng(29);
  const std::int64_t N = 24, D = 16, Dv = 3;
  auto with_norm = [&](double norm) {
    Tensor x = randn({1, 2, N, D}, rng);
    const Tensor len = unary(UnaryOp::sqrt, sum(unary(UnaryOp::square, x), {3}, true));
    return unary(UnaryOp::scale, binary(BinaryOp::div, x, len), norm);
  };
  const Tensor q = with_norm(12.0), k = with_norm(12.0), v = randn({1, 2, N, Dv}, rng);
  for (bool causal : {false, true}) {
    CAPTURE(causal);
    AttentionOptions o;
    o.type = "performer";
    o.features = 32;
    Rng draw(5);
    LinearAttention kernel(o, AttentionSetup{D, causal}, "favor+", draw);
    kernel.to(DType::f64);
    CHECK(kernel.eps() == 1e-30);
    const Tensor out = kernel.forward(Variable(q), Variable(k), Variable(v), AttentionMask{}).data();

    auto& fm = dynamic_cast<FavorFeatureMap&>(kernel.feature_map());
    fm.set_stabilize(false);
    const AttentionMask ref_mask{causal, {}};
    const Tensor ref = quadratic(fm.forward(Variable(q), FeatureRole::query), fm.forward(Variable(k), FeatureRole::key),
                                 Variable(v), ref_mask, 0.0)
                           .data();
    fm.set_stabilize(true);
    CHECK(allclose(out, ref, 1e-9, 1e-9));

    o.eps = 1e-6;
    Rng same_draw(5);
    LinearAttention biased(o, AttentionSetup{D, causal}, "favor+", same_draw);
    biased.to(DType::f64);
    const Tensor off = biased.forward(Variable(q), Variable(k), Variable(v), AttentionMask{}).data();
    CHECK_FALSE(allclose(off, ref, 1e-3, 1e-3));
  }
  // Maps with a fixed scale keep 1e-6 (Katharopoulos et al. 2020).
  LinearAttention elu(AttentionOptions{}, AttentionSetup{D, true}, "elu", rng);
  CHECK(elu.eps() == 1e-6);
}

TEST_CASE("gradcheck: linear attention through each feature map, causal and not, with padding") {
  Rng rng(12);
  for (const MapCase& c : map_cases()) {
    for (bool causal : {false, true}) {
      CAPTURE(c.map);
      CAPTURE(causal);
      // Favor maps without epsilons: then the stabilizers are exactly invariant, so the gradient
      // (which treats them as constants) is the gradient of the function finite differences see.
      const bool favor = c.map.rfind("favor", 0) == 0;
      auto kernel = make_linear(c, 3, causal, rng, favor ? 0.0 : 1e-6, favor ? 0.0 : 1e-6);
      const AttentionMask mask{false, {5, 3}};
      require_ok([&](const Vars& x) { return kernel->forward(x[0], x[1], x[2], mask); },
                 {randn({2, 2, 5, 3}, rng), randn({2, 2, 5, 3}, rng), randn({2, 2, 5, 2}, rng)});
    }
  }
}

TEST_CASE("gradcheck: the fused causal op, its normalizer, stabilizer and partial gradients") {
  Rng rng(13);
  const Shape qs{2, 3, 6, 4}, vs{2, 3, 6, 5};
  for (double eps : {0.0, 0.3}) {
    CAPTURE(eps);
    require_ok([&](const Vars& x) { return causal_linear_attention(x[0], x[1], x[2], eps); },
               {rand_uniform(qs, rng, 0.1, 1.0), rand_uniform(qs, rng, 0.1, 1.0), randn(vs, rng)});
  }
  // A non-decreasing stabilizer C: the sums are carried in units of exp(C_i).
  Tensor c = Tensor::empty({2, 3, 6, 1}, DType::f64);
  double* pc = c.data<double>();
  for (std::int64_t r = 0; r < 6; ++r) {
    double run = rng.normal();
    for (std::int64_t i = 0; i < 6; ++i) pc[r * 6 + i] = run += rng.uniform() < 0.5 ? 0.0 : rng.uniform();
  }
  require_ok([&](const Vars& x) { return causal_linear_attention(x[0], x[1], x[2], 1e-3, c); },
             {rand_uniform(qs, rng, 0.1, 1.0), rand_uniform(qs, rng, 0.1, 1.0), randn(vs, rng)});
  // Dividing key row j by exp(C_j) and passing C gives the unstabilized result.
  const Tensor q = rand_uniform(qs, rng, 0.1, 1.0), k = rand_uniform(qs, rng, 0.1, 1.0), v = randn(vs, rng);
  const Tensor k_scaled = binary(BinaryOp::mul, k, unary(UnaryOp::exp, unary(UnaryOp::neg, c)));
  CHECK(allclose(causal_linear_attention(Variable(q), Variable(k_scaled), Variable(v), 0.0, c).data(),
                 causal_linear_attention(Variable(q), Variable(k), Variable(v), 0.0).data(), 1e-12, 1e-12));
  // Only some inputs need a gradient; permuted (strided) views are read in place.
  for (int which = 0; which < 3; ++which) {
    CAPTURE(which);
    const Tensor base = randn({2, 6, 3, 4}, rng);
    Variable x0(rand_uniform(qs, rng, 0.1, 1.0), which == 0), x1(rand_uniform(qs, rng, 0.1, 1.0), which == 1);
    Variable x2(base, which == 2);
    Variable vv = permute(x2, {0, 2, 1, 3});  // (2, 3, 6, 4), strided
    Variable out = causal_linear_attention(x0, x1, vv, 0.1);
    sum(out * out).backward();
    const Variable& leaf = which == 0 ? x0 : which == 1 ? x1 : x2;
    CHECK(leaf.grad().defined());
    require_ok(
        [&](const Vars& x) {
          return causal_linear_attention(which == 0 ? x[0] : Variable(x0.data()),
                                         which == 1 ? x[0] : Variable(x1.data()),
                                         permute(which == 2 ? x[0] : Variable(base), {0, 2, 1, 3}), 0.1);
        },
        {leaf.data()});
  }
}

TEST_CASE("causal linear attention: extra memory grows with N by at most two floats per position") {
  // Forward and backward at two lengths; everything beyond the inputs, the output and the three
  // gradients must be a few kilobytes plus, on the register-tiled kernels, two floats per position
  // (each row's normalizer and its gradient, kept for the reverse sweeps): far below the N x M x Dv
  // cumulative sum.
  const std::int64_t B = 1, H = 2, M = 64, Dv = 64;
  auto extra_bytes = [&](std::int64_t n) {
    Rng rng(14);
    Variable q(rand_uniform({B, H, n, M}, rng, 0.0, 1.0, DType::f32), true);
    Variable k(rand_uniform({B, H, n, M}, rng, 0.0, 1.0, DType::f32), true);
    Variable v(randn({B, H, n, Dv}, rng, DType::f32), true);
    const Tensor g = randn({B, H, n, Dv}, rng, DType::f32);
    reset_peak_memory();
    const std::int64_t before = memory_stats().live_bytes;
    {
      Variable out = causal_linear_attention(q, k, v, 1e-6);
      out.backward(g);
    }
    const std::int64_t expected = 4 * (B * H * n * Dv) /* out */ + 4 * (2 * B * H * n * M + B * H * n * Dv) /* grads */;
    return memory_stats().peak_bytes - before - expected;
  };
  // One thread: then one scratch state is alive at a time, whatever the scheduler does.
  const int saved = num_threads();
  set_num_threads(1);
  const std::int64_t e4k = extra_bytes(4096), e16k = extra_bytes(16384);
  set_num_threads(saved);
  INFO("extra bytes at N=4096: " << e4k << ", at N=16384: " << e16k);
  CHECK(e4k >= 0);
  CHECK(e16k - e4k <= 8 * (16384 - 4096) + 16384);  // two floats per position, plus allocation rounding
  CHECK(e16k < 16384 * M * Dv * 4 / 1000);          // under a thousandth of the cumulative sum's size
}

TEST_CASE("causal linear attention: float32 agrees with float64, and threads do not change the result") {
  Rng rng(15);
  const Shape qs{2, 4, 1024, 16}, vs{2, 4, 1024, 8};
  const Tensor q = rand_uniform(qs, rng, 0.0, 1.0), k = rand_uniform(qs, rng, 0.0, 1.0), v = randn(vs, rng);
  const Tensor g = randn(vs, rng);
  auto run = [&](DType dt) {
    Variable a(q.to(dt), true), b(k.to(dt), true), c(v.to(dt), true);
    Variable out = causal_linear_attention(a, b, c, 1e-6);
    out.backward(g.to(dt));
    return std::vector<Tensor>{out.data(), a.grad(), b.grad(), c.grad()};
  };
  const auto r64 = run(DType::f64);
  const auto r32 = run(DType::f32);
  for (std::size_t i = 0; i < r64.size(); ++i) {
    CAPTURE(i);
    CHECK(allclose(r32[i].to(DType::f64), r64[i], 1e-3, 1e-4));
  }
  const int saved = num_threads();
  set_num_threads(1);
  const auto one = run(DType::f32);
  set_num_threads(2);
  const auto two = run(DType::f32);
  set_num_threads(saved);
  for (std::size_t i = 0; i < one.size(); ++i) CHECK(max_abs_diff(one[i], two[i]) == 0.0);
}

namespace {

// A non-decreasing stabilizer (B, H, N, 1): small random steps, and a jump of `jump` at row `at`.
Tensor climbing_log_scale(std::int64_t b, std::int64_t h, std::int64_t n, std::int64_t at, double jump, Rng& rng,
                          DType dtype) {
  Tensor c = Tensor::empty({b, h, n, 1}, DType::f64);
  double* pc = c.data<double>();
  for (std::int64_t s = 0; s < b * h; ++s) {
    double run = rng.normal();
    for (std::int64_t i = 0; i < n; ++i) pc[s * n + i] = run += (i == at ? jump : 0.0) + 0.1 * rng.uniform();
  }
  return c.to(dtype);
}

// Output and the gradients of the inputs that need one, for the given chunk size (0: row by row).
std::vector<Tensor> causal_run(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& g, const Tensor& c,
                               std::int64_t chunk, int which = -1) {
  Variable a(q, which < 0 || which == 0), b(k, which < 0 || which == 1), d(v, which < 0 || which == 2);
  Variable out = causal_linear_attention(a, b, d, 1e-3, c, chunk);
  out.backward(g);
  return {out.data(), a.grad(), b.grad(), d.grad()};
}

}  // namespace

TEST_CASE("causal linear attention: the chunked kernels equal the row-by-row recurrence") {
  Rng rng(18);
  // N a multiple of the chunk, not a multiple, and shorter than one chunk; with and without a
  // stabilizer, which jumps by 12 inside a chunk (beyond the chunked form's range: that chunk
  // goes row by row) or by 3 (within it).
  for (std::int64_t n : {5, 16, 37, 100}) {
    for (std::int64_t chunk : {4, 16, 64}) {
      for (double jump : {-1.0, 3.0, 12.0}) {
        CAPTURE(n);
        CAPTURE(chunk);
        CAPTURE(jump);
        const Shape qs{2, 2, n, 6}, vs{2, 2, n, 5};
        const Tensor q = rand_uniform(qs, rng, 0.1, 1.0), k = rand_uniform(qs, rng, 0.1, 1.0), v = randn(vs, rng);
        const Tensor g = randn(vs, rng);
        const Tensor c = jump < 0 ? Tensor() : climbing_log_scale(2, 2, n, n / 2 + 1, jump, rng, DType::f64);
        const auto want = causal_run(q, k, v, g, c, 0);
        const auto got = causal_run(q, k, v, g, c, chunk);
        for (std::size_t i = 0; i < want.size(); ++i) {
          CAPTURE(i);
          CHECK(allclose(got[i], want[i], 1e-10, 1e-12));
        }
        // Only one input needs a gradient: the other sweeps are skipped.
        for (int which = 0; which < 3; ++which) {
          CAPTURE(which);
          const auto one = causal_run(q, k, v, g, c, chunk, which);
          CHECK(allclose(one[static_cast<std::size_t>(which) + 1], want[static_cast<std::size_t>(which) + 1], 1e-10,
                         1e-12));
        }
      }
    }
  }
}

TEST_CASE("causal linear attention: chunked float32 agrees with the recurrence, even across a stabilizer jump") {
  // A jump of 100 inside a chunk: exp(-100) is below float32's range, so the chunked form must not
  // be used across it (it would divide by normalizers that underflowed to zero).
  Rng rng(19);
  const std::int64_t n = 300;
  const Shape qs{2, 2, n, 16}, vs{2, 2, n, 8};
  const Tensor q = rand_uniform(qs, rng, 0.1, 1.0, DType::f32), k = rand_uniform(qs, rng, 0.1, 1.0, DType::f32);
  const Tensor v = randn(vs, rng, DType::f32), g = randn(vs, rng, DType::f32);
  for (double jump : {-1.0, 2.0, 100.0}) {
    CAPTURE(jump);
    const Tensor c = jump < 0 ? Tensor() : climbing_log_scale(2, 2, n, 150, jump, rng, DType::f32);
    const auto want = causal_run(q, k, v, g, c, 0);
    const auto got = causal_run(q, k, v, g, c, 64);
    for (std::size_t i = 0; i < want.size(); ++i) {
      CAPTURE(i);
      CHECK(allclose(got[i], want[i], 1e-4, 1e-5));
    }
  }
}

TEST_CASE("causal linear attention: the register-tiled float32 kernels equal the float64 recurrence") {
  // Shapes around the tiles (16 x 16, and 8 x 32 where the width is a multiple of 32) and the blocks
  // of rows (32): one row, partial blocks, M and Dv of one and of several tiles, sweeps on either
  // tile; with and without a stabilizer (a jump of 3 inside the sequence); every gradient alone and
  // all together; one thread and two give identical results.
  if (!causal_linear_tiles_available(DType::f32, 16, 16)) {
    MESSAGE("this CPU has no AVX-512: the register-tiled kernels are not used here");
    return;
  }
  Rng rng(21);
  struct Case {
    std::int64_t n, m, dv;
  };
  for (const Case& cs : {Case{1, 16, 16}, Case{31, 32, 16}, Case{33, 16, 48}, Case{100, 64, 64}, Case{70, 128, 32}}) {
    for (double jump : {-1.0, 3.0}) {
      CAPTURE(cs.n);
      CAPTURE(cs.m);
      CAPTURE(cs.dv);
      CAPTURE(jump);
      const Shape qs{2, 3, cs.n, cs.m}, vs{2, 3, cs.n, cs.dv};
      const Tensor q = rand_uniform(qs, rng, 0.1, 1.0), k = rand_uniform(qs, rng, 0.1, 1.0), v = randn(vs, rng);
      const Tensor g = randn(vs, rng);
      const Tensor c = jump < 0 ? Tensor() : climbing_log_scale(2, 3, cs.n, cs.n / 2, jump, rng, DType::f64);
      const auto f32 = [](const Tensor& t) { return t.defined() ? t.to(DType::f32) : t; };
      const auto want = causal_run(q, k, v, g, c, 0);
      const auto got = causal_run(f32(q), f32(k), f32(v), f32(g), f32(c), -1);
      for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        CHECK(allclose(got[i].to(DType::f64), want[i], 1e-4, 1e-5));
      }
      for (int which = 0; which < 3; ++which) {
        CAPTURE(which);
        const auto one = causal_run(f32(q), f32(k), f32(v), f32(g), f32(c), -1, which);
        const std::size_t w = static_cast<std::size_t>(which) + 1;
        CHECK(max_abs_diff(one[w], got[w]) == 0.0);
      }
      const int saved = num_threads();
      set_num_threads(1);
      const auto serial = causal_run(f32(q), f32(k), f32(v), f32(g), f32(c), -1);
      set_num_threads(saved);
      for (std::size_t i = 0; i < got.size(); ++i) CHECK(max_abs_diff(serial[i], got[i]) == 0.0);
    }
  }
}

TEST_CASE("causal linear attention: the register tiles read heads split from a projection in place") {
  // q, k, v as the heads of (B, N, H D) projections, and the output's gradient as the heads of a
  // (B, N, H Dv) gradient: the output takes v's layout (its heads merge back without a copy), and
  // every value equals the run on contiguous copies.
  if (!causal_linear_tiles_available(DType::f32, 16, 16)) {
    MESSAGE("this CPU has no AVX-512: the register-tiled kernels are not used here");
    return;
  }
  Rng rng(23);
  const std::int64_t B = 2, H = 3, N = 45, M = 32, Dv = 16;
  const auto heads = [&](std::int64_t d, bool positive) {
    const Tensor t =
        positive ? rand_uniform({B, N, H, d}, rng, 0.1, 1.0, DType::f32) : randn({B, N, H, d}, rng, DType::f32);
    return t.permute({0, 2, 1, 3});  // (B, H, N, d), rows of d contiguous
  };
  const Tensor q = heads(M, true), k = heads(M, true), v = heads(Dv, false), g = heads(Dv, false);
  REQUIRE_FALSE(v.is_contiguous());
  const auto split = causal_run(q, k, v, g, Tensor(), -1);
  const auto dense = causal_run(q.contiguous(), k.contiguous(), v.contiguous(), g.contiguous(), Tensor(), -1);
  CHECK(memory_order(split[0]) == memory_order(v));
  for (std::size_t i = 0; i < split.size(); ++i) {
    CAPTURE(i);
    CHECK(max_abs_diff(split[i], dense[i]) == 0.0);
  }
}

TEST_CASE("gradcheck: the chunked causal op, with a partial last chunk and a stabilizer jump") {
  Rng rng(20);
  const Shape qs{1, 2, 11, 4}, vs{1, 2, 11, 3};
  for (double jump : {0.5, 9.0}) {
    CAPTURE(jump);
    const Tensor c = climbing_log_scale(1, 2, 11, 5, jump, rng, DType::f64);
    require_ok([&](const Vars& x) { return causal_linear_attention(x[0], x[1], x[2], 1e-3, c, 4); },
               {rand_uniform(qs, rng, 0.1, 1.0), rand_uniform(qs, rng, 0.1, 1.0), randn(vs, rng)});
  }
}

TEST_CASE("linear attention: the recurrent form reproduces the causal forward") {
  Rng rng(16);
  // Dv = 48: a multiple of 16, which float32 decoding on a CPU with AVX-512 runs with its output
  // in vector registers (causal_tiles::step); Dv = 5 runs the portable loop.
  for (const std::int64_t dv : {5, 48}) {
    for (const MapCase& c : map_cases()) {
      CAPTURE(c.map);
      CAPTURE(dv);
      auto kernel = make_linear(c, 8, /*causal=*/true, rng);
      kernel->to(DType::f32);
      const Tensor q = randn({2, 3, 40, 8}, rng, DType::f32), k = randn({2, 3, 40, 8}, rng, DType::f32);
      const Tensor v = randn({2, 3, 40, dv}, rng, DType::f32);
      // Growing key norms make the FAVOR stabilizer climb along the sequence, so the rescaling of
      // the running sums is exercised.
      Tensor k_grow = k.clone();
      for (std::int64_t i = 0; i < 40; ++i) {
        Tensor row = k_grow.slice(2, i, i + 1);
        row.copy_(unary(UnaryOp::scale, row, 0.5 + 0.05 * static_cast<double>(i)));
      }
      const Tensor full = kernel->forward(Variable(q), Variable(k_grow), Variable(v), AttentionMask{}).data();
      // The two float32 paths add in different orders; with trigonometric features a normalizer
      // sums terms of both signs, so their rounding is absolute, on the scale of the outputs.
      const double atol = 1e-5 * std::max(1.0, max_abs_diff(full, Tensor::zeros(full.shape())));
      auto state = kernel->start_self(2);
      for (std::int64_t i = 0; i < 40; ++i) {
        const Tensor step =
            kernel->step_self(q.slice(2, i, i + 1), k_grow.slice(2, i, i + 1), v.slice(2, i, i + 1), *state);
        CHECK(allclose(step, full.slice(2, i, i + 1), 1e-4, atol));
      }
      CHECK(state->length() == 40);
    }
  }
}

TEST_CASE("linear attention: bad input and options give errors naming the layer") {
  Rng rng(17);
  AttentionOptions o;
  o.type = "performer";
  CHECK_THROWS_WITH_AS(make_attention(o, AttentionSetup{8, true}, rng),
                       doctest::Contains("favor+ needs a positive number of random features (attention.features)"),
                       LayerError);
  o.features = 16;
  o.norms = "gaussian";
  CHECK_THROWS_WITH_AS(make_attention(o, AttentionSetup{8, true}, rng),
                       doctest::Contains("unknown projection norms 'gaussian' (known: chi, sqrt_d)"), LayerError);
  o = AttentionOptions{};
  o.type = "linear";
  o.feature_map = "cosh";
  CHECK_THROWS_WITH_AS(make_attention(o, AttentionSetup{8, false}, rng),
                       doctest::Contains("unknown feature map 'cosh' (known: elu, favor+, favor-trig, "), LayerError);
  o.feature_map = "";
  auto causal = make_attention(o, AttentionSetup{4, true}, rng);
  CHECK_THROWS_WITH_AS(causal->forward(Variable(Tensor::zeros({1, 1, 2, 4})), Variable(Tensor::zeros({1, 1, 3, 4})),
                                       Variable(Tensor::zeros({1, 1, 3, 4})), AttentionMask{}),
                       doctest::Contains("needs as many queries as keys, got 2 and 3"), Error);
  CHECK_THROWS_WITH_AS(
      causal_linear_attention(Variable(Tensor::zeros({1, 1, 3, 4})), Variable(Tensor::zeros({1, 1, 3, 5})),
                              Variable(Tensor::zeros({1, 1, 3, 2})), 0.0),
      doctest::Contains("causal_linear_attention: phi_q and phi_k must have the same shape"), Error);
  CHECK_THROWS_AS(causal_linear_attention(Variable(Tensor::zeros({1, 1, 3, 4})), Variable(Tensor::zeros({1, 1, 3, 4})),
                                          Variable(Tensor::zeros({1, 1, 3, 2})), -1.0),
                  Error);
}
