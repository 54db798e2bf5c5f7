#include "layers/positional.h"

#include <fmt/format.h>

#include <cmath>
#include <cstddef>

#include "autograd/ops.h"
#include "layers/init.h"

namespace kat {

PositionalEncoding::PositionalEncoding(const PositionalOptions& options, Rng& rng)
    : Module("positional_encoding"), options_(options) {
  if (options.dim <= 0) fail(fmt::format("dim must be positive, got {}", options.dim));
  if (options.kind == PositionalKind::learned) {
    if (options.max_len <= 0) fail(fmt::format("max_len must be positive, got {}", options.max_len));
    Tensor t = Tensor::empty({options.max_len, options.dim});
    init::normal(t, rng, 0.02);
    table_ = register_parameter("table", t);
  }
  if (options.kind == PositionalKind::sinusoidal) {
    for (std::int64_t i = 0; i < options.dim; i += 2) {
      wavelengths_.push_back(std::pow(10000.0, static_cast<double>(i) / static_cast<double>(options.dim)));
    }
  }
}

Tensor PositionalEncoding::sinusoids(std::int64_t start, std::int64_t n, DType dtype) const {
  // PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).
  const std::int64_t d = options_.dim;
  Tensor p = Tensor::empty({n, d}, DType::f64);
  double* out = p.data<double>();
  for (std::int64_t t = 0; t < n; ++t) {
    const double pos = static_cast<double>(start + t);
    for (std::int64_t i = 0; i < d; i += 2) {
      const double angle = pos / wavelengths_[static_cast<std::size_t>(i / 2)];
      out[t * d + i] = std::sin(angle);
      if (i + 1 < d) out[t * d + i + 1] = std::cos(angle);
    }
  }
  return p.to(dtype);
}

Variable PositionalEncoding::forward(const Variable& x, std::int64_t start) const {
  if (x.dim() != 3 || x.size(2) != options_.dim) {
    fail(fmt::format("expected input (batch, length, {}), got {}", options_.dim, to_string(x.shape())));
  }
  const std::int64_t n = x.size(1);
  switch (options_.kind) {
    case PositionalKind::none: return x;
    case PositionalKind::sinusoidal: return x + Variable(sinusoids(start, n, x.dtype()));
    case PositionalKind::learned:
      if (start + n > options_.max_len) {
        fail(fmt::format("positions up to {} requested but the learned table has {} (max_len)", start + n,
                         options_.max_len));
      }
      return x + slice(table_, 0, start, start + n);
  }
  return x;
}

}  // namespace kat
