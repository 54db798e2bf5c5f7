#pragma once
// The attention-kernel interface. Multi-head attention (layers/multi_head_attention.h) owns the
// Q, K, V and output projections and splits heads; a kernel computes attention from
// (B, H, N, D) queries, (B, H, M, D) keys and (B, H, M, Dv) values under a mask. Softmax,
// linear (Katharopoulos et al. 2020) and Performer (Choromanski et al. 2021) attention are
// kernels; the registry (attention_registry.h) makes one from its options by name.

#include <memory>
#include <vector>

#include "layers/module.h"

namespace kat {

// Which keys each query may see.
struct AttentionMask {
  // Query i of N sees key j of M only when j <= i + (M - N): queries are the last N positions of
  // the key sequence (N == M in training; N == 1 when one step is decoded against a cache).
  bool causal = false;
  // Per batch item, keys [0, length) are real and the rest padding (as fast-transformers'
  // LengthMask). Empty: every key is real. Each length must be in [1, M].
  std::vector<std::int64_t> key_lengths;
};

// Throws naming `where` when key_lengths does not fit a batch of B items and M keys.
void check_mask(const AttentionMask& mask, std::int64_t batch, std::int64_t keys, const std::string& where);

// A float (B, H, M, 1) tensor of ones for real keys and zeros for padded ones (undefined when the
// mask pads nothing): kernels that sum over keys multiply by it.
Tensor key_padding_weights(const AttentionMask& mask, std::int64_t batch, std::int64_t keys, DType dtype);

// Keeps the batch items named by int64 indices, in that order: (B, ...) -> (len(indices), ...).
// Decoding states use it to reorder.
Tensor take_batch(const Tensor& t, const Tensor& indices);
// The same for a contiguous (B, H, C, D) buffer of which only positions [0, used) of dimension 2
// hold data: copies those, into a buffer of the same capacity C (the rest is left unset). The
// copy goes into the first rows of `spare` when it is a contiguous (B', H, C, D) buffer of the same
// dtype with B' >= len(indices) (decoding states keep two buffers and alternate); else into a new
// tensor.
Tensor take_batch_prefix(const Tensor& t, const Tensor& indices, std::int64_t used, const Tensor& spare = Tensor());

// What an attention layer keeps between decoding steps: a KV cache for softmax attention, the
// running (S, z) sums for linear attention. Holds no graph: decoding runs without gradients.
class AttentionState {
 public:
  virtual ~AttentionState() = default;
  // Keeps the batch items named by `indices` (int64, any length), in that order: beam search
  // calls this after choosing which hypotheses continue.
  virtual void reorder(const Tensor& indices) = 0;
  // Positions consumed so far (self-attention) or the fixed key count (cross-attention).
  virtual std::int64_t length() const = 0;
};

class AttentionKernel : public Module {
 public:
  using Module::Module;

  // q (B, H, N, D), k (B, H, M, D), v (B, H, M, Dv) -> (B, H, N, Dv). Queries are already scaled
  // as the kernel expects: the kernel applies its own scaling (1/sqrt(D) for softmax).
  virtual Variable forward(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask) = 0;

  // Causal self-attention one position at a time: start for a batch of B, then step with the
  // new position's q, k, v (B, H, 1, D); returns (B, H, 1, Dv) equal to the full causal forward's
  // output at that position.
  virtual std::unique_ptr<AttentionState> start_self(std::int64_t batch) = 0;
  virtual Tensor step_self(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& state) = 0;

  // Cross-attention against fixed keys and values (the encoder output): start once, then step
  // with each new set of queries (B, H, N, D), N >= 1 (in beam search, the N beams of an item).
  // A reorder of a cross-attention state names items (its batch entries), not query rows.
  virtual std::unique_ptr<AttentionState> start_cross(const Tensor& k, const Tensor& v, const AttentionMask& mask) = 0;
  virtual Tensor step_cross(const Tensor& q, AttentionState& state) = 0;

  // Called by the trainer before each training step (Performer redraws its random features here).
  virtual void on_train_step(std::int64_t /*step*/) {}
};

}  // namespace kat
