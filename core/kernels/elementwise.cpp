#include "core/kernels/elementwise.h"

#include <fmt/format.h>

#include <cmath>

#include "core/kernels/fast_math.h"
#include "core/kernels/strided_loop.h"

namespace kat {
namespace {

// Each unary op: f(x, alpha) and its gradient df(g, x, y, alpha) = g * f'(x).
template <typename T>
struct Neg {
  static T f(T x, T) { return -x; }
  static T df(T g, T, T, T) { return -g; }
};
template <typename T>
struct Exp {
  static T f(T x, T) { return detail::exp_vec(x); }
  static T df(T g, T, T y, T) { return g * y; }
};
template <typename T>
struct Log {
  static T f(T x, T) { return std::log(x); }
  static T df(T g, T x, T, T) { return g / x; }
};
template <typename T>
struct Sqrt {
  static T f(T x, T) { return std::sqrt(x); }
  static T df(T g, T, T y, T) { return g * T(0.5) / y; }
};
template <typename T>
struct Rsqrt {
  static T f(T x, T) { return T(1) / std::sqrt(x); }
  static T df(T g, T, T y, T) { return g * T(-0.5) * y * y * y; }
};
template <typename T>
struct Tanh {
  static T f(T x, T) { return std::tanh(x); }
  static T df(T g, T, T y, T) { return g * (T(1) - y * y); }
};
template <typename T>
struct Relu {
  static T f(T x, T) { return x > T(0) ? x : T(0); }
  static T df(T g, T x, T, T) { return x > T(0) ? g : T(0); }
};
template <typename T>
struct Gelu {
  // x * Phi(x) with Phi the standard normal CDF; d/dx = Phi(x) + x * phi(x).
  static T f(T x, T) { return T(0.5) * x * (T(1) + std::erf(x * T(M_SQRT1_2))); }
  static T df(T g, T x, T, T) {
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(M_SQRT1_2)));
    const T pdf = std::exp(T(-0.5) * x * x) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);
    return g * (cdf + x * pdf);
  }
};
template <typename T>
struct Elu {
  // exp first, unconditionally: a select of two computed values vectorizes, a branch does not.
  static T f(T x, T a) {
    const T e = detail::exp_vec(x);
    return x > T(0) ? x : a * (e - T(1));
  }
  static T df(T g, T x, T, T a) {
    const T e = detail::exp_vec(x);
    return x > T(0) ? g : g * a * e;
  }
};
// elu(x) + 1 in one step: e^x itself below 0 (e^x - 1 + 1 would round small values to 0). The
// derivative from the output: 1 where y > 1 (x > 0), else y = e^x.
template <typename T>
struct Elu1 {
  static T f(T x, T) {
    const T e = detail::exp_vec(x);
    return x > T(0) ? x + T(1) : e;
  }
  static T df(T g, T, T y, T) { return y > T(1) ? g : g * y; }
};
template <typename T>
struct Sigmoid {
  static T f(T x, T) { return T(1) / (T(1) + detail::exp_vec(-x)); }
  static T df(T g, T, T y, T) { return g * y * (T(1) - y); }
};
template <typename T>
struct Abs {
  static T f(T x, T) { return std::abs(x); }
  static T df(T g, T x, T, T) { return x > T(0) ? g : (x < T(0) ? -g : T(0)); }
};
template <typename T>
struct Sin {
  static T f(T x, T) { return std::sin(x); }
  static T df(T g, T x, T, T) { return g * std::cos(x); }
};
template <typename T>
struct Cos {
  static T f(T x, T) { return std::cos(x); }
  static T df(T g, T x, T, T) { return -g * std::sin(x); }
};
template <typename T>
struct Square {
  static T f(T x, T) { return x * x; }
  static T df(T g, T x, T, T) { return T(2) * g * x; }
};
template <typename T>
struct Scale {
  static T f(T x, T a) { return a * x; }
  static T df(T g, T, T, T a) { return a * g; }
};
template <typename T>
struct AddScalar {
  static T f(T x, T a) { return x + a; }
  static T df(T g, T, T, T) { return g; }
};
template <typename T>
struct PowScalar {
  static T f(T x, T a) { return std::pow(x, a); }
  static T df(T g, T x, T, T a) { return g * a * std::pow(x, a - T(1)); }
};

