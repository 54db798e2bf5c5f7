#include "layers/attention/softmax_attention_op.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "autograd/profiler.h"
#include "core/kernels/fast_math.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"

namespace kat {

namespace {

std::string describe(const Variable& x) {
  return x.defined() ? fmt::format("{} {}", dtype_name(x.dtype()), to_string(x.shape())) : "undefined";
}

void check_inputs(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask, double scale) {
  const auto all = [&] { return fmt::format("q {}, k {}, v {}", describe(q), describe(k), describe(v)); };
  if (!q.defined() || !k.defined() || !v.defined()) {
    throw Error(fmt::format("softmax_attention: undefined input: {}", all()));
  }
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) {
    throw Error(
        fmt::format("softmax_attention: expected q (B, H, N, D), k (B, H, M, D), v (B, H, M, Dv), got {}", all()));
  }
  if (!is_floating(q.dtype()) || k.dtype() != q.dtype() || v.dtype() != q.dtype()) {
    throw Error(fmt::format("softmax_attention: q, k, v must be all float32 or all float64, got {}", all()));
  }
  if (q.numel() == 0 || k.numel() == 0 || v.numel() == 0) {
    throw Error(fmt::format("softmax_attention: empty input: {}", all()));
  }
  if (k.size(0) != q.size(0) || v.size(0) != q.size(0) || k.size(1) != q.size(1) || v.size(1) != q.size(1)) {
    throw Error(fmt::format("softmax_attention: batch and head axes (B, H) of q, k, v differ: {}", all()));
  }
  if (k.size(3) != q.size(3)) {
    throw Error(
        fmt::format("softmax_attention: head dim D of q ({}) != that of k ({}): {}", q.size(3), k.size(3), all()));
  }
  if (v.size(2) != k.size(2)) {
    throw Error(fmt::format("softmax_attention: k has {} keys (M) but v has {}: {}", k.size(2), v.size(2), all()));
  }
  if (!std::isfinite(scale)) throw Error(fmt::format("softmax_attention: scale must be finite, got {}", scale));
  if (mask.causal && k.size(2) < q.size(2)) {
    throw Error(fmt::format(
        "softmax_attention: a causal mask needs at least as many keys as queries (M >= N, queries being the last N "
        "of the M positions), got N = {} queries and M = {} keys",
        q.size(2), k.size(2)));
  }
  check_mask(mask, q.size(0), k.size(2), "softmax_attention");
}

// Query i (of N) of batch item b sees keys [0, n): both masks hide a suffix of the M keys.
// n >= 1 once check_inputs has passed.
std::int64_t visible_keys(const AttentionMask& mask, std::int64_t b, std::int64_t i, std::int64_t N, std::int64_t M) {
  std::int64_t n = mask.key_lengths.empty() ? M : mask.key_lengths[static_cast<std::size_t>(b)];
  if (mask.causal) n = std::min(n, i + (M - N) + 1);
  assert(n >= 1 && n <= M);
  return n;
}

std::int64_t row_grain(std::int64_t work_per_row) { return std::max<std::int64_t>(1, 16384 / work_per_row); }

// s (B, H, N, M): the logits q k^T become P = softmax(scale * s + mask) per row, in place.
// Hidden keys get exactly 0.
template <typename T>
void masked_softmax_(Tensor& s, const AttentionMask& mask, T scale) {
  assert(s.is_contiguous());
  const std::int64_t H = s.size(1), N = s.size(2), M = s.size(3);
  T* ps = s.data<T>();
  parallel_for(0, s.numel() / M, row_grain(M), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      T* x = ps + r * M;
      const std::int64_t n = visible_keys(mask, r / (H * N), r % N, N, M);
      T mx = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : mx)
      for (std::int64_t j = 0; j < n; ++j) {
        x[j] *= scale;
        mx = x[j] > mx ? x[j] : mx;
      }
      T sum = 0;
#pragma omp simd reduction(+ : sum)
      for (std::int64_t j = 0; j < n; ++j) {
        x[j] = detail::exp_vec(x[j] - mx);
        sum += x[j];
      }
      const T inv = T(1) / sum;
#pragma omp simd
      for (std::int64_t j = 0; j < n; ++j) x[j] *= inv;
      std::fill(x + n, x + M, T(0));
    }
  });
}

// ds (B, H, N, M) holds dP = dO V^T and becomes dS = P ∘ (dP - rowsum(dO ∘ O)) in place.
// Hidden keys get exactly 0 (whatever dP holds there).
template <typename T>
void softmax_grad_(Tensor& ds, const Tensor& p, const Tensor& dout, const Tensor& out, const AttentionMask& mask) {
  assert(ds.is_contiguous() && p.is_contiguous() && dout.is_contiguous() && out.is_contiguous());
  const std::int64_t H = ds.size(1), N = ds.size(2), M = ds.size(3), Dv = out.size(3);
  T* pds = ds.data<T>();
  const T* pp = p.data<T>();
  const T* pg = dout.data<T>();
  const T* po = out.data<T>();
  parallel_for(0, ds.numel() / M, row_grain(M + Dv), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      const T* g = pg + r * Dv;
      const T* o = po + r * Dv;
      T delta = 0;
#pragma omp simd reduction(+ : delta)
      for (std::int64_t d = 0; d < Dv; ++d) delta += g[d] * o[d];
      T* x = pds + r * M;
      const T* pr = pp + r * M;
      const std::int64_t n = visible_keys(mask, r / (H * N), r % N, N, M);
#pragma omp simd
      for (std::int64_t j = 0; j < n; ++j) x[j] = pr[j] * (x[j] - delta);
      std::fill(x + n, x + M, T(0));
    }
  });
}

