#pragma once
#include "autograd/variable.h"

namespace kat {

// a @ b for a (..., M, K) and b (..., K, N) with broadcast batch axes; a 2-D b is one GEMM over all
// rows of a. Backward: da = g @ b^T, db = a^T @ g (transposes passed to BLAS as flags), summed
// over broadcast batch axes.
Variable matmul(const Variable& a, const Variable& b);

}  // namespace kat
