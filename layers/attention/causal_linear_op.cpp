#include "layers/attention/causal_linear_op.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <type_traits>

#if defined(__AVX__) && defined(__FMA__)
#include <immintrin.h>
#endif

#include "autograd/profiler.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"
#include "layers/attention/causal_linear_tiles.h"

namespace kat {
namespace {

std::string describe(const Tensor& x) {
  return x.defined() ? fmt::format("{} {}", dtype_name(x.dtype()), to_string(x.shape())) : "undefined";
}

void check_inputs(const Tensor& q, const Tensor& k, const Tensor& v, double eps) {
  const auto all = [&] { return fmt::format("phi_q {}, phi_k {}, v {}", describe(q), describe(k), describe(v)); };
  if (!q.defined() || !k.defined() || !v.defined()) {
    throw Error(fmt::format("causal_linear_attention: undefined input: {}", all()));
  }
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) {
    throw Error(fmt::format(
        "causal_linear_attention: expected phi_q (B, H, N, M), phi_k (B, H, N, M), v (B, H, N, Dv), got {}", all()));
  }
  if (!is_floating(q.dtype()) || k.dtype() != q.dtype() || v.dtype() != q.dtype()) {
    throw Error(fmt::format("causal_linear_attention: inputs must be all float32 or all float64, got {}", all()));
  }
  if (q.numel() == 0 || k.numel() == 0 || v.numel() == 0) {
    throw Error(fmt::format("causal_linear_attention: empty input: {}", all()));
  }
  if (k.shape() != q.shape()) {
    throw Error(fmt::format("causal_linear_attention: phi_q and phi_k must have the same shape: {}", all()));
  }
  if (v.size(0) != q.size(0) || v.size(1) != q.size(1) || v.size(2) != q.size(2)) {
    throw Error(fmt::format("causal_linear_attention: v must have the (B, H, N) of phi_q: {}", all()));
  }
  if (!(eps >= 0)) throw Error(fmt::format("causal_linear_attention: eps must be >= 0, got {}", eps));
}

// Rows of a (B, H, N, W) tensor with unit stride on W; a layout without it is copied first.
template <typename P>
struct Rows {
  P base;
  std::int64_t sb, sh, sn;
  P row(std::int64_t b, std::int64_t h, std::int64_t n) const { return base + b * sb + h * sh + n * sn; }
};

Tensor unit_last_stride(const Tensor& t) { return t.stride(3) == 1 || t.size(3) == 1 ? t : t.contiguous(); }

template <typename T>
Rows<const T*> rows_of(const Tensor& t) {
  return {t.data<T>(), t.stride(0), t.stride(1), t.stride(2)};
}
template <typename T>
Rows<T*> rows_of(Tensor& t) {
  return {t.data<T>(), t.stride(0), t.stride(1), t.stride(2)};
}

// Work per (batch item, head) task is N * M * Dv; small problems stay on one thread.
std::int64_t task_grain(std::int64_t n, std::int64_t m, std::int64_t dv) {
  return std::max<std::int64_t>(1, (1 << 16) / std::max<std::int64_t>(1, n * m * dv));
}

// Multiplies n values by a (skipped when a == 1, as it is once the stabilizer settles).
template <typename T>
void scale_(T* x, std::int64_t n, T a) {
  if (a == T(1)) return;
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) x[i] *= a;
}

// exp(C_{i-1} - C_i), the factor that carries the sums from step i-1 to step i (1 without C).
template <typename T>
T carry(const T* C, std::int64_t i) {
  return C == nullptr || i == 0 ? T(1) : static_cast<T>(std::exp(C[i - 1] - C[i]));
}

template <typename T>
T dot(const T* a, const T* b, std::int64_t n) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Chunked form. Rows [i0, i1) of one (b, h) become matrix products: with r = C_{i1-1}, keys scaled
// to units of exp(r) (K'_j = phi(K_j) exp(C_j - r) <= phi(K_j)) and the carried state rescaled
// by exp(C_{i0-1} - r),
//   A = tril(Q_c K'^T),  num = Q_c S + A V_c,  den = Q_c z + rowsum(A) + eps exp(C_i - r),
// then S += K'^T V_c, z += colsum(K'): the sums end in units of exp(C_{i1-1}) as the recurrence
// leaves them. A chunk whose C spans more than kMaxChunkLogRange runs the recurrence row by row, so
// no factor inside a chunk falls below exp(-8) (float32 keeps its relative precision).
constexpr double kMaxChunkLogRange = 8.0;

template <typename T>
bool as_chunk(const T* C, std::int64_t i0, std::int64_t i1) {
  return C == nullptr || C[i1 - 1] - C[i0] <= static_cast<T>(kMaxChunkLogRange);
}

