// The fused softmax attention op: values against a naive loop, gradients by finite differences,
// masking (hidden keys have no influence), float32 against float64, errors, thread independence.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/parallel.h"
#include "layers/attention/softmax_attention_op.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

namespace {

using Vars = std::vector<Variable>;

struct Case {
  const char* name;
  std::int64_t B, H, N, M, D, Dv;
  bool causal;
  std::vector<std::int64_t> key_lengths;

  AttentionMask mask() const { return AttentionMask{causal, key_lengths}; }
  double scale() const { return 1.0 / std::sqrt(static_cast<double>(D)); }
  Shape q_shape() const { return {B, H, N, D}; }
  Shape k_shape() const { return {B, H, M, D}; }
  Shape v_shape() const { return {B, H, M, Dv}; }
};

// Every mask setting, with size-1 axes among the shapes.
const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {"no mask", 2, 3, 4, 5, 3, 2, false, {}},
      {"no mask, B = H = N = 1", 1, 1, 1, 4, 2, 3, false, {}},
      {"no mask, all sizes 1", 1, 1, 1, 1, 1, 1, false, {}},
      {"causal, N == M", 2, 2, 5, 5, 3, 3, true, {}},
      {"causal, N == M == 1", 1, 1, 1, 1, 2, 2, true, {}},
      {"causal, N == M, H = 1", 2, 1, 4, 4, 2, 3, true, {}},
      {"causal, N < M", 2, 2, 2, 6, 3, 2, true, {}},
      {"causal, N = 1 (decoding)", 1, 3, 1, 5, 4, 2, true, {}},
      {"padding", 3, 2, 4, 6, 3, 2, false, {6, 1, 4}},
      {"padding, N = 1", 1, 1, 1, 3, 2, 2, false, {2}},
      {"causal + padding, N == M", 2, 2, 4, 4, 3, 2, true, {4, 2}},
      {"causal + padding, N < M", 2, 1, 3, 5, 2, 3, true, {5, 3}},
      // More queries than a block of rows (64): blocks that see fewer keys than the last, a last
      // block of fewer rows, and with padding keys that no block sees.
      {"causal, N == M, several row blocks", 1, 2, 130, 130, 3, 2, true, {}},
      {"causal + padding, N < M, several row blocks", 2, 1, 70, 140, 2, 3, true, {140, 75}},
  };
  return all;
}

// softmax(scale q k^T + mask) v with every step written out; the mask is tested per (i, j) as
// attention.h states it.
Tensor reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionMask& mask, double scale) {
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3), M = k.size(2), Dv = v.size(3);
  const std::vector<double> Q = q.to_vector<double>(), K = k.to_vector<double>(), V = v.to_vector<double>();
  std::vector<double> out(static_cast<std::size_t>(B * H * N * Dv), 0.0);
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t h = 0; h < H; ++h) {
      const std::int64_t bh = b * H + h;
      for (std::int64_t i = 0; i < N; ++i) {
        std::vector<double> logit(M), p(M, 0.0);
        std::vector<bool> seen(M);
        double mx = -std::numeric_limits<double>::infinity();
        for (std::int64_t j = 0; j < M; ++j) {
          seen[j] = (!mask.causal || j <= i + (M - N)) && (mask.key_lengths.empty() || j < mask.key_lengths[b]);
          double dot = 0.0;
          for (std::int64_t d = 0; d < D; ++d) dot += Q[(bh * N + i) * D + d] * K[(bh * M + j) * D + d];
          logit[j] = scale * dot;
          if (seen[j]) mx = std::max(mx, logit[j]);
        }
        double z = 0.0;
        for (std::int64_t j = 0; j < M; ++j) {
          if (seen[j]) p[j] = std::exp(logit[j] - mx);
          z += p[j];
        }
        for (std::int64_t e = 0; e < Dv; ++e) {
          double acc = 0.0;
          for (std::int64_t j = 0; j < M; ++j) acc += p[j] / z * V[(bh * M + j) * Dv + e];
          out[(bh * N + i) * Dv + e] = acc;
        }
      }
    }
  }
  return Tensor::from_vector(out, {B, H, N, Dv});
}

Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v, const Case& c) {
  return softmax_attention(Variable(q), Variable(k), Variable(v), c.mask(), c.scale()).data();
}

// Output and the gradients of q, k, v for the output gradient g.
struct Result {
  Tensor out, dq, dk, dv;
};

