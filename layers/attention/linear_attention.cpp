#include "layers/attention/linear_attention.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/ops.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/gemm.h"
#include "core/kernels/reduce.h"
#include "layers/attention/bidirectional_decay.h"
#include "layers/attention/causal_linear_op.h"
#include "layers/attention/feature_maps/registry.h"

namespace kat {
namespace {

// Self-attention: the running sums S (B, H, M, Dv) and z (B, H, M), and, for maps with a key
// stabilizer, the log of the common factor they are divided by (B, H). A new key with its own
// factor c rescales both to the larger of the two, so the sums stay finite and their ratio exact.
// Cross-attention: the fixed sums over the memory.
// A reorder of self-attention sums is not applied at once: `from` records which old row each new
// row continues, and the next step reads those rows as it updates them (one pass over the sums
// instead of two), writing into a second pair of buffers; the two pairs then swap.
class LinearState final : public AttentionState {
 public:
  Tensor s, z, log_scale;
  Tensor from;   // int64 (rows): the row of s and z each row continues, or undefined (row r is r)
  Tensor gamma;  // (rows, H): each head's decay (AttentionOptions::decay), or undefined
  Tensor base_s, base_z, spare_s, spare_z;  // s and z are the first rows of base_s, base_z
  bool cross = false;
  std::int64_t used = 0;

  std::int64_t rows() const { return from.defined() ? from.numel() : s.size(0); }