// exp(C_i - r) (1 without C).
template <typename T>
T rel(const T* C, std::int64_t i, T r) {
  return C == nullptr ? T(1) : static_cast<T>(std::exp(C[i] - r));
}

// Rows [i0, i1) of (b, h) as an (i1 - i0, W) matrix view.
Tensor block(const Tensor& x, std::int64_t b, std::int64_t h, std::int64_t i0, std::int64_t i1) {
  return x.select(0, b).select(0, h).slice(0, i0, i1);
}

// One thread's temporaries, sized by the chunk: state (M x Dv + M), scaled keys (L x M), A and P
// (L x L), dnum (L x Dv), den and dden (L).
template <typename T>
struct Work {
  Tensor buf;
  std::int64_t L, M, Dv;
  Work(std::int64_t l, std::int64_t m, std::int64_t dv, bool backward)
      : buf(Tensor::empty({m * dv + m + l * m + l * l + (backward ? l * l + l * dv + 2 * l : l)}, dtype_of<T>())),
        L(l),
        M(m),
        Dv(dv) {}
  Tensor mat(std::int64_t off, std::int64_t rows, std::int64_t cols) const {
    return buf.slice(0, off, off + rows * cols).view({rows, cols});
  }
  T* ptr(std::int64_t off) { return buf.data<T>() + off; }
  std::int64_t o_keys() const { return M * Dv + M; }
  std::int64_t o_a() const { return o_keys() + L * M; }
  std::int64_t o_p() const { return o_a() + L * L; }
  std::int64_t o_dn() const { return o_p() + L * L; }
  Tensor S() const { return mat(0, M, Dv); }
  T* z() { return ptr(M * Dv); }
};

// K'_c: rows [i0, i1) of phi_k times exp(C_j - r), copied into the work buffer (the view itself
// without C).
template <typename T>
Tensor scaled_keys(const Tensor& k, std::int64_t b, std::int64_t h, const T* C, std::int64_t i0, std::int64_t i1,
                   Work<T>& w) {
  const Tensor kc = block(k, b, h, i0, i1);
  if (C == nullptr) return kc;
  const std::int64_t L = i1 - i0, M = k.size(3);
  Tensor out = w.mat(w.o_keys(), L, M);
  const T r = C[i1 - 1];
  const T* src = kc.data<T>();
  T* dst = out.data<T>();
  for (std::int64_t j = 0; j < L; ++j) {
    const T a = rel(C, i0 + j, r);
    const T* s = src + j * kc.stride(0);
#pragma omp simd
    for (std::int64_t m = 0; m < M; ++m) dst[j * M + m] = s[m] * a;
  }
  return out;
}

// A = tril(Q_c K'^T) into the work buffer; den_i = Q_i . z + rowsum(A)_i + eps exp(C_i - r).
template <typename T>
Tensor causal_scores(const Tensor& qc, const Tensor& kc, const T* z, const T* C, std::int64_t i0, std::int64_t i1,
                     T eps, Work<T>& w, T* den) {
  const std::int64_t L = i1 - i0, M = qc.size(1);
  Tensor a = w.mat(w.o_a(), L, L);
  gemm(qc, kc, a, false, true);
  T* pa = a.data<T>();
  const T* pq = qc.data<T>();
  const T r = C != nullptr ? C[i1 - 1] : T(0);
  for (std::int64_t i = 0; i < L; ++i) {
    T* row = pa + i * L;
    std::fill(row + i + 1, row + L, T(0));
    T s = 0;
    for (std::int64_t j = 0; j <= i; ++j) s += row[j];
    if (den != nullptr) den[i] = s + dot(pq + i * qc.stride(0), z, M) + eps * rel(C, i0 + i, r);
  }
  return a;
}

// S += K'^T V_c, z += colsum(K').
template <typename T>
void accumulate_state(const Tensor& kc, const Tensor& vc, Tensor& S, T* z) {
  gemm(kc, vc, S, true, false, 1.0, 1.0);
  const std::int64_t L = kc.size(0), M = kc.size(1);
  const T* pk = kc.data<T>();
  for (std::int64_t j = 0; j < L; ++j) {
    const T* kj = pk + j * kc.stride(0);
#pragma omp simd
    for (std::int64_t m = 0; m < M; ++m) z[m] += kj[m];
  }
}

