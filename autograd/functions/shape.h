#pragma once
// Differentiable views and joins. Forward returns a view where the tensor layer can (reshape of
// contiguous data, transpose, permute, slice, expand, unsqueeze, squeeze); backward maps the
// gradient back to the input's shape.

#include <vector>

#include "autograd/variable.h"

namespace kat {

Variable reshape(const Variable& x, const Shape& shape);
Variable transpose(const Variable& x, std::int64_t a, std::int64_t b);
Variable permute(const Variable& x, const std::vector<std::int64_t>& order);
Variable slice(const Variable& x, std::int64_t axis, std::int64_t start, std::int64_t end);
Variable expand(const Variable& x, const Shape& shape);
Variable unsqueeze(const Variable& x, std::int64_t axis);
Variable squeeze(const Variable& x, std::int64_t axis);
Variable concat(const std::vector<Variable>& parts, std::int64_t axis);

}  // namespace kat
