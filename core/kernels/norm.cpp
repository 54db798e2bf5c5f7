#include "core/kernels/norm.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "core/parallel.h"

namespace kat {
namespace {

constexpr std::int64_t kRowsPerChunk = 64;  // rows per partial sum of dgamma/dbeta (fixed: deterministic)

void check_affine(const char* op, const Tensor& p, const char* name, std::int64_t C, DType dt) {
  if (!p.defined()) return;
  if (p.dim() != 1 || p.size(0) != C || p.dtype() != dt) {
    throw Error(fmt::format("{}: {} must be a {} vector of {} values (the input's last axis), got {} {}", op, name,
                            dtype_name(dt), C, dtype_name(p.dtype()), to_string(p.shape())));
  }
}

template <typename T>
void layer_norm_row_t(const T* row, std::int64_t C, const T* pg, const T* pb, double eps, T* out, T* mean, T* rstd) {
  T s = 0;
#pragma omp simd reduction(+ : s)
  for (std::int64_t i = 0; i < C; ++i) s += row[i];
  const T mu = s / static_cast<T>(C);
  T v = 0;
#pragma omp simd reduction(+ : v)
  for (std::int64_t i = 0; i < C; ++i) v += (row[i] - mu) * (row[i] - mu);
  const T rs = T(1) / std::sqrt(v / static_cast<T>(C) + static_cast<T>(eps));
  *mean = mu;
  *rstd = rs;
  if (pg != nullptr && pb != nullptr) {
    for (std::int64_t i = 0; i < C; ++i) out[i] = (row[i] - mu) * rs * pg[i] + pb[i];
  } else if (pg != nullptr) {
    for (std::int64_t i = 0; i < C; ++i) out[i] = (row[i] - mu) * rs * pg[i];
  } else {
    for (std::int64_t i = 0; i < C; ++i) out[i] = (row[i] - mu) * rs + (pb != nullptr ? pb[i] : T(0));
  }
}

}  // namespace

void layer_norm_row(const float* row, std::int64_t C, const float* gamma, const float* beta, double eps, float* out,
                    float* mean, float* rstd) {
  layer_norm_row_t(row, C, gamma, beta, eps, out, mean, rstd);
}

void layer_norm_row(const double* row, std::int64_t C, const double* gamma, const double* beta, double eps, double* out,
                    double* mean, double* rstd) {
  layer_norm_row_t(row, C, gamma, beta, eps, out, mean, rstd);
}

void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, Tensor& y, Tensor& mean,
                Tensor& rstd) {
  if (!x.defined() || x.dim() == 0 || x.numel() == 0) {
    throw Error(fmt::format("layer_norm: needs a non-empty input with a last axis, got shape {}",
                            x.defined() ? to_string(x.shape()) : "undefined"));
  }
  const std::int64_t C = x.size(-1);
  const std::int64_t R = x.numel() / C;
  check_affine("layer_norm", gamma, "weight", C, x.dtype());
  check_affine("layer_norm", beta, "bias", C, x.dtype());
  if (!(eps > 0)) throw Error(fmt::format("layer_norm: eps must be positive, got {}", eps));
  y = Tensor::empty(x.shape(), x.dtype());
  mean = Tensor::empty({R}, x.dtype());
  rstd = Tensor::empty({R}, x.dtype());
  const Tensor xc = x.contiguous();
  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* px = xc.data<T>();
    const T* pg = gamma.defined() ? gamma.data<T>() : nullptr;
    const T* pb = beta.defined() ? beta.data<T>() : nullptr;
    T* py = y.data<T>();
    T* pm = mean.data<T>();
    T* pr = rstd.data<T>();
    parallel_for(0, R, std::max<std::int64_t>(1, 16384 / C), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) layer_norm_row(px + r * C, C, pg, pb, eps, py + r * C, pm + r, pr + r);
    });
  });
}

