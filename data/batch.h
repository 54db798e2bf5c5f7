#pragma once
// What the trainer consumes: batches of token ids, from a source that the data pipeline builds
// from a prepared HDF5 dataset. The trainer knows only this header; loaders implement it.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace kat {

// One batch. Language modelling fills input/target/lengths; translation also fills src/src_lengths
// (input is then the target shifted right, starting with bos; target ends with eos).
struct Batch {
  Tensor src;                             // (B, S) int64, translation only; undefined for an LM
  std::vector<std::int64_t> src_lengths;  // per item, in [1, S]; empty when no item is padded
  Tensor input;                           // (B, T) int64: what the decoder reads
  Tensor target;                          // (B, T) int64: what it must predict; padding = pad_id
  std::vector<std::int64_t> lengths;      // per item, in [1, T]; empty when no item is padded
  std::int64_t tokens = 0;                // target tokens that count in the loss (not padding)
  std::int64_t sentences = 0;             // items in the batch (B)
};

// An endless stream of training batches: it reshuffles at the end of each epoch (from its own
// seeded generator) and goes on. Its position is a few integers saved in checkpoints, so that a
// resumed run reads exactly the batches the interrupted one would have read next.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual Batch next() = 0;
  virtual std::int64_t epoch() const = 0;  // epochs completed so far
  virtual std::vector<std::int64_t> state() const = 0;
  virtual void set_state(const std::vector<std::int64_t>& state) = 0;  // throws on a foreign state
};

}  // namespace kat
