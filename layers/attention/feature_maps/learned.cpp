#include "layers/attention/feature_maps/learned.h"

#include <fmt/format.h>

#include <cmath>

#include "autograd/ops.h"

namespace kat {

LearnedFeatureMap::LearnedFeatureMap(Kind kind, const FeatureMapOptions& o, Rng& rng)
    : FeatureMap(kind == Kind::t2r ? "t2r_feature_map" : "hedgehog_feature_map"),
      kind_(kind),
      head_dim_(o.head_dim),
      heads_(std::max<std::int64_t>(o.heads, 1)),
      features_(o.features > 0 ? o.features : 2 * o.head_dim),
      eps_(kind == Kind::t2r ? o.eps : 0.0) {
  if (o.head_dim <= 0) fail(fmt::format("head_dim must be positive, got {}", o.head_dim));
  if (o.heads < 0) fail(fmt::format("heads must be >= 0, got {}", o.heads));
  if (kind == Kind::hedgehog && features_ % 2 != 0) {
    fail(fmt::format("features must be even (M / 2 softmax outputs of each sign), got {}", features_));
  }
  if (!(eps_ >= 0)) fail(fmt::format("feature_eps must be >= 0, got {}", eps_));
  const std::int64_t n = outputs();
  Tensor w = Tensor::zeros({heads_, head_dim_, n});
  // Columns past the identity-like ones: N(0, 1/D), drawn for all and then overwritten.
  fill_normal(w, rng, 0.0, 1.0 / std::sqrt(static_cast<double>(head_dim_)));
  const std::int64_t signed_blocks = kind == Kind::t2r ? 2 : 1;
  for (std::int64_t h = 0; h < heads_; ++h) {
    Tensor wh = w.select(0, h);  // (D, outputs)
    for (std::int64_t block = 0; block < signed_blocks; ++block) {
      const std::int64_t first = block * head_dim_;
      if (first >= n) break;
      const std::int64_t width = std::min(head_dim_, n - first);
      wh.slice(1, first, first + width).fill_(0.0);
      for (std::int64_t i = 0; i < width; ++i) wh.select(0, i).select(0, first + i).fill_(block == 0 ? 1.0 : -1.0);
    }
  }
  weight_ = register_parameter("weight", w);
  bias_ = register_parameter("bias", Tensor::zeros({heads_, 1, n}));
}

Variable LearnedFeatureMap::forward(const Variable& x, FeatureRole /*role*/, Tensor* /*key_log_scale*/) {
  if (!x.defined() || x.dim() != 4 || x.size(3) != head_dim_ || (heads_ > 1 && x.size(1) != heads_)) {
    fail(fmt::format("expected (B, {}, N, {}), got {}", heads_ > 1 ? fmt::to_string(heads_) : "H", head_dim_,
                     x.defined() ? to_string(x.shape()) : "undefined"));
  }
  const Variable z = matmul(x, weight_) + bias_;  // (B, H, N, outputs)
  if (kind_ == Kind::t2r) return eps_ > 0 ? relu(z) + eps_ : relu(z);
  return concat({softmax(z), softmax(-z)}, -1);
}

}  // namespace kat