class SoftmaxAttentionNode final : public Node {
 public:
  // Each saved only when a gradient needs it; all are released when backward returns.
  Tensor q, k, v;  // the inputs, as passed (views are not copied)
  Tensor p;        // (B, H, N, M) probabilities: O(N M) memory per head, which linear attention avoids
  Tensor o;        // (B, H, N, Dv) output, for rowsum(dO ∘ O)
  AttentionMask mask;
  double scale = 1.0;

  const char* name() const override { return "softmax_attention"; }

  // With S = scale Q K^T + mask, P = softmax(S) per row and O = P V (Dao et al. 2022, FlashAttention, App. B.2):
  //   dV = P^T dO,  dP = dO V^T,  dS = P ∘ (dP - rowsum(dP ∘ P)),  dQ = scale dS K,  dK = scale dS^T Q,
  // and rowsum(dP ∘ P) = rowsum(dO ∘ P V) = rowsum(dO ∘ O) costs Dv per row instead of M.
  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor P = std::move(p), O = std::move(o), Q = std::move(q), K = std::move(k), V = std::move(v);
    const Tensor dO = grad.contiguous();  // (B, H, N, Dv)
    const std::int64_t B = P.size(0), H = P.size(1), N = P.size(2), M = P.size(3), Dv = dO.size(3);
    const DType dtype = dO.dtype();
    Tensor dq, dk, dv;
    if (needs_grad(2)) {
      dv = Tensor::empty({B, H, M, Dv}, dtype);
      bmm(P, dO, dv, /*trans_a=*/true);
    }
    if (needs_grad(0) || needs_grad(1)) {
      Tensor ds = Tensor::empty({B, H, N, M}, dtype);  // dP, then dS in place
      bmm(dO, V, ds, false, /*trans_b=*/true);
      dispatch_float(dtype, "softmax_attention backward", [&](auto tag) {
        using T = decltype(tag);
        softmax_grad_<T>(ds, P, dO, O, mask);
      });
      if (needs_grad(0)) {
        dq = Tensor::empty({B, H, N, K.size(3)}, dtype);
        bmm(ds, K, dq, false, false, scale);
      }
      if (needs_grad(1)) {
        dk = Tensor::empty({B, H, M, Q.size(3)}, dtype);
        bmm(ds, Q, dk, /*trans_a=*/true, false, scale);
      }
    }
    return {dq, dk, dv};
  }
};

}  // namespace

Variable softmax_attention(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask,
                           double scale) {
  check_inputs(q, k, v, mask, scale);
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), M = k.size(2), Dv = v.size(3);
  const DType dtype = q.dtype();
  OpTimer timer("softmax_attention");
  if (timer.active()) {
    // The products run over all N x M scores (masked ones included): 2 B H N M (Dk + Dv) forward;
    // backward dV = P^T dO, dP = dO V^T, dQ = dS K, dK = dS^T Q, as the inputs need them.
    const double qk = 2.0 * static_cast<double>(B * H * N * M * q.size(3));
    const double pv = 2.0 * static_cast<double>(B * H * N * M * Dv);
    const bool gq = q.requires_grad(), gk = k.requires_grad(), gv = v.requires_grad();
    timer.set_flops(qk + pv, (gv ? pv : 0) + (gq || gk ? pv : 0) + (gq ? qk : 0) + (gk ? qk : 0));
  }
  Tensor s = Tensor::empty({B, H, N, M}, dtype);  // logits q k^T, then probabilities P in place
  bmm(q.data(), k.data(), s, false, /*trans_b=*/true);
  dispatch_float(dtype, "softmax_attention", [&](auto tag) {
    using T = decltype(tag);
    masked_softmax_<T>(s, mask, static_cast<T>(scale));
  });
  Tensor out = Tensor::empty({B, H, N, Dv}, dtype);
  bmm(s, v.data(), out);
  if (!any_requires_grad({&q, &k, &v})) return Variable(out);

  auto node = std::make_shared<SoftmaxAttentionNode>();
  const bool gq = q.requires_grad(), gk = k.requires_grad();
  node->p = s;
  if (gq || gk) {
    node->o = out;
    node->v = v.data();
  }
  if (gq) node->k = k.data();
  if (gk) node->q = q.data();
  node->mask = mask;
  node->scale = scale;
  return attach(std::move(out), std::move(node), {&q, &k, &v});
}

}  // namespace kat
