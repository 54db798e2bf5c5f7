#include "layers/feed_forward.h"

#include <fmt/format.h>

#include "autograd/ops.h"
#include "core/error.h"
#include "core/kernels/elementwise.h"

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

Tensor FeedForward::forward_rows(const Tensor& x) const {
  Tensor h = Tensor::empty({x.size(0), options_.d_ff});
  fc1_->forward_into(x, h);
  if (options_.activation == Activation::gelu) {
    unary(UnaryOp::gelu, h, h);
  } else {
    float* p = h.data<float>();  // relu as the forward's: 0 for anything not above 0 (NaN too)
    for (std::int64_t i = 0, n = h.numel(); i < n; ++i) p[i] = p[i] > 0.0f ? p[i] : 0.0f;
  }
  Tensor out = Tensor::empty({x.size(0), options_.d_model});
  fc2_->forward_into(h, out);
  return out;
}

}  // namespace kat
