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

}  // namespace kat
