#pragma once
// The incremental decoding state of a decoder: one attention state per layer for self-attention
// (KV cache or recurrent sums) and, in an encoder-decoder, one per layer for cross-attention.

#include <memory>
#include <vector>

#include "layers/attention/attention.h"

namespace kat {

struct DecodeState {
  std::vector<std::unique_ptr<AttentionState>> self;   // per layer
  std::vector<std::unique_ptr<AttentionState>> cross;  // per layer; empty for a language model
  std::int64_t position = 0;                           // tokens consumed so far
  std::int64_t batch = 0;

  // Keeps the batch items named by indices (int64), in that order, in every layer's state.
  void reorder(const Tensor& indices) {
    for (auto& s : self) s->reorder(indices);
    for (auto& s : cross) s->reorder(indices);
    batch = indices.numel();
  }
};

}  // namespace kat