  void reorder(const Tensor& indices) override {
    if (log_scale.defined()) log_scale = take_batch(log_scale, indices);
    if (!s.defined()) return;
    if (cross) {
      s = take_batch(s, indices);
      z = take_batch(z, indices);
      return;
    }
    const Tensor idx = indices.contiguous();
    const std::int64_t* pi = idx.data<std::int64_t>();
    const std::int64_t n = idx.numel(), have = rows();
    std::vector<std::int64_t> next(static_cast<std::size_t>(n));
    const std::int64_t* pf = from.defined() ? from.data<std::int64_t>() : nullptr;
    for (std::int64_t r = 0; r < n; ++r) {
      if (pi[r] < 0 || pi[r] >= have) {
        throw Error(fmt::format("reorder: index {} at {} is outside the batch of {}", pi[r], r, have));
      }
      next[static_cast<std::size_t>(r)] = pf != nullptr ? pf[pi[r]] : pi[r];
    }
    from = Tensor::from_vector(next);
  }
  std::int64_t length() const override { return used; }
};

LinearState& as_linear(AttentionState& state, const std::string& where) {
  auto* s = dynamic_cast<LinearState*>(&state);
  if (s == nullptr) throw Error(where + ": decoding state was not made by linear attention");
  return *s;
}

void check_qkv(const Tensor& q, const Tensor& k, const Tensor& v, const std::string& where) {
  if (!q.defined() || !k.defined() || !v.defined() || q.dim() != 4 || k.dim() != 4 || v.dim() != 4 ||
      k.size(2) != v.size(2) || q.size(3) != k.size(3) || q.size(0) != k.size(0) || q.size(1) != k.size(1) ||
      v.size(0) != k.size(0) || v.size(1) != k.size(1)) {
    auto d = [](const Tensor& t) { return t.defined() ? to_string(t.shape()) : std::string("undefined"); };
    throw Error(fmt::format("{}: expected q (B, H, N, D), k (B, H, M, D), v (B, H, M, Dv), got q {}, k {}, v {}", where,
                            d(q), d(k), d(v)));
  }
}

// (B, 1, N, M): 1 where query i may see key j under the mask (causal: j <= i + M - N; padding:
// j below the item's key length), else 0.
Tensor visible_keys(const AttentionMask& mask, std::int64_t B, std::int64_t N, std::int64_t M, DType dtype) {
  Tensor out = Tensor::zeros({B, 1, N, M}, DType::f64);
  double* p = out.data<double>();
  for (std::int64_t b = 0; b < B; ++b) {
    const std::int64_t length = mask.key_lengths.empty() ? M : mask.key_lengths[static_cast<std::size_t>(b)];
    for (std::int64_t i = 0; i < N; ++i) {
      const std::int64_t last = mask.causal ? std::min(length, i + (M - N) + 1) : length;
      for (std::int64_t j = 0; j < last; ++j) p[(b * N + i) * M + j] = 1.0;
    }
  }
  return out.to(dtype);
}

}  // namespace

LinearAttention::LinearAttention(const AttentionOptions& o, const AttentionSetup& setup, const std::string& default_map,
                                 Rng& rng)
    : AttentionKernel("linear_attention"), setup_(setup), eps_(o.eps) {
  if (setup.head_dim <= 0) fail(fmt::format("head_dim must be positive, got {}", setup.head_dim));
  if (std::isnan(o.eps)) fail("eps must be a number, got NaN");
  FeatureMapOptions fo;
  fo.name = o.feature_map.empty() ? default_map : o.feature_map;
  fo.head_dim = setup.head_dim;
  fo.heads = setup.heads;
  fo.features = o.features;
  fo.orthogonal = o.orthogonal;
  fo.norms = o.norms;
  fo.redraw_interval = o.redraw_interval;
  fo.eps = o.feature_eps;
  fo.extra = o.extra;
  std::shared_ptr<FeatureMap> map;
  try {
    map = make_feature_map(fo, rng);
  } catch (const LayerError& e) {
    throw LayerError(e.path().empty() ? "feature_map" : "feature_map." + e.path(), e.message());
  } catch (const Error& e) {
    fail(e.what());
  }
  feature_map_ = register_module("feature_map", map);
  if (!o.decay.empty()) {
    if (setup.cross) fail("decay applies to self-attention only (it weighs keys by their distance from the query)");
    if (o.decay.size() != 1 && static_cast<std::int64_t>(o.decay.size()) != setup.heads) {
      fail(fmt::format("decay takes one number or one per head ({}), got {}", setup.heads, o.decay.size()));
    }
    // One rate for every head, or one per head.
    std::vector<double> rates(o.decay.size());
    for (std::size_t h = 0; h < o.decay.size(); ++h) {
      const double gamma = o.decay[h];
      if (!(gamma > 0.0 && gamma <= 1.0)) fail(fmt::format("decay must be in (0, 1], got {} for head {}", gamma, h));
      rates[h] = -std::log(gamma);
    }
    if (std::any_of(rates.begin(), rates.end(), [](double r) { return r > 0.0; })) decay_rate_ = std::move(rates);
  }
}

double LinearAttention::decay_rate(std::int64_t head, std::int64_t heads) const {
  if (decay_rate_.size() == 1) return decay_rate_[0];
  if (static_cast<std::int64_t>(decay_rate_.size()) != heads) {
    fail(fmt::format("decay was set for {} heads, the input has {}", decay_rate_.size(), heads));
  }
  return decay_rate_[static_cast<std::size_t>(head)];
}

Tensor LinearAttention::decay_log_scale(const Tensor& c, std::int64_t batch, std::int64_t heads, std::int64_t n,
                                        DType dtype) const {
  if (decay_rate_.empty()) return c;
  // C_j = j (-log gamma_h), plus the feature map's own stabilizer where it has one. Formed in
  // double: C grows with j, and only the differences C_j - C_i of nearby rows matter.
  Tensor out = Tensor::empty({batch, heads, n, 1}, DType::f64);
  double* po = out.data<double>();
  const Tensor given = c.defined() ? c.to(DType::f64).contiguous() : Tensor();
  const double* pc = given.defined() ? given.data<double>() : nullptr;
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t h = 0; h < heads; ++h) {
      const double rate = decay_rate(h, heads);
      const std::int64_t row = (b * heads + h) * n;
      for (std::int64_t j = 0; j < n; ++j) po[row + j] = rate * static_cast<double>(j) + (pc ? pc[row + j] : 0.0);
    }
  }
  return out.to(dtype);
}

