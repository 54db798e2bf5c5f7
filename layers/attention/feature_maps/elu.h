#pragma once
// phi(x) = elu(x) + 1 (Katharopoulos et al. 2020, eq. 7): positive, M = D, no parameters.

#include "layers/attention/feature_maps/feature_map.h"

namespace kat {

class EluFeatureMap : public FeatureMap {
 public:
  explicit EluFeatureMap(const FeatureMapOptions& options);
  std::int64_t features() const override { return head_dim_; }
  Variable forward(const Variable& x, FeatureRole role, Tensor* key_log_scale = nullptr) override;

 private:
  std::int64_t head_dim_;
};

}  // namespace kat
