#include "layers/attention/feature_maps/relu.h"

#include <fmt/format.h>

#include "autograd/ops.h"

namespace kat {

ReluFeatureMap::ReluFeatureMap(const FeatureMapOptions& o)
    : FeatureMap("relu_feature_map"), head_dim_(o.head_dim), eps_(o.eps) {
  if (o.head_dim <= 0) fail(fmt::format("head_dim must be positive, got {}", o.head_dim));
  if (!(o.eps >= 0)) fail(fmt::format("eps must be >= 0, got {}", o.eps));
}

Variable ReluFeatureMap::forward(const Variable& x, FeatureRole /*role*/, Tensor* /*key_log_scale*/) {
  return eps_ > 0 ? relu(x) + eps_ : relu(x);
}

}  // namespace kat