void layer_norm_backward(const Tensor& grad, const Tensor& x, const Tensor& gamma, const Tensor& mean,
                         const Tensor& rstd, Tensor* dx, Tensor* dgamma, Tensor* dbeta, bool add_to_dx) {
  if (grad.shape() != x.shape() || grad.dtype() != x.dtype()) {
    throw Error(fmt::format("layer_norm backward: grad {} does not match input {}", to_string(grad.shape()),
                            to_string(x.shape())));
  }
  const std::int64_t C = x.size(-1);
  const std::int64_t R = x.numel() / C;
  check_affine("layer_norm backward", gamma, "weight", C, x.dtype());
  const Tensor xc = x.contiguous();
  const Tensor gc = grad.contiguous();
  // A dx the caller gives (contiguous, x's shape and type) is written in place, grad's own memory
  // included: each row of grad is read whole before its row of dx is written.
  const bool given =
      dx != nullptr && dx->defined() && dx->is_contiguous() && dx->shape() == x.shape() && dx->dtype() == x.dtype();
  if (add_to_dx && (!given || dx->storage() == grad.storage())) {
    throw Error(
        "layer_norm backward: adding into dx needs a contiguous dx of the input's shape and type, apart from grad");
  }
  if (dx != nullptr && !given) *dx = Tensor::empty(x.shape(), x.dtype());
  const std::int64_t nchunks = (R + kRowsPerChunk - 1) / kRowsPerChunk;
  const bool want_params = dgamma != nullptr || dbeta != nullptr;
  dispatch_float(x.dtype(), "layer_norm backward", [&](auto tag) {
    using T = decltype(tag);
    const T* px = xc.data<T>();
    const T* pgr = gc.data<T>();
    const T* pgm = gamma.defined() ? gamma.data<T>() : nullptr;
    const T* pm = mean.data<T>();
    const T* pr = rstd.data<T>();
    T* pdx = dx != nullptr ? dx->data<T>() : nullptr;
    // Partial sums of dgamma and dbeta per fixed chunk of rows, combined in order afterwards. A
    // tensor, so that the block cache keeps it from one step to the next (64 KiB for 4096 rows of 256).
    Tensor parts = want_params ? Tensor::zeros({2, nchunks, C}, x.dtype()) : Tensor();
    T* part_g = want_params ? parts.data<T>() : nullptr;
    T* part_b = want_params ? part_g + nchunks * C : nullptr;
    parallel_for(0, nchunks, std::max<std::int64_t>(1, 4096 / (C * kRowsPerChunk)),
                 [&](std::int64_t cb, std::int64_t ce) {
                   std::vector<T> dxhat(static_cast<std::size_t>(C));
                   for (std::int64_t c = cb; c < ce; ++c) {
                     T* pg_acc = want_params ? part_g + c * C : nullptr;
                     T* pb_acc = want_params ? part_b + c * C : nullptr;
                     const std::int64_t r1 = std::min(R, (c + 1) * kRowsPerChunk);
                     for (std::int64_t r = c * kRowsPerChunk; r < r1; ++r) {
                       const T* xr = px + r * C;
                       const T* gr = pgr + r * C;
                       const T mu = pm[r], rs = pr[r];
                       if (want_params) {
                         for (std::int64_t i = 0; i < C; ++i) {
                           pg_acc[i] += gr[i] * (xr[i] - mu) * rs;
                           pb_acc[i] += gr[i];
                         }
                       }
                       if (pdx == nullptr) continue;
                       T sum_d = 0, sum_dx = 0;
                       for (std::int64_t i = 0; i < C; ++i) dxhat[i] = pgm != nullptr ? gr[i] * pgm[i] : gr[i];
#pragma omp simd reduction(+ : sum_d, sum_dx)
                       for (std::int64_t i = 0; i < C; ++i) {
                         sum_d += dxhat[i];
                         sum_dx += dxhat[i] * (xr[i] - mu) * rs;
                       }
                       const T md = sum_d / static_cast<T>(C), mdx = sum_dx / static_cast<T>(C);
                       T* out = pdx + r * C;
                       if (add_to_dx) {
                         for (std::int64_t i = 0; i < C; ++i) out[i] += rs * (dxhat[i] - md - (xr[i] - mu) * rs * mdx);
                       } else {
                         for (std::int64_t i = 0; i < C; ++i) out[i] = rs * (dxhat[i] - md - (xr[i] - mu) * rs * mdx);
                       }
                     }
                   }
                 });
    auto combine = [&](const T* part, Tensor* out) {
      if (out == nullptr) return;
      *out = Tensor::zeros({C}, x.dtype());
      T* po = out->data<T>();
      for (std::int64_t c = 0; c < nchunks; ++c) {
        for (std::int64_t i = 0; i < C; ++i) po[i] += part[c * C + i];
      }
    };
    combine(part_g, dgamma);
    combine(part_b, dbeta);
  });
}

}  // namespace kat
