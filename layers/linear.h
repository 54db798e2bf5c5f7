#pragma once
// y = x W + b over the last axis. The weight is stored (in, out), so the forward is one GEMM over all
// rows of x without a transpose.

#include <memory>

#include "core/kernels/half.h"
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
  // The forward of decoding, without autograd: x (rows, in) and out (rows, out), both contiguous
  // float32, out written in place. The same arithmetic as forward (its float16 copy included).
  void forward_into(const Tensor& x, Tensor& out) const;

  const LinearOptions& options() const { return options_; }
  const Variable& weight() const { return weight_; }
  const Variable& bias() const { return bias_; }

  // Float16 weights for decoding (core/kernels/half.h): on, the layer takes a float16 copy of its
  // weight now, and a forward outside gradient mode over at most four rows (one token of up to
  // four sequences) reads that copy instead of the float32 weight; off drops the copy. The copy is
  // of the weight as it is when this is called: change the weight afterwards (train, load a
  // checkpoint) and call it again.
  void set_half_weights(bool on);
  bool half_weights() const { return half_ != nullptr; }

 private:
  LinearOptions options_;
  Variable weight_;                         // (in, out)
  Variable bias_;                           // (out), undefined without bias
  std::shared_ptr<const HalfMatrix> half_;  // the weight's transpose (out, in) in float16, or null
};

}  // namespace kat
