#include "core/kernels/softmax.h"

#include <fmt/format.h>

#include <cmath>

#include "core/kernels/fast_math.h"
#include "core/parallel.h"

namespace kat {
namespace {

void check_rows(const char* op, const Tensor& in, const Tensor& out) {
  if (!in.defined() || !out.defined()) throw Error(fmt::format("{}: undefined tensor", op));
  if (in.dim() == 0 || in.numel() == 0) {
    throw Error(fmt::format("{}: needs a non-empty tensor with a last axis, got shape {}", op, to_string(in.shape())));
  }
  if (in.shape() != out.shape() || in.dtype() != out.dtype() || !out.is_contiguous()) {
    throw Error(fmt::format("{}: output {} {} must be contiguous and match the input {} {}", op,
                            dtype_name(out.dtype()), to_string(out.shape()), dtype_name(in.dtype()),
                            to_string(in.shape())));
  }
}

// Runs fn(row_in, row_out, C) for every row of the last axis, in parallel.
template <typename T, typename Fn>
void for_rows(const Tensor& in, Tensor& out, Fn&& fn) {
  const Tensor x = in.contiguous();
  const std::int64_t C = x.size(-1);
  const std::int64_t R = x.numel() / C;
  const T* px = x.data<T>();
  T* po = out.data<T>();
  parallel_for(0, R, std::max<std::int64_t>(1, 16384 / C), [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t r = b; r < e; ++r) fn(px + r * C, po + r * C, C);
  });
}

template <typename T>
T row_max(const T* x, std::int64_t C) {
  T m = x[0];
  for (std::int64_t i = 1; i < C; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

}  // namespace

void softmax(const Tensor& in, Tensor& out) {
  check_rows("softmax", in, out);
  dispatch_float(in.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    for_rows<T>(in, out, [](const T* x, T* y, std::int64_t C) {
      const T m = row_max(x, C);
      T s = 0;
      for (std::int64_t i = 0; i < C; ++i) {
        y[i] = detail::exp_vec(x[i] - m);
        s += y[i];
      }
      const T inv = T(1) / s;
      for (std::int64_t i = 0; i < C; ++i) y[i] *= inv;
    });
  });
}

void log_softmax(const Tensor& in, Tensor& out) {
  check_rows("log_softmax", in, out);
  dispatch_float(in.dtype(), "log_softmax", [&](auto tag) {
    using T = decltype(tag);
    for_rows<T>(in, out, [](const T* x, T* y, std::int64_t C) {
      const T m = row_max(x, C);
      T s = 0;
      for (std::int64_t i = 0; i < C; ++i) s += detail::exp_vec(x[i] - m);
      const T lse = m + std::log(s);
      for (std::int64_t i = 0; i < C; ++i) y[i] = x[i] - lse;
    });
  });
}

Tensor softmax(const Tensor& in) {
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  softmax(in, out);
  return out;
}

Tensor log_softmax(const Tensor& in) {
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  log_softmax(in, out);
  return out;
}

namespace {

template <typename Fn>
void backward_rows(const char* op, const Tensor& grad, const Tensor& y, Tensor& dx, Fn&& fn) {
  check_rows(op, grad, dx);
  if (y.shape() != grad.shape() || y.dtype() != grad.dtype()) {
    throw Error(fmt::format("{}: output {} and grad {} differ", op, to_string(y.shape()), to_string(grad.shape())));
  }
  dispatch_float(grad.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const Tensor g = grad.contiguous();
    const Tensor yc = y.contiguous();
    const std::int64_t C = g.size(-1);
    const std::int64_t R = g.numel() / C;
    const T* pg = g.data<T>();
    const T* py = yc.data<T>();
    T* pd = dx.data<T>();
    parallel_for(0, R, std::max<std::int64_t>(1, 16384 / C), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) fn(pg + r * C, py + r * C, pd + r * C, C);
    });
  });
}

}  // namespace

void softmax_backward(const Tensor& grad, const Tensor& y, Tensor& dx) {
  backward_rows("softmax backward", grad, y, dx, [](const auto* g, const auto* yy, auto* d, std::int64_t C) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(d)>>;
    T dot = 0;
    for (std::int64_t i = 0; i < C; ++i) dot += g[i] * yy[i];
    for (std::int64_t i = 0; i < C; ++i) d[i] = yy[i] * (g[i] - dot);
  });
}

void log_softmax_backward(const Tensor& grad, const Tensor& y, Tensor& dx) {
  backward_rows("log_softmax backward", grad, y, dx, [](const auto* g, const auto* yy, auto* d, std::int64_t C) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(d)>>;
    T s = 0;
    for (std::int64_t i = 0; i < C; ++i) s += g[i];
    for (std::int64_t i = 0; i < C; ++i) d[i] = g[i] - detail::exp_vec(yy[i]) * s;
  });
}

}  // namespace kat
