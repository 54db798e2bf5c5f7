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

// Self-attention with a window: the last W keys (position p in slot p % W), their values and
// features, all float32, and the kernel sums of the keys older than the window.
class WindowState final : public AttentionState {
 public:
  Tensor keys, values, features;  // (B, H, W, D), (B, H, W, Dv), (B, H, W, M)
  Tensor s, z;                    // (B, H, M, Dv), (B, H, M)
  std::int64_t used = 0;

  void reorder(const Tensor& indices) override {
    if (!keys.defined()) return;
    keys = take_batch(keys, indices).contiguous();
    values = take_batch(values, indices).contiguous();
    features = take_batch(features, indices).contiguous();
    s = take_batch(s, indices).contiguous();
    z = take_batch(z, indices).contiguous();
  }
  std::int64_t length() const override { return used; }
};

// x (B, H, N, F) with its rows moved `by` positions later: row i holds row i - by, the first `by`
// rows zero.
Variable shift_rows(const Variable& x, std::int64_t by) {
  const std::int64_t n = x.size(2);
  const Variable zeros(Tensor::zeros({x.size(0), x.size(1), std::min(by, n), x.size(3)}, x.dtype()));
  if (by >= n) return zeros;
  return concat({zeros, slice(x, 2, 0, n - by)}, 2);
}

// x (B, H, N, F) with zero rows appended up to `rows`.
Variable pad_rows(const Variable& x, std::int64_t rows) {
  const std::int64_t n = x.size(2);
  if (n == rows) return x;
  return concat({x, Variable(Tensor::zeros({x.size(0), x.size(1), rows - n, x.size(3)}, x.dtype()))}, 2);
}

// (1, C, W, 2W): 0 where query r of chunk c sees key t of the chunk pair (c - 1, c), -1e30 elsewhere.
// Query c W + r sees keys c W + r - W < j <= c W + r, and key t is j = (c - 1) W + t.
Tensor window_hidden(std::int64_t chunks, std::int64_t w, DType dtype) {
  Tensor out = Tensor::empty({1, chunks, w, 2 * w}, DType::f32);
  float* p = out.data<float>();
  for (std::int64_t c = 0; c < chunks; ++c) {
    for (std::int64_t r = 0; r < w; ++r) {
      for (std::int64_t t = 0; t < 2 * w; ++t) {
        const bool seen = t > r && t <= w + r && (c > 0 || t >= w);
        p[((c * w) + r) * 2 * w + t] = seen ? 0.0f : -1e30f;
      }
    }
  }
  return out.to(dtype);
}

// Weights exp(x) with x below this are taken as exactly 0. Beside the largest weight of their row
// (1, after the shift) they are below float32's resolution, and as subnormal numbers they would slow
// every product that reads them (a hundredfold, measured on the products of the window).
constexpr double kLowestExponent = -50.0;

// `offset` with every entry where score + offset < kLowestExponent pushed to -1e30 (scores and
// offset of one shape, contiguous), so that exp(score + offset) is 0 there.
Tensor flush_below(const Tensor& scores, Tensor offset) {
  dispatch_float(offset.dtype(), "linear_attention.window", [&](auto tag) {
    using T = decltype(tag);
    const T* ps = scores.data<T>();
    T* po = offset.data<T>();
    for (std::int64_t i = 0, n = offset.numel(); i < n; ++i) {
      if (ps[i] + po[i] < static_cast<T>(kLowestExponent)) po[i] = static_cast<T>(-1e30);
    }
  });
  return offset;
}

// The causal op's epsilon where the kernel part's normalizer is multiplied back in: it only keeps
// 0 / 0 (the first W rows, which see no older key) at 0.
constexpr double tiny_eps = 1e-30;

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
  if (o.window < 0) fail(fmt::format("window must be >= 0, got {}", o.window));
  if (o.window > 0) {
    if (setup.cross) fail("window applies to causal self-attention only (it holds the keys just before each query)");
    window_ = o.window;
    window_scale_ = register_parameter("window_scale", Tensor::zeros({std::max<std::int64_t>(setup.heads, 1)}));
  }
}

