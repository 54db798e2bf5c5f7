#include "layers/dropout.h"

#include <fmt/format.h>

#include "autograd/ops.h"

namespace kat {

Dropout::Dropout(double p, Rng& rng) : Module("dropout"), p_(p), rng_(rng.split()) {
  if (!(p >= 0.0 && p < 1.0)) fail(fmt::format("probability must be in [0, 1), got {}", p));
  register_rng("rng", &rng_);
}

namespace {

// Element (b, ...) of this batch is element (first_row + b, ...) of the larger one.
std::int64_t first_element(const Variable& x, std::int64_t first_row) {
  const std::int64_t row_elements = x.dim() > 0 && x.size(0) > 0 ? x.numel() / x.size(0) : 0;
  return first_row * row_elements;
}

}  // namespace

Variable Dropout::forward(const Variable& x) {
  return dropout(x, p_, rng_, is_training(), first_element(x, first_row_));
}

Variable Dropout::forward_add(const Variable& x, const Variable& residual) {
  return dropout_add(x, residual, p_, rng_, is_training(), first_element(x, first_row_));
}

Variable Dropout::forward_relu(const Variable& x) {
  return relu_dropout(x, p_, rng_, is_training(), first_element(x, first_row_));
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