// The recurrence row by row over [i0, i1), S and z in units of exp(C_i) at row i.
template <typename T>
void forward_rows(const Rows<const T*>& Q, const Rows<const T*>& K, const Rows<const T*>& V, const Rows<T*>& O,
                  std::int64_t b, std::int64_t h, const T* C, std::int64_t i0, std::int64_t i1, std::int64_t M,
                  std::int64_t Dv, T* S, T* z, T eps) {
  for (std::int64_t i = i0; i < i1; ++i) {
    scale_(S, M * Dv + M, carry(C, i));
    const T* qi = Q.row(b, h, i);
    const T* ki = K.row(b, h, i);
    const T* vi = V.row(b, h, i);
    T* oi = O.row(b, h, i);
    T den = eps;
    for (std::int64_t m = 0; m < M; ++m) {
      z[m] += ki[m];
      den += qi[m] * z[m];
    }
    std::fill(oi, oi + Dv, T(0));
    for (std::int64_t m = 0; m < M; ++m) {
      const T km = ki[m], qm = qi[m];
      T* s = S + m * Dv;
#pragma omp simd
      for (std::int64_t d = 0; d < Dv; ++d) {
        s[d] += km * vi[d];
        oi[d] += qm * s[d];
      }
    }
    const T inv = T(1) / den;
#pragma omp simd
    for (std::int64_t d = 0; d < Dv; ++d) oi[d] *= inv;
  }
}

template <typename T>
void forward_kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& log_scale, Tensor& out, T eps,
                    std::int64_t chunk) {
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), M = q.size(3), Dv = v.size(3);
  const auto Q = rows_of<T>(q), K = rows_of<T>(k), V = rows_of<T>(v);
  const auto O = rows_of<T>(out);
  const T* Cs = log_scale.defined() ? log_scale.data<T>() : nullptr;
  const std::int64_t L = chunk > 0 ? std::min(chunk, N) : N;
  parallel_for(0, B * H, task_grain(N, M, Dv), [&](std::int64_t t0, std::int64_t t1) {
    Work<T> w(chunk > 0 ? L : 1, M, Dv, false);
    Tensor S = w.S();
    T* ps = S.data<T>();
    T* z = w.z();
    T* den = w.ptr(w.o_p());
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / H, h = t % H;
      const T* C = Cs != nullptr ? Cs + t * N : nullptr;
      std::fill(ps, ps + M * Dv + M, T(0));
      if (chunk <= 0) {
        forward_rows(Q, K, V, O, b, h, C, 0, N, M, Dv, ps, z, eps);
        continue;
      }
      for (std::int64_t i0 = 0; i0 < N; i0 += L) {
        const std::int64_t i1 = std::min(N, i0 + L), n = i1 - i0;
        if (!as_chunk(C, i0, i1)) {
          forward_rows(Q, K, V, O, b, h, C, i0, i1, M, Dv, ps, z, eps);
          continue;
        }
        const T r = C != nullptr ? C[i1 - 1] : T(0);
        if (C != nullptr && i0 > 0) scale_(ps, M * Dv + M, static_cast<T>(std::exp(C[i0 - 1] - r)));
        const Tensor qc = block(q, b, h, i0, i1), vc = block(v, b, h, i0, i1);
        const Tensor kc = scaled_keys(k, b, h, C, i0, i1, w);
        const Tensor a = causal_scores(qc, kc, z, C, i0, i1, eps, w, den);
        Tensor oc = block(out, b, h, i0, i1);
        gemm(qc, S, oc);
        gemm(a, vc, oc, false, false, 1.0, 1.0);
        T* po = oc.data<T>();
        for (std::int64_t i = 0; i < n; ++i) scale_(po + i * oc.stride(0), Dv, T(1) / den[i]);
        accumulate_state(kc, vc, S, z);
      }
    }
  });
}

