#pragma once
// The position-wise feed-forward block of the Transformer: Linear(d_model, d_ff), activation,
// dropout, Linear(d_ff, d_model).

#include <memory>
#include <string>
#include <vector>

#include "core/names.h"
#include "layers/dropout.h"
#include "layers/linear.h"

namespace kat {

enum class Activation { relu, gelu };
template <>
struct EnumNames<Activation> {
  static constexpr const char* names[] = {"relu", "gelu"};
};

struct FeedForwardOptions {
  std::int64_t d_model = 0;
  std::int64_t d_ff = 0;
  Activation activation = Activation::relu;
  double dropout = 0.0;  // after the activation
};

class FeedForward : public Module {
 public:
  FeedForward(const FeedForwardOptions& options, Rng& rng);
  Variable forward(const Variable& x);
  // The forward of decoding, without autograd or dropout: x (rows, d_model) contiguous float32.
  Tensor forward_rows(const Tensor& x) const;

 private:
  FeedForwardOptions options_;
  std::shared_ptr<Linear> fc1_, fc2_;
  std::shared_ptr<Dropout> dropout_;
};

}  // namespace kat
