#pragma once
// The dropout mask, drawn from a key rather than stored: element i (its index in the whole tensor)
// is dropped with probability p, the others scaled by 1 / (1 - p). The mask depends only on the key
// and the index, not on how threads split the work, so the backward draws it again.

#include <cstdint>

#include "core/tensor.h"

namespace kat {

// out = in * mask for the elements [first, first + numel) of the whole tensor's mask. in and out
// contiguous, of the same shape and float type; p in [0, 1).
void dropout_mask_apply(const Tensor& in, Tensor& out, double p, std::uint64_t key, std::int64_t first);

// out = add + in * mask in one pass: a residual sum after dropout, with dropout_mask_apply's mask.
// add contiguous, of in's shape and type.
void dropout_mask_apply_add(const Tensor& in, const Tensor& add, Tensor& out, double p, std::uint64_t key,
                            std::int64_t first);

// out = max(in, 0) * mask in one pass: exactly dropout_mask_apply of relu(in), with the same mask.
void relu_dropout_mask_apply(const Tensor& in, Tensor& out, double p, std::uint64_t key, std::int64_t first);

// The gradient of out = relu_dropout_mask_apply(in) from out alone: dx = g / (1 - p) where out > 0,
// else 0 (out > 0 exactly where in > 0 and the mask keeps the element). All contiguous, one shape.
void relu_dropout_backward(const Tensor& out, const Tensor& g, Tensor& dx, double p);

}  // namespace kat
