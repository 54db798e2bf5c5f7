#include "layers/attention/feature_maps/favor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "autograd/ops.h"
#include "autograd/profiler.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/fast_math.h"
#include "core/kernels/gemm.h"
#include "core/kernels/reduce.h"
#include "core/parallel.h"

namespace kat {

FavorFeatureMap::FavorFeatureMap(Kind kind, const FeatureMapOptions& o, Rng& rng)
    : FeatureMap(kind == Kind::positive ? "favor+_feature_map" : "favor-trig_feature_map"),
      kind_(kind),
      m_(o.features),
      d_(o.head_dim),
      orthogonal_(o.orthogonal),
      norms_(ProjectionNorms::chi),
      redraw_interval_(o.redraw_interval),
      rng_(rng.split()) {
  if (o.head_dim <= 0) fail(fmt::format("head_dim must be positive, got {}", o.head_dim));
  if (o.features <= 0) {
    fail(fmt::format("{} needs a positive number of random features (attention.features), got {}", o.name, o.features));
  }
  if (o.redraw_interval < 0) fail(fmt::format("redraw_interval must be >= 0, got {}", o.redraw_interval));
  try {
    norms_ = parse_projection_norms(o.norms);
  } catch (const Error& e) {
    fail(e.what());
  }
  projection_ = draw_projection(m_, d_, orthogonal_, norms_, rng_).to(DType::f32);
  register_buffer("projection", &projection_);
  register_rng("rng", &rng_);
}

void FavorFeatureMap::redraw() {
  projection_ = draw_projection(m_, d_, orthogonal_, norms_, rng_).to(projection_.dtype());
}

void FavorFeatureMap::on_train_step(std::int64_t step) {
  // Steps count from 1: steps 1..k use the first draw, k+1..2k the second, and so on, so a run of
  // a multiple of k steps ends on a model trained k steps with its features.
  if (redraw_interval_ > 0 && step > 1 && (step - 1) % redraw_interval_ == 0) redraw();
}

namespace {

// Rows (B H N) up to which the positive features' projection is computed a row at a time.
constexpr std::int64_t kFewRows = 16;

// Rows r = (b, h, n) of a (B, H, N, D) tensor with unit stride on its last axis: walk(r0, r1, fn)
// calls fn(r, offset of row r) for each row in order, dividing only once.
struct RowsOf4 {
  explicit RowsOf4(const Tensor& t) : h(t.size(1)), n(t.size(2)), s0(t.stride(0)), s1(t.stride(1)), s2(t.stride(2)) {}
  template <typename F>
  void walk(std::int64_t r0, std::int64_t r1, F&& fn) const {
    walk_with(*this, r0, r1, [&](std::int64_t r, std::int64_t off, std::int64_t) { fn(r, off); });
  }
  // The same rows of this tensor and of `other` (same shape, its own strides): fn(r, offset here,
  // offset in other).
  template <typename F>
  void walk_with(const RowsOf4& other, std::int64_t r0, std::int64_t r1, F&& fn) const {
    std::int64_t b = r0 / (h * n), hh = r0 / n % h, i = r0 % n;
    for (std::int64_t r = r0; r < r1; ++r) {
      fn(r, b * s0 + hh * s1 + i * s2, b * other.s0 + hh * other.s1 + i * other.s2);
      if (++i == n) {
        i = 0;
        if (++hh == h) {
          hh = 0;
          ++b;
        }
      }
    }
  }
  std::int64_t h, n, s0, s1, s2;
};

// Running maximum along axis 2 of a contiguous (B, H, N, 1) tensor.
Tensor running_max(const Tensor& c) {
  Tensor out = c.contiguous().clone();
  const std::int64_t N = out.size(2), rows = out.numel() / N;
  dispatch_float(out.dtype(), "running_max", [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t i = 1; i < N; ++i) p[r * N + i] = std::max(p[r * N + i], p[r * N + i - 1]);
    }
  });
  return out;
}

