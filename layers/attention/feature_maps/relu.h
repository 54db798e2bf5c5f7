#pragma once
// phi(x) = relu(x) + eps: non-negative, M = D. With eps = 0 a query orthogonal to every key gets a
// zero normalizer, which the attention's own epsilon then guards.

#include "layers/attention/feature_maps/feature_map.h"

namespace kat {

class ReluFeatureMap : public FeatureMap {
 public:
  explicit ReluFeatureMap(const FeatureMapOptions& options);
  std::int64_t features() const override { return head_dim_; }
  Variable forward(const Variable& x, FeatureRole role, Tensor* key_log_scale = nullptr) override;

 private:
  std::int64_t head_dim_;
  double eps_;
};

}  // namespace kat
