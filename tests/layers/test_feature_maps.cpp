// Feature maps: FAVOR+ is an unbiased estimator of the softmax kernel whose error falls with the
// number of features and is lower with orthogonal projections (Choromanski et al. 2021); the
// stabilizers keep large inputs finite; random projections are redrawn and saved; a user's map
// plugs in through the registry.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/gemm.h"
#include "core/kernels/index.h"
#include "core/kernels/qr.h"
#include "core/kernels/reduce.h"
#include "layers/attention/feature_maps/favor.h"
#include "layers/attention/feature_maps/learned.h"
#include "layers/attention/feature_maps/registry.h"
#include "layers/attention/linear_attention.h"
#include "layers/attention/softmax_attention_op.h"
#include "layers/models/language_model.h"
#include "optim/adam.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

namespace {

FeatureMapOptions favor_options(std::int64_t d, std::int64_t m, bool orthogonal) {
  FeatureMapOptions o;
  o.name = "favor+";
  o.head_dim = d;
  o.features = m;
  o.orthogonal = orthogonal;
  return o;
}

// (1, 1, N, D) float64 rows of norm `norm`, random directions.
Tensor rows_of_norm(std::int64_t n, std::int64_t d, double norm, Rng& rng) {
  Tensor x = randn({1, 1, n, d}, rng);
  Tensor len = unary(UnaryOp::sqrt, sum(unary(UnaryOp::square, x), {3}, true));
  return unary(UnaryOp::scale, binary(BinaryOp::div, x, len), norm);
}

// Row-normalized exp(q k^T / sqrt(D)): (1, 1, N, N).
Tensor softmax_attention_matrix(const Tensor& q, const Tensor& k) {
  Tensor a = unary(UnaryOp::exp, unary(UnaryOp::scale, matmul(q, k.transpose(2, 3)), 1.0 / std::sqrt(q.size(3))));
  return binary(BinaryOp::div, a, sum(a, {3}, true));
}

// The same matrix from features: phi(q) phi(k)^T, row-normalized.
Tensor feature_attention_matrix(const Tensor& phi_q, const Tensor& phi_k) {
  Tensor a = matmul(phi_q, phi_k.transpose(2, 3));
  return binary(BinaryOp::div, a, sum(a, {3}, true));
}

double mean_squared(const Tensor& a, const Tensor& b) {
  Tensor d = binary(BinaryOp::sub, a, b);
  return mean(unary(UnaryOp::square, d)).item();
}

// Mean over `draws` redraws of the approximation error of the attention matrix.
double favor_mse(std::int64_t m, bool orthogonal, const Tensor& q, const Tensor& k, int draws, Rng& rng) {
  FavorFeatureMap map(FavorFeatureMap::Kind::positive, favor_options(q.size(3), m, orthogonal), rng);
  map.to(DType::f64);
  const Tensor exact = softmax_attention_matrix(q, k);
  double total = 0;
  for (int r = 0; r < draws; ++r) {
    map.redraw();
    const Tensor pq = map.forward(Variable(q), FeatureRole::query).data();
    const Tensor pk = map.forward(Variable(k), FeatureRole::key).data();
    total += mean_squared(feature_attention_matrix(pq, pk), exact);
  }
  return total / draws;
}

}  // namespace