// Calls fn(Functor<T>{}) for the op.
template <typename T, typename Fn>
void with_unary(UnaryOp op, Fn&& fn) {
  switch (op) {
    case UnaryOp::neg: return fn(Neg<T>{});
    case UnaryOp::exp: return fn(Exp<T>{});
    case UnaryOp::log: return fn(Log<T>{});
    case UnaryOp::sqrt: return fn(Sqrt<T>{});
    case UnaryOp::rsqrt: return fn(Rsqrt<T>{});
    case UnaryOp::tanh: return fn(Tanh<T>{});
    case UnaryOp::relu: return fn(Relu<T>{});
    case UnaryOp::gelu: return fn(Gelu<T>{});
    case UnaryOp::elu: return fn(Elu<T>{});
    case UnaryOp::elu1: return fn(Elu1<T>{});
    case UnaryOp::sigmoid: return fn(Sigmoid<T>{});
    case UnaryOp::abs: return fn(Abs<T>{});
    case UnaryOp::sin: return fn(Sin<T>{});
    case UnaryOp::cos: return fn(Cos<T>{});
    case UnaryOp::square: return fn(Square<T>{});
    case UnaryOp::scale: return fn(Scale<T>{});
    case UnaryOp::add_scalar: return fn(AddScalar<T>{});
    case UnaryOp::pow_scalar: return fn(PowScalar<T>{});
  }
}

void check_same(const char* op, const Tensor& a, const char* a_name, const Tensor& b, const char* b_name) {
  if (!a.defined() || !b.defined()) throw Error(fmt::format("{}: {} or {} is undefined", op, a_name, b_name));
  if (a.shape() != b.shape()) {
    throw Error(fmt::format("{}: {} has shape {} but {} has shape {}", op, a_name, to_string(a.shape()), b_name,
                            to_string(b.shape())));
  }
  if (a.dtype() != b.dtype()) {
    throw Error(
        fmt::format("{}: {} is {} but {} is {}", op, a_name, dtype_name(a.dtype()), b_name, dtype_name(b.dtype())));
  }
}

template <typename T>
struct BinAdd {
  static T f(T a, T b) { return a + b; }
};
template <typename T>
struct BinSub {
  static T f(T a, T b) { return a - b; }
};
template <typename T>
struct BinMul {
  static T f(T a, T b) { return a * b; }
};
template <typename T>
struct BinDiv {
  static T f(T a, T b) { return a / b; }
};
template <typename T>
struct BinMax {
  static T f(T a, T b) { return a > b ? a : b; }
};
template <typename T>
struct BinMin {
  static T f(T a, T b) { return a < b ? a : b; }
};

template <typename T, typename Fn>
void with_binary(BinaryOp op, Fn&& fn) {
  switch (op) {
    case BinaryOp::add: return fn(BinAdd<T>{});
    case BinaryOp::sub: return fn(BinSub<T>{});
    case BinaryOp::mul: return fn(BinMul<T>{});
    case BinaryOp::div: return fn(BinDiv<T>{});
    case BinaryOp::maximum: return fn(BinMax<T>{});
    case BinaryOp::minimum: return fn(BinMin<T>{});
  }
}

}  // namespace

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: return "neg";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::rsqrt: return "rsqrt";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::relu: return "relu";
    case UnaryOp::gelu: return "gelu";
    case UnaryOp::elu: return "elu";
    case UnaryOp::elu1: return "elu1";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::abs: return "abs";
    case UnaryOp::sin: return "sin";
    case UnaryOp::cos: return "cos";
    case UnaryOp::square: return "square";
    case UnaryOp::scale: return "scale";
    case UnaryOp::add_scalar: return "add_scalar";
    case UnaryOp::pow_scalar: return "pow_scalar";
  }
  return "?";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::minimum: return "minimum";
  }
  return "?";
}

