#pragma once
// Softmax attention (Vaswani et al. 2017, eq. 1) as one differentiable op:
//
//   O = softmax(scale * q k^T + mask) v
//
// computed per head as a GEMM for the logits, one row kernel for scale, mask and a numerically
// stable softmax, and a GEMM for the output; with at least as many heads (B H) as threads, each
// thread runs whole heads so that a head's scores are still in cache for the softmax and the next
// product (backward likewise, with dS in one N x M buffer per task). Backward saves the attention
// probabilities P (B, H, N, M): O(N M) memory per head, which is what linear attention avoids.

#include "autograd/variable.h"
#include "layers/attention/attention.h"

namespace kat {

// q (B, H, N, D), k (B, H, M, D), v (B, H, M, Dv), all float32 or all float64, any layout (views
// are read in place) -> (B, H, N, Dv), contiguous. The mask follows AttentionMask: a key hidden
// from a query gets probability exactly 0. A causal mask needs M >= N, so that every query sees
// at least one key. Values of hidden keys must be finite (they are multiplied by 0).
// Throws kat::Error naming "softmax_attention" on mismatched shapes, dtypes, an empty input, a
// key_lengths that does not fit (B, M), or a non-finite scale.
Variable softmax_attention(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask,
                           double scale);

}  // namespace kat
