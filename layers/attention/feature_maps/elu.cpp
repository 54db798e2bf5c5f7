#include "layers/attention/feature_maps/elu.h"

#include <fmt/format.h>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "core/kernels/elementwise.h"

namespace kat {

EluFeatureMap::EluFeatureMap(const FeatureMapOptions& o) : FeatureMap("elu_feature_map"), head_dim_(o.head_dim) {
  if (o.head_dim <= 0) fail(fmt::format("head_dim must be positive, got {}", o.head_dim));
}

Variable EluFeatureMap::forward(const Variable& x, FeatureRole /*role*/, Tensor* /*key_log_scale*/) {
  // Outside gradient mode (decoding) the op alone, without autograd's bookkeeping.
  if (!grad_enabled()) return Variable(unary(UnaryOp::elu1, x.data()));
  return elu_plus_one(x);
}

}  // namespace kat