void unary(UnaryOp op, const Tensor& in, Tensor& out, double alpha) {
  check_same(unary_name(op), in, "input", out, "output");
  dispatch_float(in.dtype(), unary_name(op), [&](auto tag) {
    using T = decltype(tag);
    const T a = static_cast<T>(alpha);
    const T* src = in.data<T>();
    T* dst = out.data<T>();
    with_unary<T>(op, [&](auto fun) {
      using F = decltype(fun);
      auto plan = detail::plan_loop<2>(in.shape(), {out.strides(), in.strides()});
      detail::for_each_run(plan, [&](auto off, std::int64_t n, auto st) {
        T* o = dst + off[0];
        const T* x = src + off[1];
        if (st[0] == 1 && st[1] == 1) {
#pragma omp simd
          for (std::int64_t i = 0; i < n; ++i) o[i] = F::f(x[i], a);
        } else {
          for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] = F::f(x[i * st[1]], a);
        }
      });
    });
  });
}

Tensor unary(UnaryOp op, const Tensor& in, double alpha) {
  Tensor out = Tensor::empty(in.shape(), in.dtype());
  unary(op, in, out, alpha);
  return out;
}

void unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y, Tensor& out, double alpha) {
  const std::string name = std::string(unary_name(op)) + " backward";
  check_same(name.c_str(), grad, "grad", out, "output");
  // Undefined x or y are replaced by grad itself: the functor for this op does not read them.
  const Tensor& xs = x.defined() ? x : grad;
  const Tensor& ys = y.defined() ? y : grad;
  check_same(name.c_str(), grad, "grad", xs, "x");
  check_same(name.c_str(), grad, "grad", ys, "y");
  dispatch_float(grad.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T a = static_cast<T>(alpha);
    const T* g = grad.data<T>();
    const T* xp = xs.data<T>();
    const T* yp = ys.data<T>();
    T* dst = out.data<T>();
    with_unary<T>(op, [&](auto fun) {
      using F = decltype(fun);
      auto plan = detail::plan_loop<4>(grad.shape(), {out.strides(), grad.strides(), xs.strides(), ys.strides()});
      detail::for_each_run(plan, [&](auto off, std::int64_t n, auto st) {
        T* o = dst + off[0];
        const T* gg = g + off[1];
        const T* xx = xp + off[2];
        const T* yy = yp + off[3];
        if (st[0] == 1 && st[1] == 1 && st[2] == 1 && st[3] == 1) {
#pragma omp simd
          for (std::int64_t i = 0; i < n; ++i) o[i] = F::df(gg[i], xx[i], yy[i], a);
        } else {
          for (std::int64_t i = 0; i < n; ++i) {
            o[i * st[0]] = F::df(gg[i * st[1]], xx[i * st[2]], yy[i * st[3]], a);
          }
        }
      });
    });
  });
}

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const char* name = binary_name(op);
  if (!a.defined() || !b.defined() || !out.defined()) throw Error(fmt::format("{}: undefined tensor", name));
  if (a.dtype() != b.dtype() || a.dtype() != out.dtype()) {
    throw Error(fmt::format("{}: element types differ: {} and {} into {}", name, dtype_name(a.dtype()),
                            dtype_name(b.dtype()), dtype_name(out.dtype())));
  }
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  if (shape != out.shape()) {
    throw Error(fmt::format("{}: output has shape {} but the inputs {} and {} broadcast to {}", name,
                            to_string(out.shape()), to_string(a.shape()), to_string(b.shape()), to_string(shape)));
  }
  dispatch_float(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    with_binary<T>(op, [&](auto fun) {
      using F = decltype(fun);
      auto plan = detail::plan_loop<3>(shape, {out.strides(), broadcast_strides(a.shape(), a.strides(), shape),
                                               broadcast_strides(b.shape(), b.strides(), shape)});
      detail::for_each_run(plan, [&](auto off, std::int64_t n, auto st) {
        T* o = po + off[0];
        const T* x = pa + off[1];
        const T* y = pb + off[2];
        if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
          for (std::int64_t i = 0; i < n; ++i) o[i] = F::f(x[i], y[i]);
        } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
          const T yv = *y;
          for (std::int64_t i = 0; i < n; ++i) o[i] = F::f(x[i], yv);
        } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {
          const T xv = *x;
          for (std::int64_t i = 0; i < n; ++i) o[i] = F::f(xv, y[i]);
        } else {
          for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] = F::f(x[i * st[1]], y[i * st[2]]);
        }
      });
    });
  });
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw Error(fmt::format("{}: undefined tensor", binary_name(op)));
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), binary_name(op)), a.dtype());
  binary(op, a, b, out);
  return out;
}