TEST_CASE("qr_orthonormal gives orthonormal rows, and projections have the promised norms") {
  Rng rng(21);
  const Tensor q = qr_orthonormal(randn({12, 12}, rng));
  Tensor eye = Tensor::zeros({12, 12}, DType::f64);
  for (std::int64_t i = 0; i < 12; ++i) eye.select(0, i).select(0, i).fill_(1.0);
  CHECK(max_abs_diff(matmul(q, q.transpose(0, 1)), eye) < 1e-12);
  CHECK_THROWS_WITH_AS(qr_orthonormal(Tensor::zeros({3, 4}, DType::f64)), doctest::Contains("square"), Error);

  const std::int64_t d = 8, m = 20;  // two full blocks and a partial one
  const Tensor w = draw_projection(m, d, /*orthogonal=*/true, ProjectionNorms::sqrt_d, rng);
  const Tensor gram = matmul(w, w.transpose(0, 1));  // (m, m)
  for (std::int64_t i = 0; i < m; ++i) {
    CHECK(gram.at({i, i}) == doctest::Approx(static_cast<double>(d)).epsilon(1e-12));
    for (std::int64_t j = 0; j < m; ++j) {
      if (i != j && i / d == j / d) CHECK(std::abs(gram.at({i, j})) < 1e-10);  // orthogonal within a block
    }
  }
  // chi norms: rows of varying length whose squares average D.
  const Tensor wc = draw_projection(4000, d, true, ProjectionNorms::chi, rng);
  const Tensor sq = sum(unary(UnaryOp::square, wc), {1});
  CHECK(mean(sq).item() == doctest::Approx(static_cast<double>(d)).epsilon(0.03));
  CHECK(max(sq).item() > 2.0 * d);
}

TEST_CASE("FAVOR+ and trigonometric features are unbiased estimators of the softmax kernel") {
  Rng rng(22);
  const std::int64_t d = 16;
  const Tensor q = rows_of_norm(1, d, 2.0, rng), k = rows_of_norm(1, d, 2.0, rng);
  const double exact = std::exp(matmul(q, k.transpose(2, 3)).item() / std::sqrt(static_cast<double>(d)));
  for (bool positive : {true, false}) {
    for (bool orthogonal : {true, false}) {
      CAPTURE(positive);
      CAPTURE(orthogonal);
      FeatureMapOptions o = favor_options(d, 8, orthogonal);
      FavorFeatureMap map(positive ? FavorFeatureMap::Kind::positive : FavorFeatureMap::Kind::trigonometric, o, rng);
      map.to(DType::f64);
      map.set_stabilize(false);
      const int draws = 4000;
      double s = 0, s2 = 0;
      for (int r = 0; r < draws; ++r) {
        map.redraw();
        const double e = matmul(map.forward(Variable(q), FeatureRole::query).data(),
                                map.forward(Variable(k), FeatureRole::key).data().transpose(2, 3))
                             .item();
        s += e;
        s2 += e * e;
      }
      const double mean_est = s / draws;
      const double se = std::sqrt((s2 / draws - mean_est * mean_est) / draws);
      INFO("estimate " << mean_est << " +- " << se << ", exact " << exact);
      CHECK(std::abs(mean_est - exact) < 4 * se);
      CHECK(se < 0.05 * exact);  // the check above is not vacuous
    }
  }
}

TEST_CASE("FAVOR+ error falls as m grows, and orthogonal features beat i.i.d. ones") {
  Rng rng(23);
  const std::int64_t d = 16, n = 24;
  const Tensor q = rows_of_norm(n, d, 2.5, rng), k = rows_of_norm(n, d, 2.5, rng);
  const double m8 = favor_mse(8, true, q, k, 40, rng);
  const double m32 = favor_mse(32, true, q, k, 40, rng);
  const double m128 = favor_mse(128, true, q, k, 40, rng);
  INFO("MSE at m = 8, 32, 128: " << m8 << ", " << m32 << ", " << m128);
  CHECK(m32 < 0.8 * m8);
  CHECK(m128 < 0.6 * m32);
  for (std::int64_t m : {16, 64}) {
    const double orth = favor_mse(m, true, q, k, 80, rng);
    const double iid = favor_mse(m, false, q, k, 80, rng);
    INFO("m = " << m << ": orthogonal " << orth << ", i.i.d. " << iid);
    CHECK(orth < iid);
  }
}

