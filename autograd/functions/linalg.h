#pragma once
#include "autograd/variable.h"

namespace kat {

// a @ b for a (..., M, K) and b (..., K, N) with broadcast batch axes; a 2-D b is one GEMM over all
// rows of a. Backward: da = g @ b^T, db = a^T @ g (transposes passed to BLAS as flags), summed
// over broadcast batch axes.
Variable matmul(const Variable& a, const Variable& b);

// x @ w + b for x (..., K), w (K, N) and b (N) or undefined: one GEMM over all rows of x that adds
// onto rows holding b (no separate pass over the output for the bias). Backward: dx = g @ w^T,
// dw = x^T @ g, db = the column sums of g.
Variable linear(const Variable& x, const Variable& w, const Variable& b);

}  // namespace kat
