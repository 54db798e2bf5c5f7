#include "layers/attention/feature_maps/elu.h"

#include <fmt/format.h>

#include "autograd/ops.h"

namespace kat {

EluFeatureMap::EluFeatureMap(const FeatureMapOptions& o) : FeatureMap("elu_feature_map"), head_dim_(o.head_dim) {
  if (o.head_dim <= 0) fail(fmt::format("head_dim must be positive, got {}", o.head_dim));
}

Variable EluFeatureMap::forward(const Variable& x, FeatureRole /*role*/, Tensor* /*key_log_scale*/) {
  return elu_plus_one(x);
}

}  // namespace kat
