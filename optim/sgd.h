#pragma once
// Stochastic gradient descent with optional momentum (heavy-ball or Nesterov) and L2 weight decay.
//   d = g + wd * w                      (wd only on parameters that decay)
//   v = momentum * v + d                (v = d at the first update)
//   w -= lr * (nesterov ? d + momentum * v : v)      (w -= lr * d without momentum)

#include <vector>

#include "optim/optimizer.h"

namespace kat {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;      // 0 disables the velocity slot
  bool nesterov = false;      // needs momentum > 0
  double weight_decay = 0.0;  // added to the gradient as weight_decay * w
};

class Sgd : public Optimizer {
 public:
  Sgd(NamedParameters params, const SgdOptions& options);
  Sgd(const std::vector<Variable>& params, const SgdOptions& options) : Sgd(indexed_parameters(params), options) {}

 protected:
  void update(std::size_t i, Tensor& w, const Tensor& g, std::vector<Tensor>& slots) override;

 private:
  SgdOptions options_;
};

}  // namespace kat