Result forward_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Case& c, const Tensor& g) {
  Variable vq(q.clone(), true), vk(k.clone(), true), vv(v.clone(), true);
  const Variable y = softmax_attention(vq, vk, vv, c.mask(), c.scale());
  y.backward(g);
  return {y.data(), vq.grad(), vk.grad(), vv.grad()};
}

void require_gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs) {
  const GradcheckResult r = gradcheck(fn, inputs);
  INFO(r.message);
  CHECK(r.ok);
}

// A copy of t (B, H, M, X) with the positions j >= length of each batch item replaced by values near 50.
Tensor scramble_padding(const Tensor& t, const std::vector<std::int64_t>& lengths, Rng& rng) {
  Tensor out = t.clone();
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    const std::int64_t L = lengths[b], M = t.size(2);
    if (L == M) continue;
    Tensor pad = out.select(0, static_cast<std::int64_t>(b)).slice(1, L, M);
    pad.copy_(kat::test::rand_uniform(pad.shape(), rng, 40.0, 60.0, t.dtype()));
  }
  return out;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error thrown)";
}

void check_error(const std::function<void()>& fn, const std::string& fragment) {
  const std::string message = error_of(fn);
  CAPTURE(message);
  CHECK(message.find("softmax_attention") != std::string::npos);
  CHECK(message.find(fragment) != std::string::npos);
}

class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(num_threads()) {}
  ~ThreadCountGuard() { set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

}  // namespace

TEST_CASE("softmax_attention: values match a naive loop under every mask") {
  Rng rng(300);
  for (const Case& c : cases()) {
    CAPTURE(c.name);
    const Tensor q = randn(c.q_shape(), rng), k = randn(c.k_shape(), rng), v = randn(c.v_shape(), rng);
    const Variable y = softmax_attention(Variable(q), Variable(k), Variable(v), c.mask(), c.scale());
    CHECK_FALSE(y.requires_grad());
    CHECK(y.shape() == Shape{c.B, c.H, c.N, c.Dv});
    CHECK(max_abs_diff(y.data(), reference(q, k, v, c.mask(), c.scale())) < 1e-12);
  }
}

TEST_CASE("softmax_attention: attention rows sum to one, and large logits stay finite") {
  Rng rng(301);
  for (const Case& c : cases()) {
    CAPTURE(c.name);
    for (DType dt : {DType::f32, DType::f64}) {
      const Tensor q = randn(c.q_shape(), rng, dt), k = randn(c.k_shape(), rng, dt);
      const Tensor ones = Tensor::ones(c.v_shape(), dt);
      // A scale of 300 makes logits of several hundred: exp without the row maximum overflows.
      for (double scale : {c.scale(), 300.0}) {
        CAPTURE(scale);
        const Tensor y = softmax_attention(Variable(q), Variable(k), Variable(ones), c.mask(), scale).data();
        CHECK(allclose(y, Tensor::ones(y.shape(), dt), 0.0, dt == DType::f32 ? 1e-6 : 1e-14));
        const Tensor v = randn(c.v_shape(), rng, dt);
        const Tensor z = softmax_attention(Variable(q), Variable(k), Variable(v), c.mask(), scale).data();
        // float32 logits of several hundred carry absolute errors near 1e-4.
        const double tol = dt == DType::f64 ? 1e-10 : (scale > 1.0 ? 1e-2 : 1e-5);
        CHECK(max_abs_diff(z.to(DType::f64), reference(q, k, v, c.mask(), scale)) < tol);
      }
    }
  }
}

TEST_CASE("softmax_attention: strided views are read in place") {
  Rng rng(302);
  const Case c{"causal + padding", 2, 3, 4, 4, 5, 2, true, {3, 4}};
  // As multi-head attention passes them: (B, N, H, D) permuted to (B, H, N, D).
  const Tensor qs = randn({c.B, c.N, c.H, c.D}, rng), ks = randn({c.B, c.M, c.H, c.D}, rng);
  const Tensor vs = randn({c.B, c.M, c.H, c.Dv}, rng);
  const Tensor q = qs.permute({0, 2, 1, 3}), k = ks.permute({0, 2, 1, 3}), v = vs.permute({0, 2, 1, 3});
  REQUIRE_FALSE(q.is_contiguous());
  const Tensor expected = reference(q.contiguous(), k.contiguous(), v.contiguous(), c.mask(), c.scale());
  CHECK(max_abs_diff(attend(q, k, v, c), expected) < 1e-12);
  // As the KV cache passes them: the first M positions of a longer buffer.
  const Tensor kbuf = randn({c.B, c.H, 9, c.D}, rng), vbuf = randn({c.B, c.H, 9, c.Dv}, rng);
  const Tensor kc = kbuf.slice(2, 0, c.M), vc = vbuf.slice(2, 0, c.M);
  CHECK(max_abs_diff(attend(q, kc, vc, c), reference(q, kc, vc, c.mask(), c.scale())) < 1e-12);
}