// With den_i = phi(Q_i) . z_i + eps, dnum_i = G_i / den_i and dden_i = -(G_i . O_i) / den_i:
//   dphi(Q_i) = S_i dnum_i + dden_i z_i                            (forward running S, z)
//   dphi(K_j) = R_j V_j + r_j,  dV_j = R_j^T phi(K_j),  with       (reverse running R, r)
//   R_j = sum_{i >= j} phi(Q_i) dnum_i^T,  r_j = sum_{i >= j} dden_i phi(Q_i)
// (Katharopoulos et al. 2020, Section 3.3.1, eq. 13-15, extended to the normalizer). The forward
// sweep leaves den_i in the first element of row i of dK (or dV), which the reverse sweep reads
// just before it overwrites that row: no O(N) buffer beyond the gradients themselves.
//
// With stabilized keys (units of exp(C_i)), S carries forward by exp(C_{i-1} - C_i) and R, r carry
// backward by the same factor: R_j = phi(Q_j) dnum_j^T + exp(C_j - C_{j+1}) R_{j+1}.
//
// Chunked, in units of exp(r) (r = C at the chunk's last row, den' = den exp(C_i - r)):
// dnum'_i = G_i / den'_i, dden'_i = -(G_i . O_i) / den'_i, P = tril(dnum' V_c^T), and
//   dphi(Q)_i = dnum'_i S^T + P_i K' + dden'_i z_i                 (S carried; z_i through row i)
//   dphi(K)_j = exp(C_j - r) (R V_j + (P^T Q_c)_j + r_j)           (R carried; r_j from row j on)
//   dV_c = A^T dnum' + K' R,  then R += Q_c^T dnum'.
// den' and the running z_i, r_j are O(L M) sums over the chunk's rows.
template <typename T>
void backward_kernel(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& log_scale, const Tensor& out,
                     const Tensor& grad, Tensor* dq, Tensor* dk, Tensor* dv, T eps, std::int64_t chunk) {
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), M = q.size(3), Dv = v.size(3);
  const auto Q = rows_of<T>(q), K = rows_of<T>(k), V = rows_of<T>(v);
  const auto O = rows_of<T>(out), G = rows_of<T>(grad);
  const bool reverse = dk != nullptr || dv != nullptr;
  Tensor* stash_tensor = dk != nullptr ? dk : dv;
  const T* Cs = log_scale.defined() ? log_scale.data<T>() : nullptr;
  const std::int64_t L = chunk > 0 ? std::min(chunk, N) : N;
  parallel_for(0, B * H, task_grain(N, M, Dv), [&](std::int64_t t0, std::int64_t t1) {
    Work<T> w(chunk > 0 ? L : 1, M, Dv, true);
    Tensor Sm = w.S();
    T* S = Sm.data<T>();
    T* z = w.z();
    T* dn = w.ptr(w.o_dn());
    T* den = dn + w.L * Dv;
    T* dd = den + w.L;
    // dnum'_i and dden'_i of row i0 + i from den'_i.
    auto row_grads = [&](std::int64_t b, std::int64_t h, std::int64_t i0, std::int64_t i) {
      const T* gi = G.row(b, h, i0 + i);
      const T inv = T(1) / den[i];
      dd[i] = -dot(gi, O.row(b, h, i0 + i), Dv) * inv;
#pragma omp simd
      for (std::int64_t d = 0; d < Dv; ++d) dn[i * Dv + d] = gi[d] * inv;
    };
    // P = tril(dnum' V_c^T); the dden' part of P enters through running sums instead.
    auto scores = [&](std::int64_t n, const Tensor& dnum, const Tensor& vc) {
      Tensor p = w.mat(w.o_p(), n, n);
      gemm(dnum, vc, p, false, true);
      T* pp = p.data<T>();
      for (std::int64_t i = 0; i < n; ++i) std::fill(pp + i * n + i + 1, pp + (i + 1) * n, T(0));
      return p;
    };
    for (std::int64_t t = t0; t < t1; ++t) {
      const std::int64_t b = t / H, h = t % H;
      const T* C = Cs != nullptr ? Cs + t * N : nullptr;
      // Forward sweep: dphi(Q), and den_i (units of exp(C_i)) stashed for the reverse sweep.
      std::fill(S, S + M * Dv + M, T(0));
      for (std::int64_t i0 = 0; i0 < N; i0 += L) {
        const std::int64_t i1 = std::min(N, i0 + L), n = i1 - i0;
        if (chunk > 0 && dq != nullptr && as_chunk(C, i0, i1)) {
          const T r = C != nullptr ? C[i1 - 1] : T(0);
          if (C != nullptr && i0 > 0) scale_(S, M * Dv + M, static_cast<T>(std::exp(C[i0 - 1] - r)));
          const Tensor qc = block(q, b, h, i0, i1), vc = block(v, b, h, i0, i1);
          const Tensor kc = scaled_keys(k, b, h, C, i0, i1, w);
          // den by running sums of the keys; dphi(Q) starts as dden'_i z_i (z through row i).
          Tensor dqc = block(*dq, b, h, i0, i1);
          T* pdq = dqc.data<T>();
          const T* pk = kc.data<T>();
          const T* pq = qc.data<T>();
          for (std::int64_t i = 0; i < n; ++i) {
            const T* ki = pk + i * kc.stride(0);
#pragma omp simd
            for (std::int64_t m = 0; m < M; ++m) z[m] += ki[m];
            const T e = rel(C, i0 + i, r);
            den[i] = dot(pq + i * qc.stride(0), z, M) + eps * e;
            if (reverse) rows_of<T>(*stash_tensor).row(b, h, i0 + i)[0] = den[i] / e;
            row_grads(b, h, i0, i);
            T* row = pdq + i * dqc.stride(0);
#pragma omp simd
            for (std::int64_t m = 0; m < M; ++m) row[m] = dd[i] * z[m];
          }
          const Tensor dnum = w.mat(w.o_dn(), n, Dv);
          gemm(dnum, Sm, dqc, false, true, 1.0, 1.0);
          gemm(scores(n, dnum, vc), kc, dqc, false, false, 1.0, 1.0);
          gemm(kc, vc, Sm, true, false, 1.0, 1.0);
          continue;
        }
        for (std::int64_t i = i0; i < i1; ++i) {
          const T a = carry(C, i);
          if (dq != nullptr) {
            scale_(S, M * Dv + M, a);
          } else {
            scale_(z, M, a);
          }
          const T* qi = Q.row(b, h, i);
          const T* ki = K.row(b, h, i);
          T dn_i = eps;
          for (std::int64_t m = 0; m < M; ++m) {
            z[m] += ki[m];
            dn_i += qi[m] * z[m];
          }
          if (reverse) rows_of<T>(*stash_tensor).row(b, h, i)[0] = dn_i;
          if (dq == nullptr) continue;
          const T* vi = V.row(b, h, i);
          const T* gi = G.row(b, h, i);
          const T inv = T(1) / dn_i;
          const T dden = -dot(gi, O.row(b, h, i), Dv) * inv;
          T* dqi = rows_of<T>(*dq).row(b, h, i);
          for (std::int64_t m = 0; m < M; ++m) {
            const T km = ki[m];
            T* s = S + m * Dv;
            T acc = 0;
#pragma omp simd reduction(+ : acc)
            for (std::int64_t d = 0; d < Dv; ++d) {
              s[d] += km * vi[d];
              acc += s[d] * gi[d];
            }
            dqi[m] = acc * inv + dden * z[m];
          }
        }
      }
      if (!reverse) continue;
      // Reverse sweep: dphi(K) and dV, chunks from the last.
      T* R = S;
      T* r = z;
      std::fill(R, R + M * Dv + M, T(0));
      for (std::int64_t i0 = (N - 1) / L * L; i0 >= 0; i0 -= L) {
        const std::int64_t i1 = std::min(N, i0 + L), n = i1 - i0;
        if (chunk > 0 && as_chunk(C, i0, i1)) {
          const T rc = C != nullptr ? C[i1 - 1] : T(0);
          if (C != nullptr && i1 < N) scale_(R, M * Dv + M, static_cast<T>(std::exp(rc - C[i1])));
          for (std::int64_t i = 0; i < n; ++i)
            den[i] = rows_of<T>(*stash_tensor).row(b, h, i0 + i)[0] * rel(C, i0 + i, rc);
          const Tensor qc = block(q, b, h, i0, i1), vc = block(v, b, h, i0, i1);
          const Tensor kc = scaled_keys(k, b, h, C, i0, i1, w);
          for (std::int64_t i = 0; i < n; ++i) row_grads(b, h, i0, i);
          const Tensor dnum = w.mat(w.o_dn(), n, Dv);
          if (dv != nullptr) {
            const Tensor a = causal_scores<T>(qc, kc, nullptr, C, i0, i1, eps, w, nullptr);
            Tensor dvc = block(*dv, b, h, i0, i1);
            gemm(a, dnum, dvc, true, false);
            gemm(kc, Sm, dvc, false, false, 1.0, 1.0);
          }
          if (dk != nullptr) {
            // dphi(K)_j = exp(C_j - r) (R V_j + P^T Q_c + r_j), r_j = r + sum_{i >= j} dden'_i Q_i.
            Tensor dkc = block(*dk, b, h, i0, i1);
            gemm(vc, Sm, dkc, false, true);
            gemm(scores(n, dnum, vc), qc, dkc, true, false, 1.0, 1.0);
            T* pdk = dkc.data<T>();
            const T* pq = qc.data<T>();
            for (std::int64_t j = n - 1; j >= 0; --j) {
              T* row = pdk + j * dkc.stride(0);
              const T* qj = pq + j * qc.stride(0);
              const T a = rel(C, i0 + j, rc), ddj = dd[j];
#pragma omp simd
              for (std::int64_t m = 0; m < M; ++m) {
                r[m] += ddj * qj[m];
                row[m] = (row[m] + r[m]) * a;
              }
            }
          }
          gemm(qc, dnum, Sm, true, false, 1.0, 1.0);
          if (C != nullptr) scale_(R, M * Dv + M, static_cast<T>(std::exp(C[i0] - rc)));
          continue;
        }
        for (std::int64_t i = i1 - 1; i >= i0; --i) {
          if (i + 1 < N) scale_(R, M * Dv + M, carry(C, i + 1));
          const T* qi = Q.row(b, h, i);
          const T* ki = K.row(b, h, i);
          const T* vi = V.row(b, h, i);
          const T* gi = G.row(b, h, i);
          const T den_i = rows_of<T>(*stash_tensor).row(b, h, i)[0];
          const T inv = T(1) / den_i;
          const T dden = -dot(gi, O.row(b, h, i), Dv) * inv;
#pragma omp simd
          for (std::int64_t d = 0; d < Dv; ++d) dn[d] = gi[d] * inv;
          T* dki = dk != nullptr ? rows_of<T>(*dk).row(b, h, i) : nullptr;
          T* dvi = dv != nullptr ? rows_of<T>(*dv).row(b, h, i) : nullptr;
          if (dvi != nullptr) std::fill(dvi, dvi + Dv, T(0));
          for (std::int64_t m = 0; m < M; ++m) {
            const T qm = qi[m], km = ki[m];
            T* Rm = R + m * Dv;
            r[m] += dden * qm;
            if (dvi != nullptr) {
              T acc = 0;
#pragma omp simd reduction(+ : acc)
              for (std::int64_t d = 0; d < Dv; ++d) {
                Rm[d] += qm * dn[d];
                acc += Rm[d] * vi[d];
                dvi[d] += km * Rm[d];
              }
              if (dki != nullptr) dki[m] = acc + r[m];
            } else {
              T acc = 0;
#pragma omp simd reduction(+ : acc)
              for (std::int64_t d = 0; d < Dv; ++d) {
                Rm[d] += qm * dn[d];
                acc += Rm[d] * vi[d];
              }
              dki[m] = acc + r[m];
            }
          }
        }
      }
    }
  });
}

