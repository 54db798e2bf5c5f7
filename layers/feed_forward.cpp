#include "layers/feed_forward.h"

#include <fmt/format.h>

#include "autograd/ops.h"
#include "core/error.h"

namespace kat {

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