TEST_CASE("gradcheck: softmax_attention of q, k, v under every mask") {
  Rng rng(303);
  for (const Case& c : cases()) {
    CAPTURE(c.name);
    require_gradcheck([&](const Vars& x) { return softmax_attention(x[0], x[1], x[2], c.mask(), c.scale()); },
                      {randn(c.q_shape(), rng), randn(c.k_shape(), rng), randn(c.v_shape(), rng)});
  }
}

TEST_CASE("gradcheck: softmax_attention of permuted views, with another op after it") {
  Rng rng(304);
  const Case c{"causal + padding", 2, 2, 3, 3, 2, 3, true, {2, 3}};
  // Inputs (B, N, H, D) split into heads as multi-head attention does; the output merged back.
  require_gradcheck(
      [&](const Vars& x) {
        const Variable y = softmax_attention(permute(x[0], {0, 2, 1, 3}), permute(x[1], {0, 2, 1, 3}),
                                             permute(x[2], {0, 2, 1, 3}), c.mask(), c.scale());
        return tanh(permute(y, {0, 2, 1, 3}));
      },
      {randn({c.B, c.N, c.H, c.D}, rng), randn({c.B, c.M, c.H, c.D}, rng), randn({c.B, c.M, c.H, c.Dv}, rng)});
}

TEST_CASE("gradcheck: softmax_attention when only some inputs need a gradient") {
  Rng rng(305);
  const Case c{"causal, N < M", 2, 2, 3, 4, 3, 2, true, {}};
  const Variable q(randn(c.q_shape(), rng)), k(randn(c.k_shape(), rng)), v(randn(c.v_shape(), rng));
  const AttentionMask mask = c.mask();
  require_gradcheck([&](const Vars& x) { return softmax_attention(x[0], k, v, mask, c.scale()); },
                    {randn(c.q_shape(), rng)});
  require_gradcheck([&](const Vars& x) { return softmax_attention(q, x[0], v, mask, c.scale()); },
                    {randn(c.k_shape(), rng)});
  require_gradcheck([&](const Vars& x) { return softmax_attention(q, k, x[0], mask, c.scale()); },
                    {randn(c.v_shape(), rng)});
  require_gradcheck([&](const Vars& x) { return softmax_attention(x[0], x[1], v, mask, c.scale()); },
                    {randn(c.q_shape(), rng), randn(c.k_shape(), rng)});
  CHECK_FALSE(q.grad().defined());
  CHECK_FALSE(k.grad().defined());
  CHECK_FALSE(v.grad().defined());
}

TEST_CASE("softmax_attention: padded keys never influence the outputs") {
  Rng rng(306);
  for (const Case& c : cases()) {
    if (c.key_lengths.empty()) continue;
    CAPTURE(c.name);
    const Tensor q = randn(c.q_shape(), rng), k = randn(c.k_shape(), rng), v = randn(c.v_shape(), rng);
    const Tensor g = randn({c.B, c.H, c.N, c.Dv}, rng);
    const Tensor k2 = scramble_padding(k, c.key_lengths, rng), v2 = scramble_padding(v, c.key_lengths, rng);
    REQUIRE(max_abs_diff(k, k2) > 1.0);
    const Result a = forward_backward(q, k, v, c, g);
    const Result b = forward_backward(q, k2, v2, c, g);
    CHECK(max_abs_diff(a.out, b.out) == 0.0);
    CHECK(max_abs_diff(a.dq, b.dq) == 0.0);
    // No gradient reaches a padded key or value.
    for (std::size_t i = 0; i < c.key_lengths.size(); ++i) {
      const std::int64_t L = c.key_lengths[i];
      if (L == c.M) continue;
      const Tensor pad_k = b.dk.select(0, static_cast<std::int64_t>(i)).slice(1, L, c.M);
      const Tensor pad_v = b.dv.select(0, static_cast<std::int64_t>(i)).slice(1, L, c.M);
      CHECK(max_abs_diff(pad_k, Tensor::zeros(pad_k.shape(), DType::f64)) == 0.0);
      CHECK(max_abs_diff(pad_v, Tensor::zeros(pad_v.shape(), DType::f64)) == 0.0);
    }
  }
}