class CausalLinearAttentionNode final : public Node {
 public:
  Tensor q, k, v, out;  // inputs as passed (views with unit last stride) and the output
  Tensor log_scale;     // C (B, H, N, 1) contiguous, or undefined
  double eps = 0;
  std::int64_t chunk = 0;
  bool tiles = false;  // the register-tiled float32 kernels (causal_linear_tiles.h)

  const char* name() const override { return "causal_linear_attention"; }

  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor Q = std::move(q), K = std::move(k), V = std::move(v), O = std::move(out);
    // The tiles read the output's gradient in place (a view of the merged heads' gradient) and
    // write each input's gradient in that input's layout.
    const Tensor G = tiles && grad.stride(3) == 1 ? grad : grad.contiguous();
    auto like = [&](const Tensor& t) {
      return tiles ? empty_in_order(t.shape(), rows_layout(t), t.dtype()) : Tensor::empty(t.shape(), t.dtype());
    };
    Tensor dq, dk, dv;
    if (needs_grad(0)) dq = like(Q);
    if (needs_grad(1)) dk = like(K);
    if (needs_grad(2)) dv = like(V);
    if (tiles) {
      causal_tiles::backward(Q, K, V, log_scale, O, G, dq.defined() ? &dq : nullptr, dk.defined() ? &dk : nullptr,
                             dv.defined() ? &dv : nullptr, static_cast<float>(eps));
      return {dq, dk, dv};
    }
    dispatch_float(G.dtype(), "causal_linear_attention backward", [&](auto tag) {
      using T = decltype(tag);
      backward_kernel<T>(Q, K, V, log_scale, O, G, dq.defined() ? &dq : nullptr, dk.defined() ? &dk : nullptr,
                         dv.defined() ? &dv : nullptr, static_cast<T>(eps), chunk);
    });
    return {dq, dk, dv};
  }
};

}  // namespace

