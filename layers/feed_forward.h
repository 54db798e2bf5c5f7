#pragma once
// The position-wise feed-forward block of the Transformer: Linear(d_model, d_ff), activation,
// dropout, Linear(d_ff, d_model).

#include <memory>
#include <string>
#include <vector>

#include "layers/dropout.h"
#include "layers/linear.h"

namespace kat {

enum class Activation { relu, gelu };
// The names experiment files use ("relu", "gelu"), and the activation of one (kat::Error for an
// unknown name).
std::vector<std::string> activation_names();
Activation activation_from_name(const std::string& name);
std::string activation_name(Activation activation);

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

 private:
  FeedForwardOptions options_;
  std::shared_ptr<Linear> fc1_, fc2_;
  std::shared_ptr<Dropout> dropout_;
};

}  // namespace kat
