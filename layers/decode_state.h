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
  std::int64_t batch = 0;                              // decoding rows
  // The cross-attention states hold `cross_entries` source items and are never copied: rows
  // r * rows_per_item ... (r + 1) * rows_per_item - 1 form group r (beam search: an item's beams),
  // which reads entry cross_items[r] (entry r when cross_items is empty).
  std::int64_t cross_entries = 0;
  std::int64_t rows_per_item = 1;
  std::vector<std::int64_t> cross_items;

  // Keeps the rows named by indices (int64), in that order, in every layer's self-attention state,
  // and points each new row at the cross-attention entry of the row it continues. Groups are kept
  // when every group of the new rows continues rows of one old group (beam search widening its
  // items, choosing among an item's beams, or dropping finished items); otherwise each row gets a
  // copy of its cross-attention entry (the only case that copies them).
  void reorder(const Tensor& indices);
};

}  // namespace kat