TEST_CASE("stabilizers keep FAVOR attention finite for |q|, |k| up to 30") {
  Rng rng(24);
  const std::int64_t d = 16, n = 32;
  for (const char* map : {"favor+", "favor-trig"}) {
    for (bool causal : {false, true}) {
      CAPTURE(map);
      CAPTURE(causal);
      AttentionOptions o;
      o.type = "performer";
      o.feature_map = map;
      o.features = 32;
      LinearAttention kernel(o, AttentionSetup{d, causal}, "favor+", rng);
      const Tensor q = rows_of_norm(n, d, 30.0, rng).to(DType::f32), k = rows_of_norm(n, d, 30.0, rng).to(DType::f32);
      const Tensor v = randn({1, 1, n, 4}, rng, DType::f32);
      const Tensor out = kernel.forward(Variable(q), Variable(k), Variable(v), AttentionMask{}).data();
      const std::vector<float> values = out.to_vector<float>();
      for (float x : values) REQUIRE(std::isfinite(x));
      if (std::string(map) == "favor+") {
        // Positive weights: every output is a convex combination of the value rows.
        const double lo = max(unary(UnaryOp::neg, v)).item(), hi = max(v).item();
        for (float x : values) CHECK((x >= -lo - 1e-4 && x <= hi + 1e-4));
      }
      // Float32 agrees with the same formula in float64, where the unstabilized features would
      // overflow or underflow in float32: the stabilizer is what keeps the result meaningful.
      kernel.to(DType::f64);
      const Tensor ref = kernel
                             .forward(Variable(q.to(DType::f64)), Variable(k.to(DType::f64)),
                                      Variable(v.to(DType::f64)), AttentionMask{})
                             .data();
      CHECK(allclose(out.to(DType::f64), ref, 1e-3, 1e-3));
      auto& fm = dynamic_cast<FavorFeatureMap&>(kernel.feature_map());
      fm.set_stabilize(false);
      kernel.to(DType::f32);
      const Tensor raw = kernel.forward(Variable(q), Variable(k), Variable(v), AttentionMask{}).data();
      CHECK_FALSE(allclose(raw.to(DType::f64), ref, 1e-2, 1e-2));
    }
  }
}

TEST_CASE("FAVOR+ features of heads split in place equal those of a contiguous copy, gradients too") {
  // Heads split from a projection (B, N, H, D) are read in place and their gradient is written in
  // their layout; each role's stabilizer (own row, running, whole sequence) gives the same values
  // and gradients as on a contiguous copy of the same numbers.
  Rng rng(31);
  const std::int64_t B = 2, N = 37, H = 3, D = 8, M = 12;
  FeatureMapOptions o = favor_options(D, M, true);
  Rng draw(5);
  FavorFeatureMap fm(FavorFeatureMap::Kind::positive, o, draw);
  fm.to(DType::f64);
  const Tensor proj = unary(UnaryOp::scale, randn({B, N, H, D}, rng), 2.0);
  const Tensor weights = randn({B, H, N, M}, rng);
  for (FeatureRole role : {FeatureRole::query, FeatureRole::key, FeatureRole::causal_key}) {
    CAPTURE(static_cast<int>(role));
    Tensor scale_split, scale_copy;
    Variable split(proj.clone(), true), copy(proj.permute({0, 2, 1, 3}).contiguous(), true);
    const Variable heads = permute(split, {0, 2, 1, 3});
    REQUIRE_FALSE(heads.data().is_contiguous());
    const Variable a = fm.forward(heads, role, &scale_split);
    const Variable b = fm.forward(copy, role, &scale_copy);
    CHECK(max_abs_diff(a.data(), b.data()) < 1e-12);
    if (role == FeatureRole::causal_key) CHECK(max_abs_diff(scale_split, scale_copy) == 0.0);
    sum(a * Variable(weights)).backward();
    sum(b * Variable(weights)).backward();
    REQUIRE(split.grad().defined());
    CHECK(max_abs_diff(split.grad().permute({0, 2, 1, 3}), copy.grad()) < 1e-12);
    CHECK(max(unary(UnaryOp::abs, copy.grad())).item() > 1e-3);  // a gradient that could be wrong
    // The stabilizer: the largest feature is exp(0) / sqrt(M) in each row for queries, in each
    // sequence for keys, and for causal keys in each row where the running largest exponent
    // grows (it never falls, and no feature exceeds 1 / sqrt(M)).
    const double top = 1.0 / std::sqrt(static_cast<double>(M));
    const std::vector<double> phi = b.data().to_vector<double>();
    const std::vector<double> shift = role == FeatureRole::causal_key ? scale_copy.to_vector<double>() : phi;
    for (std::int64_t s = 0; s < B * H; ++s) {
      double seq_top = 0;
      for (std::int64_t i = 0; i < N; ++i) {
        const double* row = phi.data() + (s * N + i) * M;
        const double row_top = *std::max_element(row, row + M);
        seq_top = std::max(seq_top, row_top);
        CHECK(row_top <= top * (1 + 1e-12));
        if (role == FeatureRole::query) CHECK(row_top == doctest::Approx(top).epsilon(1e-12));
        if (role == FeatureRole::causal_key) {
          const double c = shift[static_cast<std::size_t>(s * N + i)];
          const bool grows = i == 0 || c > shift[static_cast<std::size_t>(s * N + i - 1)];
          if (i > 0) CHECK(c >= shift[static_cast<std::size_t>(s * N + i - 1)]);
          if (grows) CHECK(row_top == doctest::Approx(top).epsilon(1e-12));
        }
      }
      CHECK(seq_top == doctest::Approx(top).epsilon(1e-12));
    }
    if (role == FeatureRole::causal_key) {
      // Each row is the unstabilized feature divided by exp of the reported stabilizer.
      fm.set_stabilize(false);
      const std::vector<double> raw = fm.forward(copy, role, &scale_copy).data().to_vector<double>();
      fm.set_stabilize(true);
      for (std::size_t j = 0; j < raw.size(); ++j) {
        CHECK(phi[j] * std::exp(shift[j / static_cast<std::size_t>(M)]) == doctest::Approx(raw[j]).epsilon(1e-10));
      }
    }
  }
}

