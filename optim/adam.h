#pragma once
// Adam (Kingma and Ba 2015) and AdamW (Loshchilov and Hutter 2019, decoupled weight decay).

#include <vector>

#include "optim/optimizer.h"

namespace kat {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // applied only to parameters that decay (NamedParameter::decay)
  bool decoupled = false;     // AdamW: w -= lr * wd * w, outside the adaptive step
};

class Adam : public Optimizer {
 public:
  // The names of its per-parameter state in checkpoints: the first and second moments.
  static constexpr const char* kExpAvg = "exp_avg";
  static constexpr const char* kExpAvgSq = "exp_avg_sq";

  // At update t of a parameter with gradient g (plus wd * w for L2 decay when not decoupled):
  //   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
  //   w = w * (1 - lr * wd [decoupled only]) - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
  Adam(NamedParameters params, const AdamOptions& options);
  Adam(const std::vector<Variable>& params, const AdamOptions& options) : Adam(indexed_parameters(params), options) {}

 protected:
  Adam(const char* kind, NamedParameters params, const AdamOptions& options);
  void update(std::size_t i, Tensor& w, const Tensor& g, std::vector<Tensor>& slots) override;

 private:
  AdamOptions options_;
};

// Adam with decoupled weight decay. Give it decay_groups(model.named_parameters()) so biases and
// norm gains are not decayed.
class AdamW : public Adam {
 public:
  AdamW(NamedParameters params, const AdamOptions& options);
};

}  // namespace kat
