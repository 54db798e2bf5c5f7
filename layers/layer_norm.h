#pragma once
#include "layers/module.h"

namespace kat {

struct LayerNormOptions {
  std::int64_t dim = 0;
  double eps = 1e-5;
  bool affine = true;  // learned weight (ones) and bias (zeros)
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  Variable forward(const Variable& x) const;  // normalizes the last axis, which must be dim
  // The forward of decoding, without autograd: x (rows, dim) contiguous.
  Tensor forward_rows(const Tensor& x) const;

 private:
  LayerNormOptions options_;
  Variable weight_, bias_;
};

}  // namespace kat
