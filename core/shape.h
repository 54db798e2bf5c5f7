#pragma once
// Shapes and strides (in elements), with the helpers every kernel shares: element counts,
// contiguous strides, axis normalization and NumPy broadcasting.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/small_vector.h"

namespace kat {

// Up to six dimensions without a heap allocation (core/small_vector.h).
using Shape = SmallVector<std::int64_t, 6>;
using Strides = SmallVector<std::int64_t, 6>;

std::int64_t numel(const Shape& shape);
Strides contiguous_strides(const Shape& shape);
std::string to_string(const Shape& shape);

// Maps a possibly negative axis into [0, ndim); throws naming `op` when out of range.
std::int64_t normalize_axis(std::int64_t axis, std::int64_t ndim, std::string_view op);

// NumPy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op);

// Strides that read a tensor of `shape`/`strides` as if it had shape `target` (stride 0 on
// broadcast dimensions). `shape` must broadcast to `target`.
Strides broadcast_strides(const Shape& shape, const Strides& strides, const Shape& target);

}  // namespace kat