bool causal_linear_tiles_available(DType dtype, std::int64_t m, std::int64_t dv) {
  return causal_tiles::available(dtype, m, dv);
}

Variable causal_linear_attention(const Variable& phi_q, const Variable& phi_k, const Variable& v, double eps,
                                 const Tensor& key_log_scale, std::int64_t chunk) {
  check_inputs(phi_q.defined() ? phi_q.data() : Tensor(), phi_k.defined() ? phi_k.data() : Tensor(),
               v.defined() ? v.data() : Tensor(), eps);
  OpTimer timer("causal_linear_attention");
  const Tensor q = unit_last_stride(phi_q.data()), k = unit_last_stride(phi_k.data()), vv = unit_last_stride(v.data());
  if (timer.active()) {
    // The kernels' multiply-adds over the (M, Dv) running sums, 2 FLOPs each: forward S += k v^T and
    // o += q S (4 M Dv per position); backward 4 M Dv in the forward sweep (dQ) and 6 M Dv in the
    // reverse one (R, dK, dV). The recurrence's count: chunked kernels do these as GEMMs, plus the
    // chunks' L x L products, not counted.
    const double per = static_cast<double>(q.size(0) * q.size(1) * q.size(2) * q.size(3) * vv.size(3));
    timer.set_flops(4.0 * per, (phi_q.requires_grad() ? 4.0 : 0.0) * per +
                                   (phi_k.requires_grad() || v.requires_grad() ? 6.0 : 0.0) * per);
  }
  Tensor c;
  if (key_log_scale.defined()) {
    if (key_log_scale.shape() != Shape{q.size(0), q.size(1), q.size(2), 1} || key_log_scale.dtype() != q.dtype()) {
      throw Error(fmt::format("causal_linear_attention: key_log_scale must be {} (B, H, N, 1) of phi_k's dtype, got {}",
                              to_string({q.size(0), q.size(1), q.size(2), 1}), describe(key_log_scale)));
    }
    c = key_log_scale.contiguous();
  }
  const bool tiles = chunk < 0 && causal_tiles::available(q.dtype(), q.size(3), vv.size(3));
  // The tiles read and write rows in place: the output takes v's layout (rows_layout), so that the
  // heads merge back without a copy.
  const Shape out_shape{q.size(0), q.size(1), q.size(2), vv.size(3)};
  Tensor out = tiles ? empty_in_order(out_shape, rows_layout(vv), q.dtype()) : Tensor::empty(out_shape, q.dtype());
  if (tiles) {
    causal_tiles::forward(q, k, vv, c, out, static_cast<float>(eps));
  } else {
    dispatch_float(q.dtype(), "causal_linear_attention", [&](auto tag) {
      using T = decltype(tag);
      const bool small_state = q.size(3) * vv.size(3) * static_cast<std::int64_t>(sizeof(T)) <= 16384;
      forward_kernel<T>(q, k, vv, c, out, static_cast<T>(eps),
                        chunk >= 0    ? chunk
                        : small_state ? 0
                                      : causal_linear_chunk);
    });
  }
  if (!any_requires_grad({&phi_q, &phi_k, &v})) return Variable(out);
  auto node = std::make_shared<CausalLinearAttentionNode>();
  node->q = q;
  node->k = k;
  node->v = vv;
  node->out = out;
  node->log_scale = c;
  node->eps = eps;
  node->chunk = chunk >= 0 ? chunk : causal_linear_chunk;
  node->tiles = tiles;
  return attach(std::move(out), std::move(node), {&phi_q, &phi_k, &v});
}