TEST_CASE("performer features are redrawn on schedule and restored exactly from a state dict") {
  Rng rng(25);
  AttentionOptions o;
  o.type = "performer";
  o.features = 16;
  o.redraw_interval = 3;
  auto a = make_attention(o, AttentionSetup{8, true}, rng);
  auto* map = dynamic_cast<FavorFeatureMap*>(&dynamic_cast<LinearAttention&>(*a).feature_map());
  REQUIRE(map != nullptr);
  const Tensor p0 = map->projection().clone();
  // Steps 1..3 use the first draw, 4..6 the second.
  a->on_train_step(1);
  a->on_train_step(2);
  a->on_train_step(3);
  CHECK(max_abs_diff(map->projection(), p0) == 0.0);
  a->on_train_step(4);
  const Tensor p3 = map->projection().clone();
  CHECK(max_abs_diff(p3, p0) > 0.0);

  std::map<std::string, Tensor> state;
  for (const auto& [name, t] : a->state_dict()) state[name] = t.clone();
  CHECK(state.count("feature_map.projection") == 1);
  CHECK(state.count("feature_map.rng") == 1);

  Rng other(99);
  auto b = make_attention(o, AttentionSetup{8, true}, other);
  b->load_state_dict(state);
  auto* map_b = dynamic_cast<FavorFeatureMap*>(&dynamic_cast<LinearAttention&>(*b).feature_map());
  CHECK(max_abs_diff(map_b->projection(), p3) == 0.0);
  a->on_train_step(5);
  CHECK(max_abs_diff(map->projection(), p3) == 0.0);
  a->on_train_step(7);
  b->on_train_step(7);
  CHECK(max_abs_diff(map_b->projection(), map->projection()) == 0.0);
  CHECK(max_abs_diff(map->projection(), p3) > 0.0);
}

namespace {

// A user's feature map, written against the public interface only: phi(x) = elu(x W) + 1 with a
// learned D x D matrix W (a "learnable" map; Katharopoulos et al. 2020 leave the choice of phi open).
class LearnedEluMap : public FeatureMap {
 public:
  LearnedEluMap(const FeatureMapOptions& o, Rng& rng) : FeatureMap("learned_elu"), d_(o.head_dim) {
    Tensor w = Tensor::zeros({d_, d_});
    fill_normal(w, rng, 0.0, 0.1);
    for (std::int64_t i = 0; i < d_; ++i) w.select(0, i).select(0, i).fill_(1.0);  // near the identity
    weight_ = register_parameter("weight", w);
  }
  std::int64_t features() const override { return d_; }
  Variable forward(const Variable& x, FeatureRole, Tensor*) override { return elu(matmul(x, weight_)) + 1.0; }

