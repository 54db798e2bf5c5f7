#pragma once
// Differentiable elementwise ops. Binary ops broadcast (NumPy rules); their gradients are summed
// back to each input's shape by sum_to.

#include "autograd/variable.h"

namespace kat {

Variable add(const Variable& a, const Variable& b);
Variable sub(const Variable& a, const Variable& b);
Variable mul(const Variable& a, const Variable& b);
Variable div(const Variable& a, const Variable& b);
Variable neg(const Variable& x);

Variable add(const Variable& x, double s);  // x + s
Variable mul(const Variable& x, double s);  // x * s
Variable pow(const Variable& x, double p);  // x^p

Variable exp(const Variable& x);
Variable log(const Variable& x);
Variable sqrt(const Variable& x);
Variable tanh(const Variable& x);
Variable relu(const Variable& x);
Variable gelu(const Variable& x);  // exact: x * Phi(x)
Variable elu(const Variable& x, double alpha = 1.0);
// elu(x) + 1 as one op: x + 1 above 0, e^x below (the linear attention feature map).
Variable elu_plus_one(const Variable& x);
Variable sigmoid(const Variable& x);
Variable sin(const Variable& x);
Variable cos(const Variable& x);

inline Variable operator+(const Variable& a, const Variable& b) { return add(a, b); }
inline Variable operator-(const Variable& a, const Variable& b) { return sub(a, b); }
inline Variable operator*(const Variable& a, const Variable& b) { return mul(a, b); }
inline Variable operator/(const Variable& a, const Variable& b) { return div(a, b); }
inline Variable operator-(const Variable& x) { return neg(x); }
inline Variable operator+(const Variable& x, double s) { return add(x, s); }
inline Variable operator-(const Variable& x, double s) { return add(x, -s); }
inline Variable operator*(const Variable& x, double s) { return mul(x, s); }
inline Variable operator*(double s, const Variable& x) { return mul(x, s); }
inline Variable operator/(const Variable& x, double s) { return mul(x, 1.0 / s); }

}  // namespace kat