std::vector<std::pair<std::string, Variable>> LinearAttention::distilled_parameters() {
  std::vector<std::pair<std::string, Variable>> out;
  for (const auto& [name, p] : feature_map_->named_parameters()) out.emplace_back(feature_map_->path() + "." + name, p);
  if (window_ > 0) out.emplace_back(path() + ".window_scale", window_scale_);
  return out;
}

Variable LinearAttention::window_scale_4d() const { return reshape(window_scale_, {1, window_scale_.numel(), 1, 1}); }

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

std::vector<double> LinearAttention::gammas(std::int64_t heads) const {
  std::vector<double> out(static_cast<std::size_t>(heads), 1.0);
  for (std::int64_t h = 0; h < heads && !decay_rate_.empty(); ++h) {
    out[static_cast<std::size_t>(h)] = std::exp(-decay_rate(h, heads));
  }
  return out;
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
  if (window_ > 0 && !causal) {
    fail("window applies to causal self-attention only (it holds the keys just before each query)");
  }
  if (distilling_) return distill_forward(q, k, v, mask, causal);
  const Variable phi_q = feature_map_->forward(q, FeatureRole::query);  // (B, H, N, M)
  Tensor c;                                                             // causal keys' stabilizer, (B, H, N, 1)
  Variable phi_k = feature_map_->forward(k, causal ? FeatureRole::causal_key : FeatureRole::key, &c);
  if (window_ > 0) {
    if (c.defined()) {
      fail("window needs a feature map with unscaled features; this one stabilizes its keys (favor+, favor-trig)");
    }
    // No key padding weights: padded keys follow every real one, so under the causal mask only
    // padded queries see them.
    return window_forward(q, k, v, phi_q, phi_k);
  }
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
    return bidirectional_decayed_linear_attention(
        phi_q, phi_k, v, gammas(H), decay_log_scale(Tensor(), q.size(0), H, q.size(2), phi_k.dtype()), eps());
  }
  const Variable kv = matmul(transpose(phi_k, 2, 3), v);                   // (B, H, M, Dv)
  const Variable k_sum = sum(phi_k, {2}, /*keepdim=*/true);                // (B, H, 1, M)
  const Variable den = sum(phi_q * k_sum, {3}, /*keepdim=*/true) + eps();  // (B, H, N, 1)
  return matmul(phi_q, kv) / den;
}

