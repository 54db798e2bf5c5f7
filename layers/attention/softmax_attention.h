#pragma once
// Softmax attention (Vaswani et al. 2017, eq. 1) as an attention kernel: the fused op of
// softmax_attention_op.h for training, a KV cache for decoding. Time and memory are O(N M) per head.

#include "layers/attention/attention.h"
#include "layers/attention/registry.h"

namespace kat {

class SoftmaxAttention : public AttentionKernel {
 public:
  explicit SoftmaxAttention(const AttentionSetup& setup);

  Variable forward(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask) override;
  std::unique_ptr<AttentionState> start_self(std::int64_t batch) override;
  Tensor step_self(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& state) override;
  std::unique_ptr<AttentionState> start_cross(const Tensor& k, const Tensor& v, const AttentionMask& mask) override;
  Tensor step_cross(const Tensor& q, AttentionState& state) override;

 private:
  AttentionSetup setup_;
  double scale_;
};

}  // namespace kat