Tensor causal_linear_step(Tensor& s, Tensor& z, const Tensor& phi_q, const Tensor& phi_k, const Tensor& v,
                          const Tensor& decay, double eps, const Tensor& from, const Tensor& s_next,
                          const Tensor& z_next) {
  check_inputs(phi_q, phi_k, v, eps);
  const std::int64_t B = phi_q.size(0), H = phi_q.size(1), M = phi_q.size(3), Dv = v.size(3);
  const std::int64_t old_rows = s.defined() ? s.size(0) : 0;
  if (from.defined() && (from.dtype() != DType::i64 || from.dim() != 1 || from.numel() != B)) {
    throw Error(fmt::format("causal_linear_step: from must hold {} int64 row indices, got {}", B, describe(from)));
  }
  if (phi_q.size(2) != 1 || !s.is_contiguous() || !z.is_contiguous() ||
      s.shape() != Shape{from.defined() ? old_rows : B, H, M, Dv} ||
      z.shape() != Shape{from.defined() ? old_rows : B, H, M} || s.dtype() != phi_q.dtype() ||
      z.dtype() != phi_q.dtype() ||
      (decay.defined() && (decay.shape() != Shape{B, H} || decay.dtype() != phi_q.dtype()))) {
    throw Error(fmt::format(
        "causal_linear_step: expected one position of phi_q, phi_k, v and a state S (B, H, M, Dv), z (B, H, M), "
        "decay (B, H); got phi_q {}, phi_k {}, v {}, S {}, z {}, decay {}",
        describe(phi_q), describe(phi_k), describe(v), describe(s), describe(z), describe(decay)));
  }
  const Tensor q = unit_last_stride(phi_q), k = unit_last_stride(phi_k), vv = unit_last_stride(v);
  const Tensor dec = decay.defined() ? decay.contiguous() : Tensor();
  const Tensor rows = from.defined() ? from.contiguous() : Tensor();
  const std::int64_t* pf = rows.defined() ? rows.data<std::int64_t>() : nullptr;
  for (std::int64_t b = 0; pf != nullptr && b < B; ++b) {
    if (pf[b] < 0 || pf[b] >= old_rows) {
      throw Error(fmt::format("causal_linear_step: from[{}] = {} is outside the state's {} rows", b, pf[b], old_rows));
    }
  }
  // Reading reordered rows, the step writes new sums: no row is overwritten before it is read.
  const bool given = pf != nullptr && s_next.defined() && z_next.defined();
  if (given && (!s_next.is_contiguous() || !z_next.is_contiguous() || s_next.shape() != Shape{B, H, M, Dv} ||
                z_next.shape() != Shape{B, H, M} || s_next.dtype() != s.dtype() || z_next.dtype() != z.dtype() ||
                s_next.raw_data() == s.raw_data() || z_next.raw_data() == z.raw_data())) {
    throw Error(
        fmt::format("causal_linear_step: the new sums need contiguous buffers (B, H, M, Dv) = {} and (B, H, M) "
                    "apart from the old ones, got {} and {}",
                    to_string(Shape{B, H, M, Dv}), describe(s_next), describe(z_next)));
  }
  Tensor s_out = given ? s_next : pf != nullptr ? Tensor::empty({B, H, M, Dv}, s.dtype()) : s;
  Tensor z_out = given ? z_next : pf != nullptr ? Tensor::empty({B, H, M}, z.dtype()) : z;
  Tensor out = Tensor::empty({B, H, 1, Dv}, q.dtype());
  dispatch_float(q.dtype(), "causal_linear_step", [&](auto tag) {
    using T = decltype(tag);
    const auto Q = rows_of<T>(q), K = rows_of<T>(k), V = rows_of<T>(vv);
    const T* ps_in = s.data<T>();
    const T* pz_in = z.data<T>();
    T* ps = s_out.data<T>();
    T* pz = z_out.data<T>();
    T* po = out.data<T>();
    const T* pd = dec.defined() ? dec.data<T>() : nullptr;
    const bool registers = causal_tiles::step_available(Dv);
    parallel_for(0, B * H, std::max<std::int64_t>(1, (1 << 15) / (M * Dv)), [&](std::int64_t t0, std::int64_t t1) {
      for (std::int64_t t = t0; t < t1; ++t) {
        const std::int64_t b = t / H, h = t % H;
        const std::int64_t src = pf != nullptr ? pf[b] * H + h : t;
        const T* qi = Q.row(b, h, 0);
        const T* ki = K.row(b, h, 0);
        const T* vi = V.row(b, h, 0);
        const T* S_in = ps_in + src * M * Dv;
        const T* z_in = pz_in + src * M;
        T* S = ps + t * M * Dv;
        T* zt = pz + t * M;
        T* o = po + t * Dv;
        const T a = pd != nullptr ? pd[t] : T(1);
        T den = static_cast<T>(eps);
        for (std::int64_t m = 0; m < M; ++m) {
          zt[m] = z_in[m] * a + ki[m];
          den += qi[m] * zt[m];
        }
        std::fill(o, o + Dv, T(0));
#if defined(__AVX__) && defined(__FMA__)
        // Reordered sums go to the other buffer, which no cache holds: streaming stores skip
        // reading its old lines before writing them (a third of the step's memory traffic).
        if constexpr (std::is_same_v<T, float>) {
          if (pf != nullptr && Dv % 8 == 0 && reinterpret_cast<std::uintptr_t>(S) % 32 == 0) {
            for (std::int64_t m = 0; m < M; ++m) {
              const __m256 km = _mm256_set1_ps(ki[m]), qm = _mm256_set1_ps(qi[m]), av = _mm256_set1_ps(a);
              const float* sm_in = S_in + m * Dv;
              float* sm = S + m * Dv;
              for (std::int64_t d = 0; d < Dv; d += 8) {
                const __m256 x =
                    _mm256_fmadd_ps(_mm256_loadu_ps(sm_in + d), av, _mm256_mul_ps(km, _mm256_loadu_ps(vi + d)));
                _mm256_stream_ps(sm + d, x);
                _mm256_storeu_ps(o + d, _mm256_fmadd_ps(qm, x, _mm256_loadu_ps(o + d)));
              }
            }
            const T inv = T(1) / den;
            for (std::int64_t d = 0; d < Dv; ++d) o[d] *= inv;
            continue;
          }
        }
#endif
        bool in_registers = false;
        if constexpr (std::is_same_v<T, float>) {
          in_registers = registers;
          if (in_registers) causal_tiles::step(S_in, S, qi, ki, vi, a, M, Dv, o);
        }
        for (std::int64_t m = 0; !in_registers && m < M; ++m) {
          const T km = ki[m], qm = qi[m];
          const T* sm_in = S_in + m * Dv;
          T* sm = S + m * Dv;
#pragma omp simd
          for (std::int64_t d = 0; d < Dv; ++d) {
            sm[d] = sm_in[d] * a + km * vi[d];
            o[d] += qm * sm[d];
          }
        }
        const T inv = T(1) / den;
        for (std::int64_t d = 0; d < Dv; ++d) o[d] *= inv;
      }
#if defined(__AVX__) && defined(__FMA__)
      _mm_sfence();  // the streamed sums are visible before another thread reads them
#endif
    });
  });
  s = s_out;
  z = z_out;
  return out;
}

}  // namespace kat
