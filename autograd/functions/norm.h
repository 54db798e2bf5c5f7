#pragma once
#include "autograd/variable.h"

namespace kat {

// Layer normalization over the last axis with optional affine weight and bias (pass undefined
// Variables to omit them). One fused kernel forward and one backward; saves the input, mean and
// rstd (core/kernels/norm.h has the derivation).
Variable layer_norm(const Variable& x, const Variable& weight, const Variable& bias, double eps = 1e-5);

}  // namespace kat
