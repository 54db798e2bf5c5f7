#pragma once
// Softmax and log-softmax over the last axis, numerically stable (the row maximum is subtracted
// before exp), with their backward passes. Inputs of any layout; outputs contiguous, same shape.

#include "core/tensor.h"

namespace kat {

void softmax(const Tensor& in, Tensor& out);
void log_softmax(const Tensor& in, Tensor& out);
Tensor softmax(const Tensor& in);
Tensor log_softmax(const Tensor& in);

// y = softmax(x): dx = y * (g - sum(g * y)) per row.
void softmax_backward(const Tensor& grad, const Tensor& y, Tensor& dx);
// y = log_softmax(x): dx = g - exp(y) * sum(g) per row.
void log_softmax_backward(const Tensor& grad, const Tensor& y, Tensor& dx);

}  // namespace kat
