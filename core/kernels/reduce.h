#pragma once
// Reductions over any set of axes: sum, mean, max. Sums accumulate in float64 and split their
// work by sizes alone, so a result never depends on the thread count.

#include <vector>

#include "core/tensor.h"

namespace kat {

enum class ReduceOp { sum, mean, max };

// Reduces `in` over `axes` (negative axes count from the end; empty means all axes). The reduced
// axes are kept with size 1 when keepdim is true, dropped otherwise.
Tensor reduce(ReduceOp op, const Tensor& in, const std::vector<std::int64_t>& axes, bool keepdim = false);

inline Tensor sum(const Tensor& in, const std::vector<std::int64_t>& axes = {}, bool keepdim = false) {
  return reduce(ReduceOp::sum, in, axes, keepdim);
}
inline Tensor mean(const Tensor& in, const std::vector<std::int64_t>& axes = {}, bool keepdim = false) {
  return reduce(ReduceOp::mean, in, axes, keepdim);
}
inline Tensor max(const Tensor& in, const std::vector<std::int64_t>& axes = {}, bool keepdim = false) {
  return reduce(ReduceOp::max, in, axes, keepdim);
}

// Sums `in` down to `shape`, the inverse of broadcasting `shape` up to in.shape(): the one helper
// that reduces the gradients of broadcasting ops. Returns `in` itself when the shapes agree.
Tensor sum_to(const Tensor& in, const Shape& shape);

// Index of the largest element along `axis` (the first on ties), as int64; the axis is dropped.
Tensor argmax(const Tensor& in, std::int64_t axis);

}  // namespace kat
