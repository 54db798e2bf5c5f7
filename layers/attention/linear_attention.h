#pragma once
// Linear attention (Katharopoulos et al. 2020) over any registered feature map; with the FAVOR+
// map it is the Performer (Choromanski et al. 2021).
//
// Non-causal:  V'_i = phi(Q_i)^T (sum_j phi(K_j) V_j^T) / (phi(Q_i) . sum_j phi(K_j) + eps),
//   computed right to left by associativity: O(N M Dv) time, O(M Dv) per head for the sums.
// Causal: the fused op of causal_linear_op.h (running sums, linear-memory backward).
// Padded keys get zero features, so they add nothing to either sum.
// Decoding: the state is (S, z), the sums so far: one token costs O(M Dv) per head whatever its
// position (the paper's Section 3.4, "Transformers are RNNs").
// Decay (AttentionOptions::decay, self-attention only): key j's term for query i is weighted by
// gamma_h^(i - j) in both sums, S_i = gamma_h S_{i-1} + phi(K_i) V_i^T and z likewise; the causal
// op takes it as the key log-scale C_j += j (-log gamma_h), and decoding as the state's decay.
// Non-causal self-attention (an encoder's) weighs by gamma_h^|i - j|, from a sweep each way
// (bidirectional_decay.h).
// Window (AttentionOptions::window = W, causal self-attention): query i weighs keys i - W < j <= i
// by exp(q_i . k_j / sqrt(D)) and older keys by exp(beta_h) phi(q_i).phi(k_j) (times
// gamma_h^(i - j - W) under decay), beta_h a learned parameter (`window_scale`, initially 0), all
// over one normalizer. The window part runs in chunks of W queries against 2W keys (O(N W) memory),
// the kernel part through the causal op over keys shifted W rows later, and both are divided by a
// common exp(t_i) (t_i the larger of the two parts' log sizes, a constant the output does not depend
// on) so that nothing overflows. Decoding keeps the last W keys, their values and features beside
// the sums of the older keys: O(W D + M Dv) per head whatever the position.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layers/attention/attention.h"
#include "layers/attention/feature_maps/feature_map.h"
#include "layers/attention/registry.h"

namespace kat {

class LinearAttention : public AttentionKernel {
 public:
  // default_map: the feature map when options.feature_map is empty (the attention type's own,
  // AttentionInfo::default_feature_map).
  LinearAttention(const AttentionOptions& options, const AttentionSetup& setup, const std::string& default_map,
                  Rng& rng);

  Variable forward(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask) override;
  std::unique_ptr<AttentionState> start_self(std::int64_t batch) override;
  Tensor step_self(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& state) override;
  std::unique_ptr<AttentionState> start_cross(const Tensor& k, const Tensor& v, const AttentionMask& mask) override;
  Tensor step_cross(const Tensor& q, AttentionState& state) override;
  void on_train_step(std::int64_t step) override { feature_map_->on_train_step(step); }

  FeatureMap& feature_map() { return *feature_map_; }
  // What attention distillation trains: the feature map's weights and, with a window, window_scale;
  // each with its path in the model.
  std::vector<std::pair<std::string, Variable>> distilled_parameters();

  // Attention distillation (train.distill_attention; docs/convert.md). While it is on, forward
  // returns softmax attention of the same q, k and v (scale 1/sqrt(D), no gradient): the output of
  // the softmax model the weights came from, so every layer sees the inputs it saw there. It also
  // keeps how far this kernel's attention weights are from the softmax ones, the mean over queries of
  //   KL(P_i || A_i) = sum_j P_ij (log P_ij - log A_ij),  A_ij = phi(q_i).phi(k_j) / sum_j' phi(q_i).phi(k_j'),
  // (with decay, each phi(q_i).phi(k_j) times gamma_h^(i - j), or gamma_h^|i - j| when not causal),
  // over the keys each query sees: Hedgehog's cross-entropy loss (Zhang et al. 2024)
  // less P's entropy, so 0 is exact mimicry. q and k are detached: the gradient reaches the feature
  // map's weights alone.
  void set_distillation(bool on) { distilling_ = on; }
  bool distilling() const { return distilling_; }
  // L of the last forward in distillation mode (undefined before one).
  const Variable& distillation_loss() const { return distillation_loss_; }
  // The epsilon added to every normalizer: options.eps, or the feature map's own when that is < 0.
  double eps() const;

 private:
  AttentionSetup setup_;
  double eps_;  // as given; < 0: the feature map's
  // -log(gamma) for every head (one entry) or per head (options.decay); empty when no head decays.
  std::vector<double> decay_rate_;
  std::shared_ptr<FeatureMap> feature_map_;
  std::int64_t window_ = 0;
  Variable window_scale_;  // beta_h, (H) or (1) (window_ > 0)
  bool distilling_ = false;
  Variable distillation_loss_;

  // -log(gamma) of head `head` of `heads` (throws when the decays were given for another count).
  double decay_rate(std::int64_t head, std::int64_t heads) const;
  // The causal op's key log-scale: the feature map's stabilizer c (or undefined) plus each head's
  // decay; c itself when no head decays.
  Tensor decay_log_scale(const Tensor& c, std::int64_t batch, std::int64_t heads, std::int64_t n, DType dtype) const;
  // gamma_h of each of `heads` heads (1 for every head when none decays).
  std::vector<double> gammas(std::int64_t heads) const;
  // gamma_h as (batch, heads), or undefined when no head decays.
  Tensor decay_factors(std::int64_t batch, std::int64_t heads, DType dtype) const;
  // Causal self-attention with the window (the class comment); phi_q, phi_k unstabilized.
  Variable window_forward(const Variable& q, const Variable& k, const Variable& v, const Variable& phi_q,
                          const Variable& phi_k);
  // beta as (1, H, 1, 1) (or (1, 1, 1, 1) when shared).
  Variable window_scale_4d() const;
  Tensor window_step(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& state);
  Variable distill_forward(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& mask,
                           bool causal);
};

}  // namespace kat
