#include "layers/feed_forward.h"

#include <fmt/format.h>

#include "autograd/ops.h"
#include "core/error.h"

namespace kat {

std::vector<std::string> activation_names() {
  return {activation_name(Activation::relu), activation_name(Activation::gelu)};
}

std::string activation_name(Activation activation) { return activation == Activation::gelu ? "gelu" : "relu"; }

Activation activation_from_name(const std::string& name) {
  for (Activation a : {Activation::relu, Activation::gelu}) {
    if (name == activation_name(a)) return a;
  }
  throw Error(fmt::format("unknown activation '{}' (known: {})", name, fmt::join(activation_names(), ", ")));
}

FeedForward::FeedForward(const FeedForwardOptions& o, Rng& rng) : Module("feed_forward"), options_(o) {
  fc1_ = add_module<Linear>("fc1", LinearOptions{o.d_model, o.d_ff}, rng);
  fc2_ = add_module<Linear>("fc2", LinearOptions{o.d_ff, o.d_model}, rng);
  dropout_ = add_module<Dropout>("dropout", o.dropout, rng);
}

Variable FeedForward::forward(const Variable& x) {
  const Variable h = fc1_->forward(x);
  if (options_.activation == Activation::gelu) return fc2_->forward(dropout_->forward(gelu(h)));
  return fc2_->forward(dropout_->forward_relu(h));
}

}  // namespace kat