Tensor LinearAttention::decay_factors(std::int64_t batch, std::int64_t heads, DType dtype) const {
  if (decay_rate_.empty()) return Tensor();
  Tensor out = Tensor::empty({batch, heads}, DType::f64);
  double* p = out.data<double>();
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t h = 0; h < heads; ++h) p[b * heads + h] = std::exp(-decay_rate(h, heads));
  }
  return out.to(dtype);
}

double LinearAttention::eps() const { return eps_ >= 0 ? eps_ : feature_map_->normalizer_eps(); }

Variable LinearAttention::forward(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask) {
  check_qkv(q.defined() ? q.data() : Tensor(), k.defined() ? k.data() : Tensor(), v.defined() ? v.data() : Tensor(),
            where());
  check_mask(mask, q.size(0), k.size(2), where());
  const bool causal = setup_.causal || mask.causal;
  if (causal && q.size(2) != k.size(2)) {
    fail(
        fmt::format("causal linear attention needs as many queries as keys, got {} and {} (decode one position at "
                    "a time with step_self)",
                    q.size(2), k.size(2)));
  }
  if (distilling_) return distill_forward(q, k, v, mask, causal);
  const Variable phi_q = feature_map_->forward(q, FeatureRole::query);  // (B, H, N, M)
  Tensor c;                                                             // causal keys' stabilizer, (B, H, N, 1)
  Variable phi_k = feature_map_->forward(k, causal ? FeatureRole::causal_key : FeatureRole::key, &c);
  const Tensor w = key_padding_weights(mask, k.size(0), k.size(2), phi_k.dtype());
  if (w.defined()) phi_k = phi_k * Variable(w);
  if (causal) {
    return causal_linear_attention(phi_q, phi_k, v, eps(),
                                   decay_log_scale(c, q.size(0), q.size(1), q.size(2), phi_k.dtype()));
  }
  if (!decay_rate_.empty()) {
    if (q.size(2) != k.size(2)) {
      fail(fmt::format("decay needs self-attention (as many queries as keys), got {} queries and {} keys", q.size(2),
                       k.size(2)));
    }
    const std::int64_t H = q.size(1);
    std::vector<double> gamma(static_cast<std::size_t>(H));
    for (std::int64_t h = 0; h < H; ++h) gamma[static_cast<std::size_t>(h)] = std::exp(-decay_rate(h, H));
    return bidirectional_decayed_linear_attention(
        phi_q, phi_k, v, gamma, decay_log_scale(Tensor(), q.size(0), H, q.size(2), phi_k.dtype()), eps());
  }
  const Variable kv = matmul(transpose(phi_k, 2, 3), v);                   // (B, H, M, Dv)
  const Variable k_sum = sum(phi_k, {2}, /*keepdim=*/true);                // (B, H, 1, M)
  const Variable den = sum(phi_q * k_sum, {3}, /*keepdim=*/true) + eps();  // (B, H, N, 1)
  return matmul(phi_q, kv) / den;
}