TEST_CASE("softmax_attention: a causal query never sees a later key") {
  Rng rng(307);
  for (const Case& c : cases()) {
    if (!c.causal || c.N < 2) continue;
    CAPTURE(c.name);
    const Tensor q = randn(c.q_shape(), rng), k = randn(c.k_shape(), rng), v = randn(c.v_shape(), rng);
    // Change the last key and value: only the last query sees them (unless padding hides them).
    Tensor k2 = k.clone(), v2 = v.clone();
    Tensor lk = k2.slice(2, c.M - 1, c.M), lv = v2.slice(2, c.M - 1, c.M);
    lk.copy_(randn(lk.shape(), rng));
    lv.copy_(randn(lv.shape(), rng));
    const Tensor a = attend(q, k, v, c), b = attend(q, k2, v2, c);
    CHECK(max_abs_diff(a.slice(2, 0, c.N - 1), b.slice(2, 0, c.N - 1)) == 0.0);
    if (c.key_lengths.empty()) CHECK(max_abs_diff(a.slice(2, c.N - 1, c.N), b.slice(2, c.N - 1, c.N)) > 1e-6);
  }
}

TEST_CASE("softmax_attention: float32 agrees with float64") {
  Rng rng(308);
  for (const Case& c : cases()) {
    CAPTURE(c.name);
    const Tensor q = randn(c.q_shape(), rng), k = randn(c.k_shape(), rng), v = randn(c.v_shape(), rng);
    const Tensor g = randn({c.B, c.H, c.N, c.Dv}, rng);
    const Result r64 = forward_backward(q, k, v, c, g);
    const Result r32 = forward_backward(q.to(DType::f32), k.to(DType::f32), v.to(DType::f32), c, g.to(DType::f32));
    CHECK(r32.out.dtype() == DType::f32);
    CHECK(r32.dq.dtype() == DType::f32);
    CHECK(max_abs_diff(r32.out.to(DType::f64), r64.out) < 1e-5);
    CHECK(max_abs_diff(r32.dq.to(DType::f64), r64.dq) < 1e-5);
    CHECK(max_abs_diff(r32.dk.to(DType::f64), r64.dk) < 1e-5);
    CHECK(max_abs_diff(r32.dv.to(DType::f64), r64.dv) < 1e-5);
  }
}

TEST_CASE("softmax_attention: bad inputs throw errors naming the op") {
  Rng rng(309);
  const Tensor q = randn({2, 3, 4, 5}, rng), k = randn({2, 3, 6, 5}, rng), v = randn({2, 3, 6, 2}, rng);
  const auto call = [](const Tensor& a, const Tensor& b, const Tensor& c, AttentionMask mask = {}, double s = 0.5) {
    return [=] { softmax_attention(Variable(a), Variable(b), Variable(c), mask, s); };
  };
  check_error([&] { softmax_attention(Variable(), Variable(k), Variable(v), {}, 1.0); }, "undefined");
  check_error(call(randn({3, 4, 5}, rng), k, v), "q float64 (3, 4, 5)");
  check_error(call(q, randn({1, 3, 6, 5}, rng), v), "(B, H)");
  check_error(call(q, randn({2, 2, 6, 5}, rng), v), "(B, H)");
  check_error(call(q, k, randn({2, 1, 6, 2}, rng)), "(B, H)");
  check_error(call(q, randn({2, 3, 6, 4}, rng), v), "head dim D of q (5) != that of k (4)");
  check_error(call(q, k, randn({2, 3, 7, 2}, rng)), "k has 6 keys (M) but v has 7");
  check_error(call(q.to(DType::f32), k, v), "float32");
  check_error(call(Tensor::zeros({2, 3, 4, 5}, DType::i64), Tensor::zeros({2, 3, 6, 5}, DType::i64),
                   Tensor::zeros({2, 3, 6, 2}, DType::i64)),
              "int64");
  check_error(call(Tensor::zeros({2, 3, 0, 5}, DType::f64), k, v), "empty");
  check_error(call(q, Tensor::zeros({2, 3, 0, 5}, DType::f64), Tensor::zeros({2, 3, 0, 2}, DType::f64)), "empty");
  check_error(call(q, k, v, AttentionMask{false, {6}}), "1 key lengths for a batch of 2");
  check_error(call(q, k, v, AttentionMask{false, {6, 0}}), "key length 0 of batch item 1 is outside [1, 6]");
  check_error(call(q, k, v, AttentionMask{false, {7, 6}}), "key length 7 of batch item 0 is outside [1, 6]");
  check_error(call(randn({2, 3, 7, 5}, rng), k, v, AttentionMask{true, {}}), "N = 7 queries and M = 6 keys");
  check_error(call(q, k, v, {}, std::numeric_limits<double>::infinity()), "scale");
  // The same combination without the causal mask is fine: every query sees every key.
  CHECK_NOTHROW(call(randn({2, 3, 7, 5}, rng), k, v)());
}

