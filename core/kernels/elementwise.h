#pragma once
// Elementwise kernels: unary maps with their fused gradients, binary maps with NumPy
// broadcasting, and a converting strided copy. Outputs may be strided views; inputs of any layout.

#include "core/tensor.h"

namespace kat {

enum class UnaryOp {
  neg,         // -x
  exp,         // e^x
  log,         // ln x
  sqrt,        // sqrt x
  rsqrt,       // 1 / sqrt x
  tanh,        // tanh x
  relu,        // max(x, 0)
  gelu,        // x * Phi(x), the exact (erf) form
  elu,         // x > 0 ? x : alpha * (e^x - 1)
  elu1,        // elu(x) + 1 = x > 0 ? x + 1 : e^x (the feature map of Katharopoulos et al. 2020)
  sigmoid,     // 1 / (1 + e^-x)
  abs,         // |x|
  sin,         // sin x
  cos,         // cos x
  square,      // x^2
  scale,       // alpha * x
  add_scalar,  // x + alpha
  pow_scalar,  // x^alpha
};

const char* unary_name(UnaryOp op);

// out = f(in); out has in's shape and dtype and may alias in.
void unary(UnaryOp op, const Tensor& in, Tensor& out, double alpha = 0.0);
Tensor unary(UnaryOp op, const Tensor& in, double alpha = 0.0);

// out = grad * f'(x). `x` is the op's input and `y` its output; each op reads the one its
// derivative is cheapest from (exp, tanh, sigmoid, sqrt, rsqrt, elu1 read y; the rest read x), and
// the other may be undefined.
void unary_backward(UnaryOp op, const Tensor& grad, const Tensor& x, const Tensor& y, Tensor& out, double alpha = 0.0);

enum class BinaryOp { add, sub, mul, div, maximum, minimum };

const char* binary_name(BinaryOp op);

// out = a (op) b with broadcasting; out must have the broadcast shape and may alias a or b.
void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b);

// out += alpha * x (x broadcast to out's shape). Used to accumulate gradients.
void add_scaled_(Tensor& out, const Tensor& x, double alpha = 1.0);

// dst = src, src broadcast to dst's shape, converting between float32, float64 and int64.
void copy(const Tensor& src, Tensor& dst);

}  // namespace kat