// The positive features as one op. Forward: x' = c x (c = D^(-1/4)), a = x' W^T - |x'|^2 / 2,
// phi = exp(a - s) / sqrt(m) with s the stabilizer of the row. Backward, s held constant (attention
// does not depend on it): d phi_i / d x' = phi_i (w_i - x'), so with G = g * phi,
//   dL/dx = c (G W - rowsum(G) x') = c G W - c^2 rowsum(G) x.
class FavorPositiveNode final : public Node {
 public:
  Tensor x;    // (B, H, N, D), unit stride on its last axis (the input itself when it has one)
  Tensor phi;  // (B, H, N, m), contiguous
  Tensor w;    // the projection (m, D)
  double c = 1.0;
  const char* name() const override { return "favor+_features"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const std::int64_t m = phi.size(3), d = x.size(3), rows = x.numel() / d;
    // One pass per row: G = g * phi (in g's memory when nothing else holds it), its row sum, and
    // the row sum's term - c^2 rowsum(G) x into dx, laid out as x is (the gradient of heads split
    // from a projection merges back without a copy). Then c G W is added into dx.
    Tensor G = gradient_buffer(g);
    const Tensor gc = g.contiguous();
    Tensor dx = empty_in_order(x.shape(), rows_layout(x), x.dtype());
    const RowsOf4 xr(x), dr(dx);
    dispatch_float(dx.dtype(), "favor+_features", [&](auto tag) {
      using T = decltype(tag);
      const T* pg = gc.data<T>();
      const T* pp = phi.data<T>();
      const T* px = x.data<T>();
      T* pG = G.data<T>();
      T* pd = dx.data<T>();
      const auto cc = static_cast<T>(c * c);
      parallel_for(0, rows, 256, [&](std::int64_t r0, std::int64_t r1) {
        xr.walk_with(dr, r0, r1, [&](std::int64_t r, std::int64_t ox, std::int64_t od) {
          const T* gr = pg + r * m;
          const T* pr = pp + r * m;
          T* out = pG + r * m;
          T rs = 0;
#pragma omp simd reduction(+ : rs)
          for (std::int64_t i = 0; i < m; ++i) {
            out[i] = gr[i] * pr[i];
            rs += out[i];
          }
          const T k = -cc * rs;
          const T* xi = px + ox;
          T* di = pd + od;
#pragma omp simd
          for (std::int64_t j = 0; j < d; ++j) di[j] = k * xi[j];
        });
      });
    });
    bmm(G, w, dx, false, false, c, 1.0);
    return {dx};
  }
};

}  // namespace

Variable FavorFeatureMap::forward(const Variable& x, FeatureRole role, Tensor* key_log_scale) {
  if (!x.defined() || x.dim() != 4 || x.size(3) != d_) {
    fail(fmt::format("input must be (B, H, N, {}), got {}", d_, x.defined() ? to_string(x.shape()) : "undefined"));
  }
  if (x.dtype() != projection_.dtype()) {
    fail(fmt::format("input is {} but the projection is {}", dtype_name(x.dtype()), dtype_name(projection_.dtype())));
  }
  if (role == FeatureRole::causal_key && key_log_scale == nullptr) {
    fail("causal keys need somewhere to report their stabilizer (key_log_scale)");
  }
  const double c = std::pow(static_cast<double>(d_), -0.25);
  const double norm = 1.0 / std::sqrt(static_cast<double>(m_));

  // The stabilizer: the log of the factor each row is divided by, a constant for the gradient
  // (attention does not depend on it). `row` is each row's own largest log-magnitude (B, H, N, 1).
  auto shift = [&](const Tensor& row) -> Tensor {
    switch (role) {
      case FeatureRole::query: return row;
      case FeatureRole::key: return max(row, {2}, /*keepdim=*/true);  // (B, H, 1, 1)
      case FeatureRole::causal_key: return *key_log_scale = running_max(row);
    }
    return row;
  };

  if (kind_ == Kind::positive) return positive(x, c, norm, role, key_log_scale);

  const Variable xs = x * c;                                                // x' (B, H, N, D)
  const Variable proj = matmul(xs, Variable(projection_.transpose(0, 1)));  // w_i . x' (B, H, N, m)
  const Variable half_sq = sum(xs * xs, {-1}, /*keepdim=*/true) * 0.5;      // |x'|^2 / 2 (B, H, N, 1)
  const Variable trig = concat({sin(proj), cos(proj)}, -1);                 // (B, H, N, 2m)
  if (!stabilize_) return trig * (exp(half_sq) * norm);
  if (role == FeatureRole::query) return trig * norm;  // exp(|q'|^2 / 2) is a factor per query row: it cancels
  return trig * (exp(half_sq - Variable(shift(half_sq.data()))) * norm);
}

}  // namespace kat

