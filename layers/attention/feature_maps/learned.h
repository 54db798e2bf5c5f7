#pragma once
// Feature maps with weights that training updates, for turning a trained softmax model into a
// linear-attention one (kat convert; docs/convert.md). Each keeps one set of weights per head
// (FeatureMapOptions::heads; one shared set when it is 0), M features per head.
//
//   t2r       phi(x) = relu(x W + b)                      (Kasai et al. 2021, "Finetuning Pretrained
//             Transformers into RNNs": a single-layer MLP with relu)
//   hedgehog  phi(x) = [softmax(x W + b), softmax(-(x W + b))]   (Zhang et al. 2024, "The Hedgehog &
//             the Porcupine": softmax over the M/2 outputs of a linear layer, both signs)
//
// Both start identity-like, so that a model converted from softmax attention computes something
// sensible before any fine-tuning: W's first D columns are the identity (t2r: and the next D the
// negated identity, giving [relu(x), relu(-x)] at M = 2D, the default), columns past those are
// drawn from N(0, 1/D), and b = 0. Every feature of both is >= 0 (hedgehog's are in (0, 1)), so
// neither needs a stabilizer.

#include "layers/attention/feature_maps/feature_map.h"

namespace kat {

class LearnedFeatureMap : public FeatureMap {
 public:
  enum class Kind { t2r, hedgehog };
  LearnedFeatureMap(Kind kind, const FeatureMapOptions& options, Rng& rng);

  std::int64_t features() const override { return features_; }
  Variable forward(const Variable& x, FeatureRole role, Tensor* key_log_scale = nullptr) override;

  // The projection's outputs per head: M for t2r, M / 2 for hedgehog.
  std::int64_t outputs() const { return kind_ == Kind::t2r ? features_ : features_ / 2; }

 private:
  Kind kind_;
  std::int64_t head_dim_, heads_, features_;
  double eps_;
  Variable weight_;  // (H, D, outputs)
  Variable bias_;    // (H, 1, outputs)
};

}  // namespace kat