 private:
  std::int64_t d_;
  Variable weight_;
};

}  // namespace

TEST_CASE("the built-in maps' descriptors say what their instances do") {
  for (const std::string name : {"elu", "relu", "favor+", "favor-trig", "t2r", "hedgehog"}) {
    CAPTURE(name);
    const FeatureMapInfo info = feature_map_info(name);
    CHECK_FALSE(info.description.empty());
    FeatureMapOptions o;
    o.name = name;
    o.head_dim = 8;
    o.features = info.needs_features ? 16 : 0;
    Rng rng(3);
    const auto map = make_feature_map(o, rng);
    CHECK(map->normalizer_eps() == info.normalizer_eps);
    // M: D for the deterministic maps; m random features (favor-trig: a sine and a cosine each).
    CHECK(map->features() % (info.needs_features ? 16 : 8) == 0);
    CHECK(info.random == !map->named_buffers().empty());  // random maps keep their projection
    CHECK(info.learned == !map->parameters().empty());
  }
}

TEST_CASE("a feature map registered by the user trains inside a language model") {
  FeatureMapInfo info;
  info.description = "elu(x W) + 1 with W learned";
  info.learned = true;
  const FeatureMapFactory make = [](const FeatureMapOptions& o, Rng& rng) {
    return std::make_shared<LearnedEluMap>(o, rng);
  };
  register_feature_map("learned-elu", info, make);
  CHECK_THROWS_WITH_AS(register_feature_map("learned-elu", info, make),
                       doctest::Contains("'learned-elu' is registered already"), Error);
  CHECK_THROWS_WITH_AS(register_feature_map("", info, make), doctest::Contains("the name is empty"), Error);
  CHECK_THROWS_WITH_AS(register_feature_map("no-factory", info, nullptr), doctest::Contains("has no factory"), Error);
  CHECK(has_feature_map("learned-elu"));
  CHECK(feature_map_info("learned-elu").learned);
  CHECK_THROWS_WITH_AS(feature_map_info("learned-elo"), doctest::Contains("did you mean 'learned-elu'?"), Error);

  Rng rng(26);
  StackOptions so;
  so.vocab = 12;
  so.layers = 1;
  so.layer.d_model = 16;
  so.layer.heads = 2;
  so.layer.d_ff = 32;
  so.layer.dropout = 0.0;
  so.layer.attention.type = "linear";
  so.layer.attention.feature_map = "learned-elu";
  TransformerLM lm(so, rng);
  Variable w;
  for (const auto& [name, p] : lm.named_parameters()) {
    if (name == "decoder.layers.0.self_attn.attention.feature_map.weight") w = p;
  }
  REQUIRE(w.defined());
  const Tensor before = w.data().clone();
  Adam opt(lm.parameters(), AdamOptions{});
  const Tensor ids = Tensor::from_vector<std::int64_t>({1, 5, 3, 7, 2, 9, 4, 0}, {1, 8});
  const Tensor target = Tensor::from_vector<std::int64_t>({5, 3, 7, 2, 9, 4, 0, 1}, {1, 8});
  double first = 0, last = 0;
  for (int step = 0; step < 30; ++step) {
    opt.zero_grad();
    Variable loss = cross_entropy(lm.forward(ids), target);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.data().item();
  }
  CHECK(max_abs_diff(w.data(), before) > 0.0);
  CHECK(last < first);

  // Its gradient through the attention kernel, map parameter included.
  AttentionOptions ao;
  ao.type = "linear";
  ao.feature_map = "learned-elu";
  LinearAttention kernel(ao, AttentionSetup{3, true}, "elu", rng);
  kernel.to(DType::f64);
  const GradcheckResult r =
      gradcheck([&](const std::vector<Variable>& x) { return kernel.forward(x[0], x[1], x[2], AttentionMask{}); },
                {randn({1, 2, 4, 3}, rng), randn({1, 2, 4, 3}, rng), randn({1, 2, 4, 2}, rng)}, kernel.parameters());
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("learned maps start identity-like, keep weights per head and pass gradient checks") {
  Rng rng(31);
  const std::int64_t D = 4, H = 2;
  FeatureMapOptions o;
  o.head_dim = D;
  o.heads = H;
  o.eps = 0.0;
  const Tensor x = randn({2, H, 5, D}, rng);
  SUBCASE("t2r starts as [relu(x), relu(-x)]") {
    LearnedFeatureMap map(LearnedFeatureMap::Kind::t2r, o, rng);
    map.to(DType::f64);
    CHECK(map.features() == 2 * D);
    CHECK(map.named_parameters().front().first == "weight");
    CHECK(map.named_parameters().front().second.shape() == Shape{H, D, 2 * D});
    const Tensor phi = map.forward(Variable(x), FeatureRole::query).data();
    const Tensor expect = concat({unary(UnaryOp::relu, x), unary(UnaryOp::relu, unary(UnaryOp::neg, x))}, 3);
    CHECK(max_abs_diff(phi, expect) == 0.0);
  }
  SUBCASE("hedgehog starts as [softmax(x), softmax(-x)]") {
    LearnedFeatureMap map(LearnedFeatureMap::Kind::hedgehog, o, rng);
    map.to(DType::f64);
    CHECK(map.features() == 2 * D);
    const Tensor phi = map.forward(Variable(x), FeatureRole::key).data();
    const Tensor expect = concat({softmax(Variable(x)).data(), softmax(Variable(unary(UnaryOp::neg, x))).data()}, 3);
    CHECK(max_abs_diff(phi, expect) < 1e-15);
    // Each half sums to one per row.
    CHECK(max_abs_diff(sum(phi, {3}), Tensor::full({2, H, 5}, 2.0, DType::f64)) < 1e-12);
  }
  SUBCASE("gradients of the input and of every weight, with more outputs than the identity covers") {
    for (const auto kind : {LearnedFeatureMap::Kind::t2r, LearnedFeatureMap::Kind::hedgehog}) {
      o.features = 10;  // t2r: I, -I, then 2 random columns; hedgehog: 5 outputs, I then 1 random
      LearnedFeatureMap map(kind, o, rng);
      map.to(DType::f64);
      // Heads differ once trained: make them differ here, so a head mix-up would show.
      for (auto& p : map.parameters()) {
        Tensor noise = randn(p.shape(), rng);
        p.data().copy_(binary(BinaryOp::add, p.data(), unary(UnaryOp::scale, noise, 0.3)));
      }
      const GradcheckResult r =
          gradcheck([&](const std::vector<Variable>& in) { return map.forward(in[0], FeatureRole::query); },
                    {randn({2, H, 3, D}, rng)}, map.parameters());
      INFO(r.message);
      CHECK(r.ok);
    }
  }
  SUBCASE("inside linear attention, causal and not, the map's weights included") {
    for (const std::string name : {"t2r", "hedgehog"}) {
      for (const bool causal : {false, true}) {
        CAPTURE(name);
        CAPTURE(causal);
        AttentionOptions ao;
        ao.type = "linear";
        ao.feature_map = name;
        LinearAttention kernel(ao, AttentionSetup{D, causal, H}, "elu", rng);
        kernel.to(DType::f64);
        const GradcheckResult r = gradcheck(
            [&](const std::vector<Variable>& in) { return kernel.forward(in[0], in[1], in[2], AttentionMask{}); },
            {randn({1, H, 4, D}, rng), randn({1, H, 4, D}, rng), randn({1, H, 4, 3}, rng)}, kernel.parameters());
        INFO(r.message);
        CHECK(r.ok);
      }
    }
  }
  SUBCASE("bad options are refused naming the option") {
    o.features = 7;
    CHECK_THROWS_WITH_AS(LearnedFeatureMap(LearnedFeatureMap::Kind::hedgehog, o, rng),
                         doctest::Contains("features must be even"), Error);
  }
}

TEST_CASE("attention distillation: softmax output, a KL that matches its definition, gradients to the map alone") {
  Rng rng(41);
  const std::int64_t B = 2, H = 2, N = 5, D = 3;
  for (const bool causal : {false, true}) {
    CAPTURE(causal);
    AttentionOptions ao;
    ao.type = "linear";
    ao.feature_map = "hedgehog";
    LinearAttention kernel(ao, AttentionSetup{D, causal, H}, "elu", rng);
    kernel.to(DType::f64);
    AttentionMask mask;
    mask.key_lengths = {5, 3};  // the second item's last two keys are padding
    const Variable q(randn({B, H, N, D}, rng), true), k(randn({B, H, N, D}, rng), true), v(randn({B, H, N, 2}, rng));
    kernel.set_distillation(true);
    const Variable out = kernel.forward(q, k, v, mask);
    AttentionMask with_causal = mask;
    with_causal.causal = causal;
    const Tensor expect = softmax_attention(q, k, v, with_causal, 1.0 / std::sqrt(3.0)).data();
    CHECK(max_abs_diff(out.data(), expect) < 1e-12);
    // The KL by its definition, one query at a time.
    const Tensor pq = kernel.feature_map().forward(Variable(q.data()), FeatureRole::query).data();
    const Tensor pk = kernel.feature_map().forward(Variable(k.data()), FeatureRole::key).data();
    const auto qv = q.data().to_vector<double>(), kv = k.data().to_vector<double>();
    const auto fq = pq.to_vector<double>(), fk = pk.to_vector<double>();
    const std::int64_t F = pq.size(3);
    double kl = 0;
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t h = 0; h < H; ++h) {
        for (std::int64_t i = 0; i < N; ++i) {
          const std::int64_t keys = std::min(mask.key_lengths[b], causal ? i + 1 : N);
          std::vector<double> s(keys), a(keys);
          double s_sum = 0, a_sum = 0;
          for (std::int64_t j = 0; j < keys; ++j) {
            double dot = 0, fdot = 0;
            for (std::int64_t d = 0; d < D; ++d)
              dot += qv[((b * H + h) * N + i) * D + d] * kv[((b * H + h) * N + j) * D + d];
            for (std::int64_t f = 0; f < F; ++f)
              fdot += fq[((b * H + h) * N + i) * F + f] * fk[((b * H + h) * N + j) * F + f];
            s[j] = std::exp(dot / std::sqrt(3.0));
            a[j] = fdot;
            s_sum += s[j];
            a_sum += a[j];
          }
          for (std::int64_t j = 0; j < keys; ++j) {
            const double p = s[j] / s_sum;
            kl += p * (std::log(p) - std::log(a[j] / (a_sum + kernel.eps())));
          }
        }
      }
    }
    kl /= static_cast<double>(B * H * N);
    const Variable loss = kernel.distillation_loss();
    CHECK(loss.data().item() == doctest::Approx(kl).epsilon(1e-9));
    CHECK(kl > 0.0);
    loss.backward();
    CHECK_FALSE(q.grad().defined());  // q and k are the teacher's: detached
    CHECK_FALSE(k.grad().defined());
    for (const auto& p : kernel.feature_map().parameters()) CHECK(p.grad().defined());
    // Its gradient in the map's weights, checked against finite differences.
    kernel.feature_map().zero_grad();
    const GradcheckResult r = gradcheck(
        [&](const std::vector<Variable>&) {
          kernel.forward(q, k, v, mask);
          return kernel.distillation_loss();
        },
        {}, kernel.feature_map().parameters());
    INFO(r.message);
    CHECK(r.ok);
    kernel.set_distillation(false);
    CHECK(max_abs_diff(kernel.forward(q, k, v, mask).data(), expect) > 1e-3);  // its own attention again
  }
}
