#include "layers/attention/feature_maps/favor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "autograd/ops.h"
#include "core/kernels/reduce.h"

namespace kat {

FavorFeatureMap::FavorFeatureMap(Kind kind, const FeatureMapOptions& o, Rng& rng)
    : FeatureMap(kind == Kind::positive ? "favor+_feature_map" : "favor-trig_feature_map"),
      kind_(kind),
      m_(o.features),
      d_(o.head_dim),
      orthogonal_(o.orthogonal),
      norms_(ProjectionNorms::chi),
      redraw_interval_(o.redraw_interval),
      rng_(rng.split()) {
  if (o.head_dim <= 0) fail(fmt::format("head_dim must be positive, got {}", o.head_dim));
  if (o.features <= 0) {
    fail(fmt::format("{} needs a positive number of random features (attention.features), got {}", o.name, o.features));
  }
  if (o.redraw_interval < 0) fail(fmt::format("redraw_interval must be >= 0, got {}", o.redraw_interval));
  try {
    norms_ = parse_projection_norms(o.norms);
  } catch (const Error& e) {
    fail(e.what());
  }
  projection_ = draw_projection(m_, d_, orthogonal_, norms_, rng_).to(DType::f32);
  register_buffer("projection", &projection_);
  register_rng("rng", &rng_);
}

void FavorFeatureMap::redraw() {
  projection_ = draw_projection(m_, d_, orthogonal_, norms_, rng_).to(projection_.dtype());
}

void FavorFeatureMap::on_train_step(std::int64_t step) {
  // Steps count from 1: steps 1..k use the first draw, k+1..2k the second, and so on, so a run of
  // a multiple of k steps ends on a model trained k steps with its features.
  if (redraw_interval_ > 0 && step > 1 && (step - 1) % redraw_interval_ == 0) redraw();
}

namespace {

// Running maximum along axis 2 of a contiguous (B, H, N, 1) tensor.
Tensor running_max(const Tensor& c) {
  Tensor out = c.contiguous().clone();
  const std::int64_t N = out.size(2), rows = out.numel() / N;
  dispatch_float(out.dtype(), "running_max", [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t i = 1; i < N; ++i) p[r * N + i] = std::max(p[r * N + i], p[r * N + i - 1]);
    }
  });
  return out;
}

}  // namespace

Variable FavorFeatureMap::forward(const Variable& x, FeatureRole role, Tensor* key_log_scale) {
  if (!x.defined() || x.dim() != 4 || x.size(3) != d_) {
    fail(fmt::format("input must be (B, H, N, {}), got {}", d_, x.defined() ? to_string(x.shape()) : "undefined"));
  }
  if (x.dtype() != projection_.dtype()) {
    fail(fmt::format("input is {} but the projection is {}", dtype_name(x.dtype()), dtype_name(projection_.dtype())));
  }
  if (role == FeatureRole::causal_key && key_log_scale == nullptr) {
    fail("causal keys need somewhere to report their stabilizer (key_log_scale)");
  }
  const Variable xs = x * std::pow(static_cast<double>(d_), -0.25);         // x' (B, H, N, D)
  const Variable proj = matmul(xs, Variable(projection_.transpose(0, 1)));  // w_i . x' (B, H, N, m)
  const Variable half_sq = sum(xs * xs, {-1}, /*keepdim=*/true) * 0.5;      // |x'|^2 / 2 (B, H, N, 1)
  const double norm = 1.0 / std::sqrt(static_cast<double>(m_));

  // The stabilizer: the log of the factor each row is divided by, a constant for the gradient
  // (attention does not depend on it). `row` is each row's own largest log-magnitude (B, H, N, 1).
  auto shift = [&](const Tensor& row) -> Tensor {
    switch (role) {
      case FeatureRole::query: return row;
      case FeatureRole::key: return max(row, {2}, /*keepdim=*/true);  // (B, H, 1, 1)
      case FeatureRole::causal_key: return *key_log_scale = running_max(row);
    }
    return row;
  };

  if (kind_ == Kind::positive) {
    const Variable a = proj - half_sq;  // exponents (B, H, N, m)
    if (!stabilize_) return exp(a) * norm;
    return exp(a - Variable(shift(max(a.data(), {-1}, true)))) * norm;
  }

  const Variable trig = concat({sin(proj), cos(proj)}, -1);  // (B, H, N, 2m)
  if (!stabilize_) return trig * (exp(half_sq) * norm);
  if (role == FeatureRole::query) return trig * norm;  // exp(|q'|^2 / 2) is a factor per query row: it cancels
  return trig * (exp(half_sq - Variable(shift(half_sq.data()))) * norm);
}

}  // namespace kat
