#include "layers/dropout.h"

#include <fmt/format.h>

#include "autograd/ops.h"

namespace kat {

Dropout::Dropout(double p, Rng& rng) : Module("dropout"), p_(p), rng_(rng.split()) {
  if (!(p >= 0.0 && p < 1.0)) fail(fmt::format("probability must be in [0, 1), got {}", p));
  register_rng("rng", &rng_);
}

Variable Dropout::forward(const Variable& x) { return dropout(x, p_, rng_, is_training()); }

}  // namespace kat