Variable LinearAttention::window_forward(const Variable& q, const Variable& k, const Variable& v, const Variable& phi_q,
                                         const Variable& phi_k) {
  const std::int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3), Dv = v.size(3), W = window_;
  const std::int64_t C = (N + W - 1) / W, P = C * W;
  const DType dt = q.dtype();
  // The window part: chunk c's W queries against the 2W keys of chunks c - 1 and c.
  const auto chunks = [&](const Variable& x) { return reshape(pad_rows(x, P), {B * H, C, W, x.size(3)}); };
  const auto with_previous = [&](const Variable& xc) {
    const Variable zero(Tensor::zeros({B * H, 1, W, xc.size(3)}, dt));
    return concat({C > 1 ? concat({zero, slice(xc, 1, 0, C - 1)}, 1) : zero, xc}, 2);  // (BH, C, 2W, F)
  };
  const Variable keys = with_previous(chunks(k)), values = with_previous(chunks(v));
  const Variable scores = matmul(chunks(q), transpose(keys, 2, 3)) * (1.0 / std::sqrt(static_cast<double>(D)));
  const Tensor hidden = window_hidden(C, W, dt);                                // (1, C, W, 2W)
  Tensor shift = max(binary(BinaryOp::add, scores.data(), hidden), {3}, true);  // (BH, C, W, 1)
  Variable kernel_num, kernel_den;  // the older keys' part, (B, H, N, Dv) and (B, H, N, 1)
  if (N > W) {
    const Variable older_k = shift_rows(phi_k, W), older_v = shift_rows(v, W);
    kernel_den = sum(phi_q * decayed_prefix_sum(older_k, gammas(H)), {3}, /*keepdim=*/true) * exp(window_scale_4d());
    // The normalized kernel output times its normalizer: the numerator, computed by the
    // linear-memory op.
    kernel_num =
        causal_linear_attention(phi_q, older_k, older_v, tiny_eps, decay_log_scale(Tensor(), B, H, N, dt)) * kernel_den;
    const Tensor log_den = unary(UnaryOp::log, unary(UnaryOp::add_scalar, kernel_den.data(), tiny_eps));
    shift = binary(BinaryOp::maximum, shift, chunks(Variable(log_den)).data());
  }
  // exp(score - t): at most 1; hidden keys exactly 0. t is a constant: the output does not depend on it.
  const Variable e =
      exp(scores + Variable(flush_below(scores.data().contiguous(), binary(BinaryOp::sub, hidden, shift))));
  Variable num = reshape(matmul(e, values), {B, H, P, Dv});
  Variable den = reshape(sum(e, {3}, /*keepdim=*/true), {B, H, P, 1});
  if (P != N) {
    num = slice(num, 2, 0, N);
    den = slice(den, 2, 0, N);
  }
  if (kernel_den.defined()) {
    const Tensor scale = unary(UnaryOp::exp, unary(UnaryOp::neg, shift.reshape({B, H, P, 1}).slice(2, 0, N)));
    num = num + kernel_num * Variable(scale);
    den = den + kernel_den * Variable(scale);
  }
  return num / den;
}

Variable LinearAttention::distill_forward(const Variable& q, const Variable& k, const Variable& v,
                                          const AttentionMask& given, bool causal) {
  AttentionMask mask = given;
  mask.causal = causal;
  const std::int64_t B = q.size(0), N = q.size(2), M = k.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const Variable qd(q.data()), kd(k.data());                      // detached: the loss trains the feature map alone
  const Tensor visible = visible_keys(mask, B, N, M, q.dtype());  // (B, 1, N, M)
  // The student's kernel weights: the visible keys, times gamma_h^(i - j) (or ^|i - j|) under decay;
  // with a window only the keys older than it, times gamma_h^(i - j - W).
  Tensor weights = visible;
  const std::int64_t W = window_;
  if (!decay_rate_.empty() || W > 0) {
    const std::int64_t H = q.size(1);
    Tensor g = Tensor::empty({1, H, N, M}, DType::f64);
    double* pg = g.data<double>();
    for (std::int64_t h = 0; h < H; ++h) {
      const double rate = decay_rate_.empty() ? 0.0 : decay_rate(h, H);
      for (std::int64_t i = 0; i < N; ++i) {
        for (std::int64_t j = 0; j < M; ++j) {
          const double back = static_cast<double>(i + (M - N) - j) - static_cast<double>(W);
          const double distance = causal ? back : std::abs(back);
          pg[(h * N + i) * M + j] = distance >= 0 ? std::exp(-rate * distance) : 0.0;
        }
      }
    }
    weights = binary(BinaryOp::mul, visible, g.to(q.dtype()));
  }
  Tensor logits;   // scale q k^T, hidden keys at -1e30
  Tensor p;        // the softmax weights (B, H, N, M)
  Tensor teacher;  // their output, P v
  {
    NoGradGuard no_grad;
    // scale q k^T, hidden keys pushed to -1e30 (weight exactly 0 after the softmax).
    const Tensor hidden = unary(UnaryOp::scale, unary(UnaryOp::add_scalar, visible, -1.0), 1e30);
    logits = binary(BinaryOp::add, unary(UnaryOp::scale, matmul(q.data(), k.data().transpose(2, 3)), scale), hidden);
    p = softmax(Variable(logits)).data();
    // Weights below 1e-30 as 0: as subnormal numbers they would slow the product below a hundredfold.
    dispatch_float(p.dtype(), "linear_attention.distill", [&](auto tag) {
      using T = decltype(tag);
      T* pp = p.data<T>();
      for (std::int64_t i = 0, n = p.numel(); i < n; ++i) {
        if (pp[i] < static_cast<T>(1e-30)) pp[i] = 0;
      }
    });
    teacher = matmul(p, v.data());
  }
  const Variable phi_q = feature_map_->forward(qd, FeatureRole::query);  // (B, H, N, F)
  const Variable phi_k = feature_map_->forward(kd, FeatureRole::key);
  Variable a = matmul(phi_q, transpose(phi_k, 2, 3)) * Variable(weights);  // (B, H, N, M)
  if (W > 0) {
    // The window's keys weigh exp(logit), the older ones exp(beta_h) times the kernel's, all over
    // exp(t_i), t_i the larger part's log size (as in window_forward).
    Tensor near = Tensor::empty({1, 1, N, M}, DType::f32);
    float* pn = near.data<float>();
    for (std::int64_t i = 0; i < N; ++i) {
      for (std::int64_t j = 0; j < M; ++j) {
        const std::int64_t back = i + (M - N) - j;
        pn[i * M + j] = back >= 0 && back < W ? 0.0f : -1e30f;
      }
    }
    const Tensor near_logits = binary(BinaryOp::add, logits, near.to(q.dtype()));
    const Variable beta = window_scale_4d();
    const Tensor kernel_log = binary(
        BinaryOp::add, unary(UnaryOp::log, unary(UnaryOp::add_scalar, sum(a.data(), {3}, true), 1e-30)), beta.data());
    const Tensor shift = binary(BinaryOp::maximum, max(near_logits, {3}, true), kernel_log);
    a = Variable(unary(UnaryOp::exp, binary(BinaryOp::sub, near_logits, shift))) +
        a * exp(beta + Variable(unary(UnaryOp::neg, shift)));
  }
  const Variable den = sum(a, {3}, /*keepdim=*/true) + (W > 0 ? 0.0 : eps());
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
  if (window_ > 0) return std::make_unique<WindowState>();
  return std::make_unique<LinearState>();
}

