#pragma once
// Helpers shared by the tests: random tensors and naive index arithmetic.

#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace kat::test {

inline Tensor randn(const Shape& shape, Rng& rng, DType dtype = DType::f64) {
  Tensor t = Tensor::empty(shape, dtype);
  fill_normal(t, rng, 0.0, 1.0);
  return t;
}

inline Tensor rand_uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype = DType::f64) {
  Tensor t = Tensor::empty(shape, dtype);
  fill_uniform(t, rng, lo, hi);
  return t;
}

// Row-major multi-index of flat position i in shape.
inline std::vector<std::int64_t> unravel(std::int64_t i, const Shape& shape) {
  std::vector<std::int64_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  return idx;
}

// The element of a tensor that broadcasts to `out_shape`, at multi-index `idx` of out_shape.
inline double broadcast_at(const Tensor& t, const std::vector<std::int64_t>& idx) {
  std::vector<std::int64_t> own(t.dim());
  const std::size_t lead = idx.size() - t.shape().size();
  for (std::size_t d = 0; d < own.size(); ++d) own[d] = t.size(static_cast<std::int64_t>(d)) == 1 ? 0 : idx[lead + d];
  return t.at(own);
}

}  // namespace kat::test
