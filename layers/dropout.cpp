#include "layers/dropout.h"

#include <fmt/format.h>

#include "autograd/ops.h"

namespace kat {

Dropout::Dropout(double p, Rng& rng) : Module("dropout"), p_(p), rng_(rng.split()) {
  if (!(p >= 0.0 && p < 1.0)) fail(fmt::format("probability must be in [0, 1), got {}", p));
  register_rng("rng", &rng_);
}

Variable Dropout::forward(const Variable& x) {
  // Element (b, ...) of this batch is element (first_row + b, ...) of the larger one.
  const std::int64_t row_elements = x.dim() > 0 && x.size(0) > 0 ? x.numel() / x.size(0) : 0;
  return dropout(x, p_, rng_, is_training(), first_row_ * row_elements);
}

void Dropout::set_first_row(std::int64_t first_row) {
  if (first_row < 0) fail(fmt::format("first row must be >= 0, got {}", first_row));
  first_row_ = first_row;
}

void set_dropout_first_row(Module& root, std::int64_t first_row) {
  root.visit([&](Module& m) {
    if (auto* d = dynamic_cast<Dropout*>(&m)) d->set_first_row(first_row);
  });
}

}  // namespace kat
