#include "layers/attention/bidirectional_decay.h"

#include <fmt/format.h>

#include "autograd/ops.h"
#include "autograd/profiler.h"
#include "layers/attention/causal_linear_op.h"

namespace kat {
namespace {

void check_4d(const char* op, const Variable& x) {
  if (!x.defined() || x.dim() != 4) {
    throw Error(fmt::format("{}: expected a (B, H, N, F) tensor, got {}", op,
                            x.defined() ? to_string(x.shape()) : std::string("undefined")));
  }
}

// Reverses axis 2 of a (B, H, N, F) tensor into a new contiguous one.
Tensor reversed(const Tensor& x) {
  const Tensor in = x.contiguous();
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  const std::int64_t rows = in.size(0) * in.size(1), n = in.size(2), f = in.size(3);
  dispatch_float(in.dtype(), "reverse_positions", [&](auto tag) {
    using T = decltype(tag);
    const T* pi = in.data<T>();
    T* po = out.data<T>();
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t i = 0; i < n; ++i) {
        const T* src = pi + (r * n + i) * f;
        std::copy(src, src + f, po + (r * n + (n - 1 - i)) * f);
      }
    }
  });
  return out;
}

// y_i = x_i + g_h y_{i-1} along axis 2 (forward), or y_i = x_i + g_h y_{i+1} (backward == true).
Tensor decayed_scan(const Tensor& x, const std::vector<double>& gamma, bool backward) {
  const Tensor in = x.contiguous();
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  const std::int64_t B = in.size(0), H = in.size(1), n = in.size(2), f = in.size(3);
  dispatch_float(in.dtype(), "decayed_prefix_sum", [&](auto tag) {
    using T = decltype(tag);
    const T* pi = in.data<T>();
    T* po = out.data<T>();
    for (std::int64_t b = 0; b < B; ++b) {
      for (std::int64_t h = 0; h < H; ++h) {
        const T g = static_cast<T>(gamma[static_cast<std::size_t>(h)]);
        const std::int64_t base = (b * H + h) * n * f;
        for (std::int64_t step = 0; step < n; ++step) {
          const std::int64_t i = backward ? n - 1 - step : step;
          const T* src = pi + base + i * f;
          T* dst = po + base + i * f;
          if (step == 0) {
            std::copy(src, src + f, dst);
          } else {
            const T* prev = po + base + (backward ? i + 1 : i - 1) * f;
            for (std::int64_t c = 0; c < f; ++c) dst[c] = src[c] + g * prev[c];
          }
        }
      }
    }
  });
  return out;
}

class ReverseNode final : public Node {
 public:
  const char* name() const override { return "reverse_positions"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {reversed(g)}; }
};

class DecayedScanNode final : public Node {
 public:
  std::vector<double> gamma;
  const char* name() const override { return "decayed_prefix_sum"; }
  // y = L x with L_ij = g^(i-j) for j <= i: the gradient L^T g is the same scan run backwards.
  std::vector<Tensor> backward(const Tensor& g) override { return {decayed_scan(g, gamma, /*backward=*/true)}; }
};

}  // namespace

Variable reverse_positions(const Variable& x) {
  check_4d("reverse_positions", x);
  OpTimer timer("reverse_positions");
  Tensor out = reversed(x.data());
  if (!any_requires_grad({&x})) return Variable(out);
  return attach(std::move(out), std::make_shared<ReverseNode>(), {&x});
}

Variable decayed_prefix_sum(const Variable& x, const std::vector<double>& gamma) {
  check_4d("decayed_prefix_sum", x);
  if (static_cast<std::int64_t>(gamma.size()) != x.size(1)) {
    throw Error(fmt::format("decayed_prefix_sum: {} decays for {} heads", gamma.size(), x.size(1)));
  }
  for (const double g : gamma) {
    if (!(g > 0.0 && g <= 1.0)) throw Error(fmt::format("decayed_prefix_sum: decay {} is outside (0, 1]", g));
  }
  OpTimer timer("decayed_prefix_sum");
  Tensor out = decayed_scan(x.data(), gamma, /*backward=*/false);
  if (!any_requires_grad({&x})) return Variable(out);
  auto node = std::make_shared<DecayedScanNode>();
  node->gamma = gamma;
  return attach(std::move(out), std::move(node), {&x});
}

Variable bidirectional_decayed_linear_attention(const Variable& phi_q, const Variable& phi_k, const Variable& v,
                                                const std::vector<double>& gamma, const Tensor& key_log_scale,
                                                double eps) {
  check_4d("bidirectional_decayed_linear_attention", phi_q);
  check_4d("bidirectional_decayed_linear_attention", phi_k);
  check_4d("bidirectional_decayed_linear_attention", v);
  const std::int64_t B = phi_q.size(0), H = phi_q.size(1), N = phi_q.size(2);
  if (phi_k.shape() != phi_q.shape() || v.size(0) != B || v.size(1) != H || v.size(2) != N) {
    throw Error(
        fmt::format("bidirectional_decayed_linear_attention: expected phi_q and phi_k (B, H, N, M), v (B, H, N, Dv), "
                    "got {}, {}, {}",
                    to_string(phi_q.shape()), to_string(phi_k.shape()), to_string(v.shape())));
  }
  const Tensor& c = key_log_scale;  // the same for the reversed sequence: its positions count from the other end
  // The sweeps' own epsilon only has to keep 0 / 0 out (a padded query sees no key to its right):
  // n = O (d + inner) holds for any inner > 0.
  const double inner = eps > 0 ? eps : 1e-30;
  const Variable left = causal_linear_attention(phi_q, phi_k, v, inner, c);
  const Variable rq = reverse_positions(phi_q), rk = reverse_positions(phi_k), rv = reverse_positions(v);
  const Variable right = reverse_positions(causal_linear_attention(rq, rk, rv, inner, c));
  const Variable z_left = decayed_prefix_sum(phi_k, gamma);
  const Variable z_right = reverse_positions(decayed_prefix_sum(rk, gamma));
  const Variable d_left = sum(phi_q * z_left, {3}, /*keepdim=*/true);  // (B, H, N, 1)
  const Variable d_right = sum(phi_q * z_right, {3}, /*keepdim=*/true);
  const Variable e = sum(phi_q * phi_k, {3}, /*keepdim=*/true);
  const Variable num = left * (d_left + inner) + right * (d_right + inner) - e * v;
  const Variable den = d_left + d_right - e + eps;
  return num / den;
}

}  // namespace kat
