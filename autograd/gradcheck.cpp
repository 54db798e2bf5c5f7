#include "autograd/gradcheck.h"

#include <fmt/format.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/reduce.h"
#include "core/rng.h"

namespace kat {
namespace {

double projected(const GradcheckFn& fn, const std::vector<Variable>& vars, const Tensor& r) {
  NoGradGuard no_grad;
  const Variable y = fn(vars);
  return sum(binary(BinaryOp::mul, y.data(), r)).item();
}

}  // namespace

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, const GradcheckOptions& opt) {
  return gradcheck(fn, inputs, {}, opt);
}

GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, std::vector<Variable> params,
                          const GradcheckOptions& opt) {
  std::vector<Variable> vars;
  vars.reserve(inputs.size());
  for (const Tensor& t : inputs) vars.emplace_back(t.to(DType::f64).clone(), true);
  for (Variable& p : params) {
    if (!p.is_leaf() || !p.requires_grad() || p.dtype() != DType::f64 || !p.data().is_contiguous()) {
      throw Error("gradcheck: parameters must be contiguous float64 leaves that require a gradient");
    }
    p.zero_grad();
  }

  const Variable y = fn(vars);
  if (!y.defined() || y.dtype() != DType::f64) throw Error("gradcheck: the function must return a float64 variable");
  Rng rng(opt.seed);
  Tensor r = Tensor::empty(y.shape(), DType::f64);
  fill_normal(r, rng, 0.0, 1.0);
  if (!y.requires_grad()) throw Error("gradcheck: the output does not depend on any input");
  y.backward(r);

  GradcheckResult result;
  for (std::size_t k = 0; k < vars.size(); ++k) {
    Tensor& x = vars[k].data();
    const Tensor analytic =
        vars[k].grad().defined() ? vars[k].grad().contiguous() : Tensor::zeros(x.shape(), DType::f64);
    double* px = x.data<double>();
    const double* pa = analytic.data<double>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const double saved = px[i];
      px[i] = saved + opt.eps;
      const double plus = projected(fn, vars, r);
      px[i] = saved - opt.eps;
      const double minus = projected(fn, vars, r);
      px[i] = saved;
      const double numeric = (plus - minus) / (2.0 * opt.eps);
      const double err = std::abs(pa[i] - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && !(err <= opt.atol + opt.rtol * std::abs(numeric))) {
        result.ok = false;
        result.message = fmt::format("{} {} {} element {}: analytic {:.10g} vs numeric {:.10g} (error {:.3g})",
                                     k < vars.size() ? "input" : "parameter", k < vars.size() ? k : k - vars.size(),
                                     to_string(x.shape()), i, pa[i], numeric, err);
      }
    }
  }
  if (result.ok) result.message = fmt::format("max abs error {:.3g}", result.max_abs_error);
  return result;
}

}  // namespace kat
