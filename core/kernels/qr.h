#pragma once
// QR factorization through LAPACK (the copy inside OpenBLAS): the orthonormal factor of a matrix,
// as random orthogonal projections need (Choromanski et al. 2021, Section 2.4).

#include "core/tensor.h"

namespace kat {

// Q of a = Q R for a float64 (n, n) matrix, with the signs fixed so that R has a non-negative
// diagonal (then Q is Haar-distributed when a is Gaussian). Throws naming the shape when a is not
// square, not float64, or LAPACK reports an error.
Tensor qr_orthonormal(const Tensor& a);

}  // namespace kat