Variable LinearAttention::distill_forward(const Variable& q, const Variable& k, const Variable& v,
                                          const AttentionMask& given, bool causal) {
  AttentionMask mask = given;
  mask.causal = causal;
  const std::int64_t B = q.size(0), N = q.size(2), M = k.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const Variable qd(q.data()), kd(k.data());                      // detached: the loss trains the feature map alone
  const Tensor visible = visible_keys(mask, B, N, M, q.dtype());  // (B, 1, N, M)
  Tensor weights = visible;  // the student's: the visible keys, times gamma_h^(i - j) (or ^|i - j|) under decay
  if (!decay_rate_.empty()) {
    const std::int64_t H = q.size(1);
    Tensor g = Tensor::empty({1, H, N, M}, DType::f64);
    double* pg = g.data<double>();
    for (std::int64_t h = 0; h < H; ++h) {
      const double rate = decay_rate(h, H);
      for (std::int64_t i = 0; i < N; ++i) {
        for (std::int64_t j = 0; j < M; ++j) {
          const double back = static_cast<double>(i + (M - N) - j);
          const double distance = causal ? back : std::abs(back);
          pg[(h * N + i) * M + j] = distance >= 0 ? std::exp(-rate * distance) : 0.0;
        }
      }
    }
    weights = binary(BinaryOp::mul, visible, g.to(q.dtype()));
  }
  Tensor p;        // the softmax weights (B, H, N, M)
  Tensor teacher;  // their output, P v
  {
    NoGradGuard no_grad;
    // scale q k^T, hidden keys pushed to -1e30 (weight exactly 0 after the softmax).
    const Tensor hidden = unary(UnaryOp::scale, unary(UnaryOp::add_scalar, visible, -1.0), 1e30);
    const Tensor logits =
        binary(BinaryOp::add, unary(UnaryOp::scale, matmul(q.data(), k.data().transpose(2, 3)), scale), hidden);
    p = softmax(Variable(logits)).data();
    teacher = matmul(p, v.data());
  }
  const Variable phi_q = feature_map_->forward(qd, FeatureRole::query);  // (B, H, N, F)
  const Variable phi_k = feature_map_->forward(kd, FeatureRole::key);
  const Variable a = matmul(phi_q, transpose(phi_k, 2, 3)) * Variable(weights);  // (B, H, N, M)
  const Variable den = sum(a, {3}, /*keepdim=*/true) + eps();
  // log A = log(a) - log(den); hidden keys have a = 0 and P = 0, and the 1e-30 keeps 0 * log 0 out.
  const Variable log_a = log(a + 1e-30) - log(den);
  // KL(P || A) = sum P log P - sum P log A: the cross-entropy less P's own entropy, so that 0 means
  // the kernel reproduces softmax attention exactly (the gradient is the cross-entropy's).
  const double rows = static_cast<double>(B * q.size(1) * N);
  const Tensor p_log_p = binary(BinaryOp::mul, p, unary(UnaryOp::log, unary(UnaryOp::add_scalar, p, 1e-30)));
  distillation_loss_ = (sum(Variable(p_log_p)) - sum(Variable(p) * log_a)) * (1.0 / rows);
  return Variable(teacher);
}

std::unique_ptr<AttentionState> LinearAttention::start_self(std::int64_t /*batch*/) {
  return std::make_unique<LinearState>();
}