void add_scaled_(Tensor& out, const Tensor& x, double alpha) {
  if (!out.defined() || !x.defined()) throw Error("add_scaled_: undefined tensor");
  if (out.dtype() != x.dtype()) {
    throw Error(
        fmt::format("add_scaled_: element types differ: {} += {}", dtype_name(out.dtype()), dtype_name(x.dtype())));
  }
  if (broadcast_shapes(out.shape(), x.shape(), "add_scaled_") != out.shape()) {
    throw Error(
        fmt::format("add_scaled_: cannot add shape {} into shape {}", to_string(x.shape()), to_string(out.shape())));
  }
  dispatch_float(out.dtype(), "add_scaled_", [&](auto tag) {
    using T = decltype(tag);
    const T a = static_cast<T>(alpha);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    auto plan =
        detail::plan_loop<2>(out.shape(), {out.strides(), broadcast_strides(x.shape(), x.strides(), out.shape())});
    detail::for_each_run(plan, [&](auto off, std::int64_t n, auto st) {
      T* o = po + off[0];
      const T* xx = px + off[1];
      if (st[0] == 1 && st[1] == 1) {
        for (std::int64_t i = 0; i < n; ++i) o[i] += a * xx[i];
      } else {
        for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] += a * xx[i * st[1]];
      }
    });
  });
}

namespace {

template <typename D, typename S>
void copy_typed(const Tensor& src, Tensor& dst) {
  const S* ps = static_cast<const S*>(src.raw_data());
  D* pd = static_cast<D*>(dst.raw_data());
  auto plan =
      detail::plan_loop<2>(dst.shape(), {dst.strides(), broadcast_strides(src.shape(), src.strides(), dst.shape())});
  detail::for_each_run(plan, [&](auto off, std::int64_t n, auto st) {
    D* o = pd + off[0];
    const S* x = ps + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<D>(x[i]);
    } else {
      for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] = static_cast<D>(x[i * st[1]]);
    }
  });
}

template <typename D>
void copy_to(const Tensor& src, Tensor& dst) {
  switch (src.dtype()) {
    case DType::f32: return copy_typed<D, float>(src, dst);
    case DType::f64: return copy_typed<D, double>(src, dst);
    case DType::i64: return copy_typed<D, std::int64_t>(src, dst);
  }
}

}  // namespace

void copy(const Tensor& src, Tensor& dst) {
  if (!src.defined() || !dst.defined()) throw Error("copy: undefined tensor");
  if (broadcast_shapes(dst.shape(), src.shape(), "copy") != dst.shape()) {
    throw Error(
        fmt::format("copy: cannot copy shape {} into shape {}", to_string(src.shape()), to_string(dst.shape())));
  }
  switch (dst.dtype()) {
    case DType::f32: return copy_to<float>(src, dst);
    case DType::f64: return copy_to<double>(src, dst);
    case DType::i64: return copy_to<std::int64_t>(src, dst);
  }
}

}  // namespace kat
