#pragma once
// Softmax attention (Vaswani et al. 2017, eq. 1) as one differentiable op:
//
//   O = softmax(scale * q k^T + mask) v
//
// computed per head as a GEMM for the logits, one row kernel for scale, mask and a numerically
// stable softmax, and a GEMM for the output; with at least as many heads (B H) as threads, each
// thread runs whole heads so that a head's scores are still in cache for the softmax and the next
// product (backward likewise, with dS in one buffer per task), and the products of a block of
// queries stop at the last key the block sees (causal masks and padding skip hidden keys). Backward saves the attention
// probabilities P (B, H, N, M): O(N M) memory per head, which is what linear attention avoids.

#include "autograd/variable.h"
#include "layers/attention/attention.h"

namespace kat {

// q (B, H, N, D), k (B, H, M, D), v (B, H, M, Dv), all float32 or all float64, any layout (views
// are read in place) -> (B, H, N, Dv), contiguous, or (with at least as many heads as threads)
// laid out as q is when q is a permutation of a contiguous tensor with D innermost: heads split
// from a (B, N, H D) projection give an output whose heads merge back without a copy. The
// gradients of q, k and v take their layouts likewise. The mask follows AttentionMask: a key hidden
// from a query gets probability exactly 0. A causal mask needs M >= N, so that every query sees
// at least one key. Values of hidden keys must be finite (they are multiplied by 0).
// Throws kat::Error naming "softmax_attention" on mismatched shapes, dtypes, an empty input, a
// key_lengths that does not fit (B, M), or a non-finite scale.
Variable softmax_attention(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask,
                           double scale);

// How many of the B H N M scores the op's products compute at the current thread count (each
// costs 2 (D + Dv) FLOPs forward): by head, the rows of each block of 64 queries times the keys
// the block's last query sees, so a causal mask over N = M = 256 computes 10/16 of them; with
// fewer heads than threads, all of them. key_lengths, if any, must have B entries.
double softmax_attention_scores(const AttentionMask& mask, std::int64_t B, std::int64_t H, std::int64_t N,
                                std::int64_t M);

}  // namespace kat
