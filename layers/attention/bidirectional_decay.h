#pragma once
// Linear attention over a whole sequence (an encoder's self-attention) with a per-head decay in
// both directions: key j's term for query i is weighted by gamma_h^|i - j|,
//
//   O_i = sum_j g^|i-j| phi(Q_i).phi(K_j) V_j / (sum_j g^|i-j| phi(Q_i).phi(K_j) + eps).
//
// Both sums split at the query into a part from the left (j <= i) and one from the right (j >= i),
// the diagonal counted twice. Each part is a causal linear attention with decay, the right one over
// the reversed sequence (causal_linear_op.h), which returns n / (d + eps); its normalizer
// d_i = phi(Q_i) . z_i, with z the decayed running sum of phi(K), is recomputed here, so that
// n = O (d + eps) and
//
//   O_i = (n_left + n_right - e_i V_i) / (d_left + d_right - e_i + eps),   e_i = phi(Q_i).phi(K_i).
//
// Time O(N M Dv) per head and memory O(N (M + Dv)): never the N x N weights nor N x M x Dv sums.
// Gradients come from the parts (the causal op's own backward, and the ops below).

#include <vector>

#include "autograd/variable.h"

namespace kat {

// x (B, H, N, F) -> the same with positions in reverse order along axis 2 (a contiguous copy).
Variable reverse_positions(const Variable& x);

// x (B, H, N, F), gamma one per head (H entries) in (0, 1] -> y with y_0 = x_0 and
// y_i = x_i + gamma_h y_{i-1} along axis 2. Throws naming "decayed_prefix_sum" on bad input.
Variable decayed_prefix_sum(const Variable& x, const std::vector<double>& gamma);

// phi_q, phi_k (B, H, N, M), v (B, H, N, Dv); gamma one per head (H entries) in (0, 1], and
// key_log_scale its causal-op form C_j = j (-log gamma_h), (B, H, N, 1); eps >= 0. Keys already
// weighted for padding (zero features add nothing). Returns (B, H, N, Dv).
Variable bidirectional_decayed_linear_attention(const Variable& phi_q, const Variable& phi_k, const Variable& v,
                                                const std::vector<double>& gamma, const Tensor& key_log_scale,
                                                double eps);

}  // namespace kat