namespace kat {

Variable FavorFeatureMap::positive(const Variable& x, double c, double norm, FeatureRole role,
                                   Tensor* key_log_scale) const {
  OpTimer timer("favor+_features");
  // x' = c x enters the product unscaled: a = c (w_i . x) - c^2 |x|^2 / 2.
  // (B, H, N, D), read in place when its last axis has unit stride (heads split from a projection).
  const Tensor xc = x.data().stride(3) == 1 ? x.data() : x.data().contiguous();
  const RowsOf4 xr(xc);
  const std::int64_t m = m_, d = d_, rows = xc.numel() / d, n = x.size(2);
  // w_i . x, then phi in place (B, H, N, m). A decoding step's few rows are matrix-vector products
  // on this thread: a matrix product would first pack the projection.
  Tensor phi = Tensor::empty({x.size(0), x.size(1), n, m}, x.dtype());
  if (rows <= kFewRows) {
    dispatch_float(x.dtype(), "favor+_features", [&](auto tag) {
      using T = decltype(tag);
      const Tensor w = projection_.contiguous();  // (m, D)
      const T* pw = w.data<T>();
      xr.walk(0, rows, [&](std::int64_t r, std::int64_t off) {
        const T* xi = xc.data<T>() + off;
        T* out = phi.data<T>() + r * m;
        if constexpr (std::is_same_v<T, float>) {
          gemv_row(xi, pw, d, m, 0.0f, out, /*w_transposed=*/true);
        } else {
          for (std::int64_t i = 0; i < m; ++i) {
            const T* wi = pw + i * d;
            T acc = 0;
#pragma omp simd reduction(+ : acc)
            for (std::int64_t j = 0; j < d; ++j) acc += wi[j] * xi[j];
            out[i] = acc;
          }
        }
      });
    });
  } else {
    bmm(xc, projection_.transpose(0, 1), phi);
  }
  // The stabilizer s, the log of the factor each row is divided by: the row's own largest a for
  // queries, the running largest along the sequence for causal keys, the sequence's largest for
  // other keys, 0 unstabilized. Except for other keys, each row is finished in one pass (a, its
  // largest, exp) while it is in cache; causal keys walk each sequence in order.
  const bool whole_sequence = stabilize_ && role == FeatureRole::key;
  const bool running = stabilize_ && role == FeatureRole::causal_key;
  Tensor row_max = Tensor::empty({x.size(0), x.size(1), n, 1}, x.dtype());
  if (running) *key_log_scale = row_max;  // overwritten with the running largest
  dispatch_float(x.dtype(), "favor+_features", [&](auto tag) {
    using T = decltype(tag);
    const T* px = xc.data<T>();
    T* pa = phi.data<T>();
    T* pm = row_max.data<T>();
    const auto ct = static_cast<T>(c);
    const auto scale = static_cast<T>(norm);
    // a = c (w_i . x) - c^2 |x|^2 / 2 in place; returns the row's largest a.
    auto exponents = [&](std::int64_t r, std::int64_t off) {
      const T* xi = px + off;
      T sq = 0;
#pragma omp simd reduction(+ : sq)
      for (std::int64_t j = 0; j < d; ++j) sq += xi[j] * xi[j];
      const T half = sq * (ct * ct) / 2;
      T* row = pa + r * m;
      T top = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : top)
      for (std::int64_t i = 0; i < m; ++i) {
        const T a = ct * row[i] - half;
        row[i] = a;
        top = a > top ? a : top;
      }
      return top;
    };
    auto features = [&](std::int64_t r, T s) {
      T* row = pa + r * m;
#pragma omp simd
      for (std::int64_t i = 0; i < m; ++i) row[i] = detail::exp_vec(row[i] - s) * scale;
    };
    if (running) {
      const std::int64_t series = rows / std::max<std::int64_t>(n, 1);
      // Sequences per task: at least ~32 Ki features, so a decoding step's few stay on this thread.
      const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(n * m, 1));
      parallel_for(0, series, grain, [&](std::int64_t s0, std::int64_t s1) {
        T s = -std::numeric_limits<T>::infinity();
        xr.walk(s0 * n, s1 * n, [&](std::int64_t r, std::int64_t off) {
          if (r % n == 0) s = -std::numeric_limits<T>::infinity();
          s = std::max(s, exponents(r, off));
          pm[r] = s;
          features(r, s);
        });
      });
    } else if (!whole_sequence) {
      const bool own = stabilize_;  // queries; unstabilized rows keep s = 0
      parallel_for(0, rows, 128, [&](std::int64_t r0, std::int64_t r1) {
        xr.walk(r0, r1, [&](std::int64_t r, std::int64_t off) {
          const T top = exponents(r, off);
          pm[r] = top;
          features(r, own ? top : T(0));
        });
      });
    } else {
      parallel_for(0, rows, 128, [&](std::int64_t r0, std::int64_t r1) {
        xr.walk(r0, r1, [&](std::int64_t r, std::int64_t off) { pm[r] = exponents(r, off); });
      });
      const Tensor s = max(row_max, {2}, /*keepdim=*/true);  // (B, H, 1, 1)
      const T* ps = s.data<T>();
      parallel_for(0, rows, 128, [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) features(r, ps[r / n]);
      });
    }
  });
  if (!any_requires_grad({&x})) return Variable(phi);
  auto node = std::make_shared<FavorPositiveNode>();
  node->x = xc;
  node->phi = phi;
  node->w = projection_;
  node->c = c;
  return attach(phi, std::move(node), {&x});
}

}  // namespace kat
