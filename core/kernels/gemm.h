#pragma once
// Matrix products through OpenBLAS (the only file that includes cblas.h is gemm.cpp).
// Operands are passed as they lie in memory: a transposed view (unit stride on its first
// matrix axis) becomes a transpose flag for BLAS, not a copy. Only a view with unit stride on
// neither matrix axis is copied.

#include "core/tensor.h"

namespace kat {

// A product of one row or column (matrix-vector) runs on the calling thread alone below this many
// elements of its matrix; from it, its rows are split over the threads (gemm.cpp, half.cpp).
inline constexpr std::int64_t kSplitVectorProductFrom = std::int64_t{1} << 16;

void blas_set_num_threads(int n);
int blas_num_threads();

// c = alpha * op(a) @ op(b) + beta * c, where op(x) is x or its transpose per flag.
// a, b, c are 2-D, of one float dtype; c may be a strided view with unit stride on its last axis.
void gemm(const Tensor& a, const Tensor& b, Tensor& c, bool trans_a = false, bool trans_b = false, double alpha = 1.0,
          double beta = 0.0);

// Batched: a (..., M, K), b (..., K, N), c (..., M, N) after the transpose flags; the batch axes
// of a and b broadcast to c's batch axes (size-1 axes are reused, not copied).
void bmm(const Tensor& a, const Tensor& b, Tensor& c, bool trans_a = false, bool trans_b = false, double alpha = 1.0,
         double beta = 0.0);

// y (n) = x (k) w + beta * y for a row-major (k, n) float32 w, or x w^T for a row-major (n, k) w
// when w_transposed: one row times a matrix, on the calling thread, without the checks and layout
// work of gemm (decoding calls it for every weight matrix of every token). For products that gemm
// would not split over threads.
void gemv_row(const float* x, const float* w, std::int64_t k, std::int64_t n, float beta, float* y,
              bool w_transposed = false);

// a @ b with NumPy matmul semantics for >= 2-D operands (batch axes broadcast). A 2-D b
// against an N-D a is one GEMM over the folded rows of a.
Tensor matmul(const Tensor& a, const Tensor& b);

}  // namespace kat
