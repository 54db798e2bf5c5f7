#pragma once
#include <vector>

#include "autograd/variable.h"

namespace kat {

// Sum or mean over `axes` (empty: all). Backward broadcasts the gradient back (divided by the
// count for the mean).
Variable sum(const Variable& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);
Variable mean(const Variable& x, const std::vector<std::int64_t>& axes = {}, bool keepdim = false);

}  // namespace kat
