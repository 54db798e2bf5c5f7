#pragma once
// Random-feature maps of the softmax kernel exp(q . k / sqrt(D)) (Choromanski et al. 2021):
//
// `favor+` (positive features, Lemma 1):  with x' = x / D^(1/4),
//     phi(x) = exp(w_i . x' - |x'|^2 / 2) / sqrt(m),  i = 1..m,
// so that E[phi(q) . phi(k)] = exp(q' . k') = exp(q . k / sqrt(D)) exactly, with every feature
// positive: attention normalizers never vanish or change sign.
//
// `favor-trig` (the original trigonometric features, eq. 5 with h(x) = exp(|x|^2 / 2)):
//     phi(x) = exp(|x'|^2 / 2) / sqrt(m) [sin(w_i . x'), cos(w_i . x')],  M = 2m,
// also unbiased, but features of either sign, so normalizers near zero blow the variance up: the
// weakness FAVOR+ was made to remove.
//
// Both stabilize as feature_map.h describes: queries by their own largest exponent, keys by the
// largest over the sequence (per batch item and head), which attention cancels exactly. The
// projections are a buffer (saved in checkpoints) drawn from the map's own generator (also saved),
// and redrawn every redraw_interval training steps.

#include "layers/attention/feature_maps/feature_map.h"
#include "layers/attention/feature_maps/random_projection.h"

namespace kat {

class FavorFeatureMap : public FeatureMap {
 public:
  enum class Kind { positive, trigonometric };
  FavorFeatureMap(Kind kind, const FeatureMapOptions& options, Rng& rng);

  std::int64_t features() const override { return kind_ == Kind::positive ? m_ : 2 * m_; }
  Variable forward(const Variable& x, FeatureRole role, Tensor* key_log_scale = nullptr) override;
  bool non_negative() const override { return kind_ == Kind::positive; }
  void on_train_step(std::int64_t step) override;
  // Stabilized features have no fixed scale: the normalizer epsilon only guards an empty sum.
  double normalizer_eps() const override { return stabilize_ ? 1e-30 : 1e-6; }

  // Draws new projections from the map's generator.
  void redraw();
  const Tensor& projection() const { return projection_; }  // (m, D)
  // Without stabilizers the features are the plain estimator (for tests of unbiasedness).
  void set_stabilize(bool on) { stabilize_ = on; }

 private:
  // The positive features as one fused op (favor.cpp), stabilized as the role needs (the row's
  // own largest exponent for queries, the running one for causal keys, reported in
  // key_log_scale, the largest of the sequence for other keys).
  Variable positive(const Variable& x, double c, double norm, FeatureRole role, Tensor* key_log_scale) const;

  Kind kind_;
  std::int64_t m_, d_;
  bool orthogonal_;
  ProjectionNorms norms_;
  std::int64_t redraw_interval_;
  bool stabilize_ = true;
  Rng rng_;
  Tensor projection_;
};

}  // namespace kat
