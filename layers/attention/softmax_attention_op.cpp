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

// One row of logits x[0, M) becomes softmax(scale * x) over its first n entries; the rest get 0.
template <typename T>
void softmax_row_(T* x, std::int64_t n, std::int64_t M, T scale) {
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

// One row x[0, M) of dP = dO V^T becomes dS = P ∘ (dP - rowsum(dO ∘ O)) over its first n entries;
// the rest get 0 (whatever dP holds there). p: the row of P; g, o: the rows of dO and O (Dv each).
template <typename T>
void softmax_grad_row_(T* x, const T* p, const T* g, const T* o, std::int64_t n, std::int64_t M, std::int64_t Dv) {
  T delta = 0;
#pragma omp simd reduction(+ : delta)
  for (std::int64_t d = 0; d < Dv; ++d) delta += g[d] * o[d];
#pragma omp simd
  for (std::int64_t j = 0; j < n; ++j) x[j] = p[j] * (x[j] - delta);
  std::fill(x + n, x + M, T(0));
}

// s (B, H, N, M): the logits q k^T become P = softmax(scale * s + mask) per row, in place.
template <typename T>
void masked_softmax_(Tensor& s, const AttentionMask& mask, T scale) {
  assert(s.is_contiguous());
  const std::int64_t H = s.size(1), N = s.size(2), M = s.size(3);
  T* ps = s.data<T>();
  parallel_for(0, s.numel() / M, row_grain(M), [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t r = r0; r < r1; ++r) {
      softmax_row_(ps + r * M, visible_keys(mask, r / (H * N), r % N, N, M), M, scale);
    }
  });
}

// ds (B, H, N, M) holds dP = dO V^T and becomes dS in place (softmax_grad_row_ per row).
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
      softmax_grad_row_(pds + r * M, pp + r * M, pg + r * Dv, po + r * Dv, visible_keys(mask, r / (H * N), r % N, N, M),
                        M, Dv);
    }
  });
}

// Heads one at a time: with at least as many heads (B H) as threads, each thread takes whole
// heads and runs a head's products and row kernels back to back, so that its scores are still in
// the core's cache when the softmax and the next product read them. A head's queries go in blocks
// of rows, and a block's products stop at the last key any of its rows sees: under a causal mask
// that skips the (mostly) hidden upper triangle of blocks, under padding the padded keys. With
// fewer heads than threads the products of all heads run first over all N x M scores, each split
// over the threads by rows, then the row kernels.
bool by_head(std::int64_t heads) { return heads >= num_threads(); }

// Rows of queries per block under a causal mask (without one, every row of a batch item sees the
// same keys and a head is one block).
constexpr std::int64_t kCausalBlockRows = 64;

std::int64_t block_rows(const AttentionMask& mask, std::int64_t N) {
  return mask.causal ? std::min(N, kCausalBlockRows) : N;
}

// Heads per parallel task so that a task has at least ~1 MFLOP (below it, one thread does all).
std::int64_t head_grain(double flops_per_head) {
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(1e6 / std::max(flops_per_head, 1.0)));
}

// The number of (query, key) pairs the products of one head of batch item b cover: rows times the
// keys their block sees, summed over the blocks. N M without a mask.
double covered_scores(const AttentionMask& mask, std::int64_t b, std::int64_t N, std::int64_t M) {
  const std::int64_t R = block_rows(mask, N);
  double pairs = 0;
  for (std::int64_t r0 = 0; r0 < N; r0 += R) {
    const std::int64_t r1 = std::min(N, r0 + R);
    pairs += static_cast<double>((r1 - r0) * visible_keys(mask, b, r1 - 1, N, M));
  }
  return pairs;
}

Tensor head(const Tensor& t, std::int64_t b, std::int64_t h) { return t.select(0, b).select(0, h); }

class SoftmaxAttentionNode final : public Node {
 public:
  // Each saved only when a gradient needs it; all are released when backward returns.
  Tensor q, k, v;  // the inputs, as passed (views are not copied)
  Tensor p;        // (B, H, N, M) probabilities: O(N M) memory per head, which linear attention avoids
  Tensor o;        // (B, H, N, Dv) output, for rowsum(dO ∘ O)
  std::vector<std::int64_t> q_order, k_order, v_order;  // rows_layout of the inputs, for their gradients
  AttentionMask mask;
  double scale = 1.0;

  const char* name() const override { return "softmax_attention"; }

