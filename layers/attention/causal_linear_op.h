#pragma once
// Causal linear attention (Katharopoulos et al. 2020, eq. 9 and Section 3.3.1) as one
// differentiable op over feature-mapped queries and keys:
//
//   S_i = sum_{j <= i} phi(K_j) V_j^T   (M x Dv),   z_i = sum_{j <= i} phi(K_j)   (M)
//   O_i = phi(Q_i)^T S_i / (phi(Q_i) . z_i + eps)
//
// The forward keeps one running (S, z) per (batch item, head); the backward computes the gradients
// with one forward and one reverse running sum, never the N x M x Dv cumulative sums. On CPUs with
// AVX-512 (float32, M and Dv multiples of 16) the running sums stay in vector registers, cut into
// register tiles (causal_linear_tiles.h); elsewhere they may advance a chunk of rows at a time, the
// chunk's causal part as matrix products (docs/attention.md). Extra memory beyond the inputs, the
// output and the gradients, per thread: one M x Dv state (and an M vector), plus the chunk's
// temporaries, or on the tiled kernels two floats per position in the backward (each row's
// normalizer and its gradient). Time O(N M Dv) per head (plus O(N L (M + Dv)) with chunks of L
// rows). Parallel over batch x heads with oneTBB.
//
// Stabilized keys (feature_map.h, FeatureRole::causal_key): when row j of phi_k was divided by
// exp(C_j), C non-decreasing along the sequence, the sums are kept in units of exp(C_i):
//   S_i = exp(C_{i-1} - C_i) S_{i-1} + phi(K_i) V_i^T   (and z likewise),
// which leaves O_i exactly as above (up to where eps sits) and keeps every term <= its unscaled size.

#include "autograd/variable.h"

namespace kat {

// phi_q, phi_k (B, H, N, M), v (B, H, N, Dv), one float dtype, any layout with unit stride on the
// last axis (others are copied) -> (B, H, N, Dv), contiguous, or (with the register-tiled kernels)
// laid out as v is when v is a permutation of a contiguous tensor with Dv innermost: heads split
// from a (B, N, H Dv) projection give an output whose heads merge back without a copy, and v's
// gradient takes v's layout likewise. eps >= 0 is added to every normalizer.
// key_log_scale: C as (B, H, N, 1), a constant (no gradient), or undefined for C = 0.
// chunk: rows per chunk of the chunked kernels (matrix products inside a chunk, the running sums
// between chunks; temporaries of O(chunk (chunk + M + Dv)) per thread), 0 for the row-by-row
// recurrence, or -1 (the default) to choose: the register-tiled kernels where
// causal_linear_tiles_available, else chunks of causal_linear_chunk rows for the backward, and for
// the forward only when the M x Dv state exceeds 16 KiB (below, the row-by-row forward, its state in
// L1 cache, was measured faster). All compute the same formula.
// Throws kat::Error naming "causal_linear_attention" and the shapes on bad input.
inline constexpr std::int64_t causal_linear_chunk = 32;
// True when chunk -1 runs the register-tiled kernels: float32, M and Dv multiples of 16, AVX-512.
bool causal_linear_tiles_available(DType dtype, std::int64_t m, std::int64_t dv);

Variable causal_linear_attention(const Variable& phi_q, const Variable& phi_k, const Variable& v, double eps,
                                 const Tensor& key_log_scale = Tensor(), std::int64_t chunk = -1);

// One step of the same recurrence, in place, without gradients: for each (b, h), with the new
// position's phi_q, phi_k (B, H, 1, M) and v (B, H, 1, Dv),
//   S = S * decay + phi_k v^T,  z = z * decay + phi_k,  out = phi_q^T S / (phi_q . z + eps).
// s (B, H, M, Dv) and z (B, H, M) are contiguous; decay (B, H) rescales the old sums (the decoding
// state uses it when the key stabilizer changes) and may be undefined (no rescaling).
// With `from` (int64, B entries), row b's old sums are row from[b] of s and z, which then hold any
// number of rows: the step writes the new sums into s_next and z_next (contiguous (B, H, M, Dv) and
// (B, H, M), apart from s and z) or, when those are undefined, into new tensors, reading each old row
// in the same pass (beam search's reorder costs no pass of its own over the state); s and z then
// refer to the new sums.
Tensor causal_linear_step(Tensor& s, Tensor& z, const Tensor& phi_q, const Tensor& phi_k, const Tensor& v,
                          const Tensor& decay, double eps, const Tensor& from = Tensor(),
                          const Tensor& s_next = Tensor(), const Tensor& z_next = Tensor());

}  // namespace kat
