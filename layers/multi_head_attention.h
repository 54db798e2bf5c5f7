#pragma once
// Multi-head attention: Q, K, V and output projections around an attention kernel chosen by name.
// Self-attention reads keys and values from the query sequence, cross-attention from a memory
// (the encoder output).

#include <memory>
#include <vector>

#include "layers/attention/registry.h"
#include "layers/linear.h"

namespace kat {

// Which cross-attention entry each decoding row reads: rows r * group ... (r + 1) * group - 1 form
// group r (beam search: one source item's beams), which reads entry (*items)[r] of a state of
// `entries` entries, or entry r when items is null or empty.
struct CrossRows {
  std::int64_t group = 1;
  std::int64_t entries = 0;
  const std::vector<std::int64_t>* items = nullptr;
};

struct MultiHeadAttentionOptions {
  std::int64_t d_model = 0;
  std::int64_t heads = 0;  // must divide d_model
  bool bias = true;
  bool cross = false;  // cross-attention (keys and values from a memory)
  AttentionOptions attention;
};

class MultiHeadAttention : public Module {
 public:
  // causal: a decoder's self-attention (query i sees keys <= i).
  MultiHeadAttention(const MultiHeadAttentionOptions& options, bool causal, Rng& rng);

  // query (B, N, E); memory (B, M, E) for cross-attention, or undefined for self-attention.
  // mask.key_lengths pads the keys (memory positions for cross-attention); returns (B, N, E).
  Variable forward(const Variable& query, const Variable& memory, const AttentionMask& mask);

  // Incremental decoding (no gradients). Self-attention: start, then step with x (B, 1, E).
  std::unique_ptr<AttentionState> start_self(std::int64_t batch);
  Tensor step_self(const Tensor& x, AttentionState& state);
  // The same step on x (B, E) contiguous float32, without autograd; returns (B, E).
  Tensor step_self_rows(const Tensor& x, AttentionState& state);
  // Cross-attention: project the memory (B, M, E) once, then step with x (groups * group, 1, E)
  // as `rows` says: a group's rows (the beams of one source sentence) reach the kernel as `group`
  // queries of its entry; entries no group reads get zero queries and their outputs are dropped.
  std::unique_ptr<AttentionState> start_cross(const Tensor& memory, const AttentionMask& mask);
  Tensor step_cross(const Tensor& x, AttentionState& state, const CrossRows& rows = {});

  AttentionKernel& kernel() { return *kernel_; }

 private:
  Variable split_heads(const Variable& x) const;  // (B, N, E) -> (B, H, N, D) view
  Variable merge_heads(const Variable& x) const;  // (B, H, N, D) -> (B, N, E)
  void check_input(const Variable& x, const char* what) const;

  MultiHeadAttentionOptions options_;
  std::int64_t head_dim_;
  std::shared_ptr<Linear> q_proj_, k_proj_, v_proj_, o_proj_;
  std::shared_ptr<AttentionKernel> kernel_;
};

}  // namespace kat