Tensor LinearAttention::step_self(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& state) {
  NoGradGuard no_grad;
  LinearState& st = as_linear(state, where());
  check_qkv(q, k, v, where());
  if (q.size(2) != 1 || k.size(2) != 1) {
    fail(fmt::format("step_self takes one position, got {} queries and {} keys", q.size(2), k.size(2)));
  }
  const std::int64_t B = q.size(0), H = q.size(1), M = feature_map_->features(), Dv = v.size(3);
  const Tensor phi_q = feature_map_->forward(Variable(q), FeatureRole::query).data();  // (B, H, 1, M)
  Tensor c;  // the new key's stabilizer (B, H, 1, 1), or undefined
  Tensor phi_k = feature_map_->forward(Variable(k), FeatureRole::causal_key, &c).data();
  if (!st.s.defined()) {
    st.s = st.base_s = Tensor::zeros({B, H, M, Dv}, phi_q.dtype());
    st.z = st.base_z = Tensor::zeros({B, H, M}, phi_q.dtype());
  } else if (st.rows() != B) {
    fail(fmt::format("decoding state holds a batch of {}, the step has {}", st.rows(), B));
  }
  Tensor decay;
  if (c.defined()) {
    const Tensor c2 = c.reshape({B, H}).contiguous();
    if (!st.log_scale.defined()) {
      st.log_scale = c2.clone();  // the sums are still zero: no rescaling
    } else {
      // With t = max(log_scale, c) per (b, h): the sums so far are scaled by exp(log_scale - t)
      // (decay, applied by causal_linear_step), the new key's features by exp(c - t), and t
      // becomes the log_scale. One pass over the B x H pairs; phi_k is this step's own tensor.
      decay = Tensor::empty({B, H}, phi_k.dtype());
      phi_k = phi_k.contiguous();
      dispatch_float(phi_k.dtype(), "linear_attention.step_self", [&](auto tag) {
        using T = decltype(tag);
        T* ls = st.log_scale.data<T>();
        const T* pc = c2.data<T>();
        T* pd = decay.data<T>();
        T* pk = phi_k.data<T>();
        for (std::int64_t i = 0; i < B * H; ++i) {
          const T top = std::max(ls[i], pc[i]);
          pd[i] = std::exp(ls[i] - top);
          const T scale = std::exp(pc[i] - top);
          for (std::int64_t f = 0; f < M; ++f) pk[i * M + f] *= scale;
          ls[i] = top;
        }
      });
    }
  }
  if (!decay_rate_.empty()) {
    // gamma_h is the same for every row: made once per batch size, and no reorder touches it.
    if (!st.gamma.defined() || st.gamma.size(0) != B || st.gamma.dtype() != phi_k.dtype()) {
      st.gamma = decay_factors(B, H, phi_k.dtype());
    }
    decay = decay.defined() ? binary(BinaryOp::mul, decay, st.gamma) : st.gamma;
  }
  ++st.used;
  if (!st.from.defined()) return causal_linear_step(st.s, st.z, phi_q, phi_k, v, decay, eps());
  const bool spare = st.spare_s.defined() && st.spare_s.size(0) >= B;
  const Tensor s_next = spare ? st.spare_s.slice(0, 0, B) : Tensor();
  const Tensor z_next = spare ? st.spare_z.slice(0, 0, B) : Tensor();
  Tensor out = causal_linear_step(st.s, st.z, phi_q, phi_k, v, decay, eps(), st.from, s_next, z_next);
  st.from = Tensor();
  Tensor next_s = spare ? st.spare_s : st.s, next_z = spare ? st.spare_z : st.z;
  st.spare_s = st.base_s;
  st.spare_z = st.base_z;
  st.base_s = next_s;
  st.base_z = next_z;
  return out;
}

std::unique_ptr<AttentionState> LinearAttention::start_cross(const Tensor& k, const Tensor& v,
                                                             const AttentionMask& mask) {
  NoGradGuard no_grad;
  check_qkv(k, k, v, where());
  check_mask(mask, k.size(0), k.size(2), where());
  Tensor phi_k = feature_map_->forward(Variable(k), FeatureRole::key).data();  // (B, H, M_keys, M)
  const Tensor w = key_padding_weights(mask, k.size(0), k.size(2), phi_k.dtype());
  if (w.defined()) phi_k = binary(BinaryOp::mul, phi_k, w);
  auto st = std::make_unique<LinearState>();
  st->cross = true;
  st->s = matmul(phi_k.transpose(2, 3), v);  // (B, H, M, Dv)
  st->z = sum(phi_k, {2});                   // (B, H, M)
  st->used = k.size(2);
  return st;
}

Tensor LinearAttention::step_cross(const Tensor& q, AttentionState& state) {
  NoGradGuard no_grad;
  LinearState& st = as_linear(state, where());
  const Tensor phi_q = feature_map_->forward(Variable(q), FeatureRole::query).data();  // (B, H, N, M)
  if (phi_q.size(0) != st.s.size(0)) {
    fail(fmt::format("decoding state holds a batch of {}, the step has {}", st.s.size(0), phi_q.size(0)));
  }
  const Tensor num = matmul(phi_q, st.s);               // (B, H, N, Dv)
  const Tensor den = matmul(phi_q, st.z.unsqueeze(3));  // (B, H, N, 1)
  return binary(BinaryOp::div, num, unary(UnaryOp::add_scalar, den, eps()));
}

}  // namespace kat
