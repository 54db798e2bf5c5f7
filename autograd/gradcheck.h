#pragma once
// Gradient check: the backward of a function against central finite differences, in float64.
//
// The function's output y is reduced to the scalar L = sum(y * R) with a fixed random R, so one
// backward gives dL/dx for every input element, and each element's numeric derivative is
// (L(x + eps) - L(x - eps)) / (2 eps). An element passes when |analytic - numeric| <= atol +
// rtol * |numeric|. With the defaults a backward off by a factor of 1.01 fails.

#include <functional>
#include <string>
#include <vector>

#include "autograd/variable.h"

namespace kat {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
  std::uint64_t seed = 1234;  // for the projection R
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the first failing element, or a summary of the largest error
  double max_abs_error = 0.0;
};

using GradcheckFn = std::function<Variable(const std::vector<Variable>&)>;

// Every input is converted to float64 and requires a gradient. Constants (ids, masks) belong in
// the function's captures.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

// The same, also checking `params`: existing float64 leaves the function reads (a layer's
// parameters). They are perturbed in place and restored; their gradients are reset first.
GradcheckResult gradcheck(const GradcheckFn& fn, const std::vector<Tensor>& inputs, std::vector<Variable> params,
                          const GradcheckOptions& options = {});

}  // namespace kat
