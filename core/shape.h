#pragma once
// Shapes and strides (in elements), with the helpers every kernel shares: element counts,
// contiguous strides, axis normalization and NumPy broadcasting.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kat {

using Shape = std::vector<std::int64_t>;
using Strides = std::vector<std::int64_t>;

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
