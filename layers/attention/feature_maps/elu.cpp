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
  if (grad_enabled() && x.requires_grad()) return elu(x) + 1.0;
  // Decoding: the same two element-wise steps, in one buffer and without autograd.
  Tensor y = unary(UnaryOp::elu, x.data(), 1.0);
  unary(UnaryOp::add_scalar, y, y, 1.0);
  return Variable(y);
}

}  // namespace kat