TEST_CASE("check_mask names its caller") {
  CHECK_NOTHROW(check_mask(AttentionMask{}, 3, 5, "decoder.layers.0.self_attn"));
  CHECK_NOTHROW(check_mask(AttentionMask{true, {1, 5, 3}}, 3, 5, "decoder.layers.0.self_attn"));
  const std::string message = error_of([] { check_mask(AttentionMask{false, {1, 6}}, 2, 5, "encoder.attn"); });
  CHECK(message.rfind("encoder.attn: ", 0) == 0);
  CHECK(message.find("key length 6 of batch item 1 is outside [1, 5]") != std::string::npos);
}

TEST_CASE("softmax_attention by head: the output and the gradients keep the layout of heads split from projections") {
  ThreadCountGuard restore;
  set_num_threads(2);  // 6 heads: by head
  Rng rng(311);
  const Case c{"causal + padding, several row blocks", 2, 3, 70, 70, 5, 4, true, {70, 41}};
  // (B, N, H, D) buffers viewed as (B, H, N, D), as multi-head attention passes them.
  const Tensor qs = randn({c.B, c.N, c.H, c.D}, rng), ks = randn({c.B, c.M, c.H, c.D}, rng);
  const Tensor vs = randn({c.B, c.M, c.H, c.Dv}, rng);
  const std::vector<std::int64_t> split{0, 2, 1, 3};
  const Tensor q = qs.permute(split), k = ks.permute(split), v = vs.permute(split);
  const Tensor g = randn({c.B, c.N, c.H, c.Dv}, rng).permute(split);  // as merging the heads passes it
  const Variable y = softmax_attention(Variable(q, true), Variable(k, true), Variable(v, true), c.mask(), c.scale());
  CHECK(memory_order(y.data()) == split);
  REQUIRE(y.grad_fn() != nullptr);
  const std::vector<Tensor> grads = y.grad_fn()->backward(g);
  REQUIRE(grads.size() == 3);
  for (const Tensor& d : grads) CHECK(memory_order(d) == split);
  // The same values as from contiguous inputs and a contiguous output gradient.
  const Result row_major = forward_backward(q.contiguous(), k.contiguous(), v.contiguous(), c, g.contiguous());
  CHECK(max_abs_diff(y.data(), row_major.out) < 1e-12);
  CHECK(max_abs_diff(grads[0], row_major.dq) < 1e-12);
  CHECK(max_abs_diff(grads[1], row_major.dk) < 1e-12);
  CHECK(max_abs_diff(grads[2], row_major.dv) < 1e-12);
}

TEST_CASE("softmax_attention: the result does not depend on the thread count") {
  ThreadCountGuard restore;
  Rng rng(310);
  // Enough rows (B H N = 512, M = 64) that the row kernels and the batched GEMMs split over threads.
  const Case c{"causal + padding", 2, 4, 64, 64, 16, 8, true, {64, 37}};
  const Tensor q = randn(c.q_shape(), rng), k = randn(c.k_shape(), rng), v = randn(c.v_shape(), rng);
  const Tensor g = randn({c.B, c.H, c.N, c.Dv}, rng);
  set_num_threads(1);
  const Result one = forward_backward(q, k, v, c, g);
  set_num_threads(2);
  const Result two = forward_backward(q, k, v, c, g);
  CHECK(max_abs_diff(one.out, two.out) == 0.0);
  CHECK(max_abs_diff(one.dq, two.dq) == 0.0);
  CHECK(max_abs_diff(one.dk, two.dk) == 0.0);
  CHECK(max_abs_diff(one.dv, two.dv) == 0.0);
  CHECK(max_abs_diff(one.out, reference(q, k, v, c.mask(), c.scale())) < 1e-12);
}