Tensor LinearAttention::window_step(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& state) {
  auto* window_state = dynamic_cast<WindowState*>(&state);
  if (window_state == nullptr) fail("decoding state was not made by linear attention with a window");
  WindowState& st = *window_state;
  const std::int64_t B = q.size(0), H = q.size(1), D = q.size(3), Dv = v.size(3), W = window_;
  Tensor c;
  const Tensor phi_q = feature_map_->forward(Variable(q), FeatureRole::query).data().to(DType::f32).contiguous();
  const Tensor phi_k =
      feature_map_->forward(Variable(k), FeatureRole::causal_key, &c).data().to(DType::f32).contiguous();
  if (c.defined()) {
    fail("window needs a feature map with unscaled features; this one stabilizes its keys (favor+, favor-trig)");
  }
  const std::int64_t M = phi_q.size(3);
  if (!st.keys.defined()) {
    st.keys = Tensor::zeros({B, H, W, D});
    st.values = Tensor::zeros({B, H, W, Dv});
    st.features = Tensor::zeros({B, H, W, M});
    st.s = Tensor::zeros({B, H, M, Dv});
    st.z = Tensor::zeros({B, H, M});
  } else if (st.keys.size(0) != B) {
    fail(fmt::format("decoding state holds a batch of {}, the step has {}", st.keys.size(0), B));
  }
  const Tensor qf = q.to(DType::f32).contiguous(), kf = k.to(DType::f32).contiguous();
  const Tensor vf = v.to(DType::f32).contiguous();
  const Tensor beta = window_scale_.data().to(DType::f32).contiguous();
  Tensor out = Tensor::empty({B, H, 1, Dv});
  const float* pq = qf.data<float>();
  const float* pk = kf.data<float>();
  const float* pv = vf.data<float>();
  const float* fq = phi_q.data<float>();
  const float* fk = phi_k.data<float>();
  const float* pb = beta.data<float>();
  float* ring_k = st.keys.data<float>();
  float* ring_v = st.values.data<float>();
  float* ring_f = st.features.data<float>();
  float* ps = st.s.data<float>();
  float* pz = st.z.data<float>();
  float* po = out.data<float>();
  const std::vector<double> gamma = gammas(H);
  const std::int64_t pos = st.used, slot = pos % W, seen = std::min(pos + 1, W);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  std::vector<float> score(static_cast<std::size_t>(W)), num(static_cast<std::size_t>(Dv));
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t h = 0; h < H; ++h) {
      const std::int64_t bh = b * H + h;
      float* S = ps + bh * M * Dv;
      float* Z = pz + bh * M;
      float* K = ring_k + bh * W * D;
      float* V = ring_v + bh * W * Dv;
      float* F = ring_f + bh * W * M;
      if (pos >= W) {
        // Key pos - W leaves the window for the kernel sums, decayed by gamma_h per step.
        const auto g = static_cast<float>(gamma[static_cast<std::size_t>(h)]);
        const float* f_old = F + slot * M;
        const float* v_old = V + slot * Dv;
        for (std::int64_t m = 0; m < M; ++m) {
          Z[m] = g * Z[m] + f_old[m];
          for (std::int64_t d = 0; d < Dv; ++d) S[m * Dv + d] = g * S[m * Dv + d] + f_old[m] * v_old[d];
        }
      }
      std::copy(pk + bh * D, pk + (bh + 1) * D, K + slot * D);
      std::copy(pv + bh * Dv, pv + (bh + 1) * Dv, V + slot * Dv);
      std::copy(fk + bh * M, fk + (bh + 1) * M, F + slot * M);
      const float* qq = pq + bh * D;
      float top = -INFINITY;
      for (std::int64_t w = 0; w < seen; ++w) {
        float dot = 0;
        for (std::int64_t d = 0; d < D; ++d) dot += qq[d] * K[w * D + d];
        score[static_cast<std::size_t>(w)] = dot * scale;
        top = std::max(top, dot * scale);
      }
      const float* phi = fq + bh * M;
      const float factor = std::exp(pb[beta.numel() == 1 ? 0 : h]);
      float kernel_den = 0;
      std::fill(num.begin(), num.end(), 0.0f);
      for (std::int64_t m = 0; m < M; ++m) {
        kernel_den += phi[m] * Z[m];
        for (std::int64_t d = 0; d < Dv; ++d) num[static_cast<std::size_t>(d)] += phi[m] * S[m * Dv + d];
      }
      kernel_den *= factor;
      const float shift = std::max(top, std::log(kernel_den + 1e-30f));
      const float kernel_weight = std::exp(-shift) * factor;
      float den = kernel_den * std::exp(-shift);
      for (std::int64_t d = 0; d < Dv; ++d) num[static_cast<std::size_t>(d)] *= kernel_weight;
      for (std::int64_t w = 0; w < seen; ++w) {
        const float x = score[static_cast<std::size_t>(w)] - shift;
        if (x < static_cast<float>(kLowestExponent)) continue;  // as the training forward
        const float e = std::exp(x);
        den += e;
        for (std::int64_t d = 0; d < Dv; ++d) num[static_cast<std::size_t>(d)] += e * V[w * Dv + d];
      }
      for (std::int64_t d = 0; d < Dv; ++d) po[bh * Dv + d] = num[static_cast<std::size_t>(d)] / den;
    }
  }
  ++st.used;
  return out.to(q.dtype());
}

Tensor LinearAttention::step_self(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& state) {
  NoGradGuard no_grad;
  check_qkv(q, k, v, where());
  if (q.size(2) != 1 || k.size(2) != 1) {
    fail(fmt::format("step_self takes one position, got {} queries and {} keys", q.size(2), k.size(2)));
  }
  if (window_ > 0) return window_step(q, k, v, state);
  LinearState& st = as_linear(state, where());
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