  // With S = scale Q K^T + mask, P = softmax(S) per row and O = P V (Dao et al. 2022, FlashAttention, App. B.2):
  //   dV = P^T dO,  dP = dO V^T,  dS = P ∘ (dP - rowsum(dP ∘ P)),  dQ = scale dS K,  dK = scale dS^T Q,
  // and rowsum(dP ∘ P) = rowsum(dO ∘ P V) = rowsum(dO ∘ O) costs Dv per row instead of M.
  std::vector<Tensor> backward(const Tensor& grad) override {
    const Tensor P = std::move(p), O = std::move(o), Q = std::move(q), K = std::move(k), V = std::move(v);
    const std::int64_t B = P.size(0), H = P.size(1), N = P.size(2), M = P.size(3), Dv = grad.size(3);
    const DType dtype = grad.dtype();
    const bool heads = by_head(B * H);
    // By head, dO and O are read in place when their rows are (unit stride on the last axis), and the
    // gradients take their inputs' layouts.
    const Tensor dO = heads && grad.stride(3) == 1 ? grad : grad.contiguous();  // (B, H, N, Dv)
    Tensor dq, dk, dv;
    const bool gv = needs_grad(2), gqk = needs_grad(0) || needs_grad(1);
    const std::vector<std::int64_t> row_major;
    if (gv) dv = empty_in_order({B, H, M, Dv}, heads ? v_order : row_major, dtype);
    if (needs_grad(0)) dq = empty_in_order({B, H, N, K.size(3)}, heads ? q_order : row_major, dtype);
    if (needs_grad(1)) dk = empty_in_order({B, H, M, Q.size(3)}, heads ? k_order : row_major, dtype);
    if (heads) {
      const std::int64_t D = needs_grad(0) ? K.size(3) : needs_grad(1) ? Q.size(3) : 0;
      const std::int64_t R = block_rows(mask, N);
      const double per_head = 2.0 * static_cast<double>(N * M) * static_cast<double>(2 * Dv + 2 * D);
      parallel_for(0, B * H, head_grain(per_head), [&](std::int64_t i0, std::int64_t i1) {
        Tensor ds = gqk ? Tensor::empty({R, M}, dtype) : Tensor();  // a block's dP, then dS
        for (std::int64_t i = i0; i < i1; ++i) {
          const std::int64_t b = i / H, h = i % H;
          const Tensor p_h = head(P, b, h), do_h = head(dO, b, h);
          const Tensor o_h = gqk ? head(O, b, h) : Tensor(), v_h = gqk ? head(V, b, h) : Tensor();
          Tensor dv_h = gv ? head(dv, b, h) : Tensor(), dq_h = dq.defined() ? head(dq, b, h) : Tensor();
          Tensor dk_h = dk.defined() ? head(dk, b, h) : Tensor();
          // Blocks from the last: it sees the most keys, and its products set dV and dK there (beta
          // 0); earlier blocks add to them. Keys no block sees get zero gradients.
          bool first = true;
          for (std::int64_t r0 = (N - 1) / R * R; r0 >= 0; r0 -= R) {
            const std::int64_t r1 = std::min(N, r0 + R), nk = visible_keys(mask, b, r1 - 1, N, M);
            const double beta = first ? 0.0 : 1.0;
            if (first && nk < M) {
              if (gv) dv_h.slice(0, nk, M).fill_(0.0);
              if (dk_h.defined()) dk_h.slice(0, nk, M).fill_(0.0);
            }
            first = false;
            const Tensor p_blk = p_h.slice(0, r0, r1).slice(1, 0, nk), do_blk = do_h.slice(0, r0, r1);
            if (gv) {
              Tensor dv_blk = dv_h.slice(0, 0, nk);
              gemm(p_blk, do_blk, dv_blk, /*trans_a=*/true, false, 1.0, beta);
            }
            if (!gqk) continue;
            Tensor ds_blk = ds.slice(0, 0, r1 - r0).slice(1, 0, nk);
            gemm(do_blk, v_h.slice(0, 0, nk), ds_blk, false, /*trans_b=*/true);
            dispatch_float(dtype, "softmax_attention backward", [&](auto tag) {
              using T = decltype(tag);
              for (std::int64_t r = r0; r < r1; ++r) {
                softmax_grad_row_(ds.data<T>() + (r - r0) * M, p_h.data<T>() + r * M,
                                  do_h.data<T>() + r * do_h.stride(0), o_h.data<T>() + r * o_h.stride(0),
                                  visible_keys(mask, b, r, N, M), nk, Dv);
              }
            });
            if (dq_h.defined()) {
              Tensor dq_blk = dq_h.slice(0, r0, r1);
              gemm(ds_blk, head(K, b, h).slice(0, 0, nk), dq_blk, false, false, scale);
            }
            if (dk_h.defined()) {
              Tensor dk_blk = dk_h.slice(0, 0, nk);
              gemm(ds_blk, head(Q, b, h).slice(0, r0, r1), dk_blk, /*trans_a=*/true, false, scale, beta);
            }
          }
        }
      });
      return {dq, dk, dv};
    }
    if (gv) bmm(P, dO, dv, /*trans_a=*/true);
    if (gqk) {
      Tensor ds = Tensor::empty({B, H, N, M}, dtype);  // dP, then dS in place
      bmm(dO, V, ds, false, /*trans_b=*/true);
      dispatch_float(dtype, "softmax_attention backward", [&](auto tag) {
        using T = decltype(tag);
        softmax_grad_<T>(ds, P, dO, O.contiguous(), mask);
      });
      if (needs_grad(0)) bmm(ds, K, dq, false, false, scale);
      if (needs_grad(1)) bmm(ds, Q, dk, /*trans_a=*/true, false, scale);
    }
    return {dq, dk, dv};
  }
};

}  // namespace

