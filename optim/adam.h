#pragma once
// Adam (Kingma and Ba 2015) and AdamW (Loshchilov and Hutter 2019, decoupled weight decay).

#include <vector>

#include "autograd/variable.h"

namespace kat {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  // AdamW: w -= lr * wd * w, outside the adaptive step
};

class Adam {
 public:
  Adam(std::vector<Variable> params, const AdamOptions& options);

  // One update of every parameter that has a gradient:
  //   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
  //   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
  void step();
  void zero_grad();

  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }
  std::int64_t steps() const { return t_; }

 private:
  std::vector<Variable> params_;
  std::vector<Tensor> m_, v_;
  AdamOptions options_;
  std::int64_t t_ = 0;
};

}  // namespace kat
