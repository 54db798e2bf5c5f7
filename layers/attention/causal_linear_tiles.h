#pragma once
// The causal linear attention op's float32 kernels for CPUs with AVX-512 (causal_linear_op.h): the
// recurrence of Katharopoulos et al. 2020 (eq. 9, and Section 3.3.1 for the gradients) with the
// running sums held in vector registers instead of memory.
//
// Every sweep of the op has one form: rows i in order (or in reverse), an A x W sum
//   X_i = f_i X_{i-1} + u_i w_i^T,    y_i = X_i^T c_i
// (forward: u = phi(K), w = V, c = phi(Q), y = the numerators). The sum is cut into tiles of
// 8 x 32 (16 x 16 where W is not a multiple of 32), each held in 16 vector registers while it runs
// over a block of 32 rows; a row costs a tile 32 multiply-adds, their broadcast operands read from
// the row. Every tile runs over a block before the next block starts, so a block's rows come from
// memory once (prefetched into L2 two blocks ahead). The row-by-row kernel instead reads and writes
// all of X from L1 cache at every row.
//
// Extra memory per thread: the M x Dv sum between blocks and the running normalizer (M), in the
// backward 2 N floats (each row's 1 / normalizer and the normalizer's gradient, read by the reverse
// sweeps, which then need not read the output), and N + 1 with a key
// stabilizer (the factors f_i).

#include <cstdint>

#include "core/tensor.h"

namespace kat::causal_tiles {

// True when the kernels apply: float32, M and Dv multiples of 16, and a CPU with AVX-512 F.
bool available(DType dtype, std::int64_t m, std::int64_t dv);

// The forward (as causal_linear_attention): out (B, H, N, Dv) with unit stride on its last axis; c
// the stabilizer (B, H, N, 1) contiguous or undefined. Inputs have unit stride on their last axis.
void forward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& c, Tensor& out, float eps);

// The gradients that are requested (non-null, of their input's shape, unit stride on the last axis).
void backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& c, const Tensor& out, const Tensor& grad,
              Tensor* dq, Tensor* dk, Tensor* dv, float eps);

// One decoding step of one head (causal_linear_step): S (M x Dv, rows of Dv) = a S_in + k v^T and
// o = S^T q, the numerator before its normalizer; s may be s_in. For float32 with Dv a multiple of
// 16 up to 128 on a CPU with AVX-512 F (step_available), o held in registers over the rows.
bool step_available(std::int64_t dv);
void step(const float* s_in, float* s, const float* q, const float* k, const float* v, float a, std::int64_t m,
          std::int64_t dv, float* o);

}  // namespace kat::causal_tiles