double softmax_attention_scores(const AttentionMask& mask, std::int64_t B, std::int64_t H, std::int64_t N,
                                std::int64_t M) {
  if (!by_head(B * H)) return static_cast<double>(B * H * N * M);
  double scores = 0;
  for (std::int64_t b = 0; b < B; ++b) scores += static_cast<double>(H) * covered_scores(mask, b, N, M);
  return scores;
}

Variable softmax_attention(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask,
                           double scale) {
  check_inputs(q, k, v, mask, scale);
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), M = k.size(2), Dv = v.size(3);
  const DType dtype = q.dtype();
  OpTimer timer("softmax_attention");
  if (timer.active()) {
    // 2 (Dk + Dv) per score the products cover forward (all N x M of them when the heads run
    // together; by head, those of the blocks' visible keys); backward dV = P^T dO, dP = dO V^T,
    // dQ = dS K, dK = dS^T Q over the same scores, as the inputs need them.
    const double scores = softmax_attention_scores(mask, B, H, N, M);
    const double qk = 2.0 * scores * static_cast<double>(q.size(3));
    const double pv = 2.0 * scores * static_cast<double>(Dv);
    const bool gq = q.requires_grad(), gk = k.requires_grad(), gv = v.requires_grad();
    timer.set_flops(qk + pv, (gv ? pv : 0) + (gq || gk ? pv : 0) + (gq ? qk : 0) + (gk ? qk : 0));
  }
  Tensor s = Tensor::empty({B, H, N, M}, dtype);  // logits q k^T, then probabilities P in place
  const bool heads = by_head(B * H);
  // By head, the output takes q's layout (rows_layout): merging the heads back is then a view.
  std::vector<std::int64_t> q_order = rows_layout(q.data());
  Tensor out = heads ? empty_in_order({B, H, N, Dv}, q_order, dtype) : Tensor::empty({B, H, N, Dv}, dtype);
  if (heads) {
    const Tensor& qd = q.data();
    const Tensor& kd = k.data();
    const Tensor& vd = v.data();
    const double per_head = 2.0 * static_cast<double>(N * M) * static_cast<double>(q.size(3) + Dv);
    const std::int64_t R = block_rows(mask, N);
    parallel_for(0, B * H, head_grain(per_head), [&](std::int64_t i0, std::int64_t i1) {
      for (std::int64_t i = i0; i < i1; ++i) {
        const std::int64_t b = i / H, h = i % H;
        const Tensor q_h = head(qd, b, h), k_h = head(kd, b, h), v_h = head(vd, b, h);
        Tensor s_h = head(s, b, h), out_h = head(out, b, h);
        for (std::int64_t r0 = 0; r0 < N; r0 += R) {
          const std::int64_t r1 = std::min(N, r0 + R), nk = visible_keys(mask, b, r1 - 1, N, M);
          Tensor s_blk = s_h.slice(0, r0, r1).slice(1, 0, nk), out_blk = out_h.slice(0, r0, r1);
          gemm(q_h.slice(0, r0, r1), k_h.slice(0, 0, nk), s_blk, false, /*trans_b=*/true);
          dispatch_float(dtype, "softmax_attention", [&](auto tag) {
            using T = decltype(tag);
            T* ps = s_h.data<T>();
            for (std::int64_t r = r0; r < r1; ++r) {
              softmax_row_(ps + r * M, visible_keys(mask, b, r, N, M), M, static_cast<T>(scale));
            }
          });
          gemm(s_blk, v_h.slice(0, 0, nk), out_blk);
        }
      }
    });
  } else {
    bmm(q.data(), k.data(), s, false, /*trans_b=*/true);
    dispatch_float(dtype, "softmax_attention", [&](auto tag) {
      using T = decltype(tag);
      masked_softmax_<T>(s, mask, static_cast<T>(scale));
    });
    bmm(s, v.data(), out);
  }
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
  node->q_order = std::move(q_order);
  node->k_order = rows_layout(k.data());
  node->v_order = rows_layout(v.data());
  node->mask = mask;
  node->scale = scale;
  return attach(std::move(out), std::move(node), {&q, &k, &v});
}

}  // namespace kat
