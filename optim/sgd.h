#pragma once
// Stochastic gradient descent with optional momentum (heavy-ball or Nesterov) and L2 weight decay.

#include <vector>

#include "autograd/variable.h"

namespace kat {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;      // 0 disables the velocity buffers
  bool nesterov = false;      // needs momentum > 0
  double weight_decay = 0.0;  // added to the gradient as weight_decay * w
};

class Sgd {
 public:
  Sgd(std::vector<Variable> params, const SgdOptions& options);

  // w -= lr * update, where update is the gradient (plus decay), or the momentum step. Parameters
  // without a gradient are skipped.
  void step();
  void zero_grad();

  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }

 private:
  std::vector<Variable> params_;
  std::vector<Tensor> velocity_;  // one per parameter, allocated at its first update
  SgdOptions options_;
};

}  // namespace kat
