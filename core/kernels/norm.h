#pragma once
// Layer normalization over the last axis, forward and backward fused (one pass over each row for
// the statistics, one for the output), after Ba et al. 2016, "Layer Normalization".

#include "core/tensor.h"

namespace kat {

// y = (x - mean) * rstd * gamma + beta for each row of the last axis (C values), with
// rstd = 1 / sqrt(var + eps) and the biased variance. gamma and beta are (C) or undefined (no
// affine). Writes mean and rstd, (rows), the only statistics the backward needs.
void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor& y, Tensor& mean,
                Tensor& rstd);

// One row of layer_norm (C values; gamma and beta may be null): the arithmetic of every row above,
// for a caller with a few rows of its own (a decoding step). Writes the row's mean and rstd.
void layer_norm_row(const float* row, std::int64_t C, const float* gamma, const float* beta, double eps, float* out,
                    float* mean, float* rstd);
void layer_norm_row(const double* row, std::int64_t C, const double* gamma, const double* beta, double eps, double* out,
                    double* mean, double* rstd);

// With xhat = (x - mean) * rstd and dxhat = grad * gamma:
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (per row)
//   dgamma = sum over rows of grad * xhat,  dbeta = sum over rows of grad.
// Any of dx, dgamma, dbeta may be null to skip it; the others are written (not accumulated). A dx
// that is already contiguous of x's shape and type is written where it is (it may be grad itself);
// with add_to_dx, the gradient is added to what that dx holds (then dx must not be grad).
void layer_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& rstd, Tensor* dx, Tensor* dgamma, Tensor* dbeta, bool add_to_dx = false);

}  // namespace kat
