#pragma once
// y = x W + b over the last axis. The weight is stored (in, out), so the forward is one GEMM over all
// rows of x without a transpose.

#include "layers/module.h"

namespace kat {

struct LinearOptions {
  std::int64_t in = 0;
  std::int64_t out = 0;
  bool bias = true;
  double init_gain = 1.0;  // Xavier-uniform gain of the weight; biases start at zero
};

class Linear : public Module {
 public:
  Linear(const LinearOptions& options, Rng& rng);
  Variable forward(const Variable& x) const;  // (..., in) -> (..., out)

  const LinearOptions& options() const { return options_; }
  const Variable& weight() const { return weight_; }
  const Variable& bias() const { return bias_; }

 private:
  LinearOptions options_;
  Variable weight_;  // (in, out)
  Variable bias_;    // (out), undefined without bias
};

}  // namespace kat
