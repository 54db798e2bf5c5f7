#pragma once
// Attention kernels by name. A model's YAML names its attention (`softmax`, `linear`,
// `performer`, or one a user registered); the registry builds the kernel from typed options.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/attention/attention.h"

namespace kat {

// Options of every attention kernel; each kernel reads the fields it needs.
struct AttentionOptions {
  std::string type = "softmax";  // softmax | linear | performer | a registered name
  // linear and performer: the feature map's registered name; empty for the type's own (linear: elu,
  // performer: favor+). See layers/attention/feature_maps/registry.h.
  std::string feature_map;
  std::int64_t features = 0;         // random features m (favor+, favor-trig)
  std::int64_t redraw_interval = 0;  // redraw the random features every this many training steps (0: never)
  bool orthogonal = true;            // orthogonal (true) or i.i.d. random projections
  std::string norms = "chi";         // norms of orthogonal projection rows: chi | sqrt_d
  double feature_eps = 1e-6;         // relu: added to the features
  // Linear and performer: added to every attention normalizer; < 0: the feature map's own
  // (FeatureMap::normalizer_eps: 1e-6, or 1e-30 for the stabilized favor+ and favor-trig maps).
  double eps = -1;
};

// What the surrounding layer fixes: the head width and whether attention is causal.
struct AttentionSetup {
  std::int64_t head_dim = 0;
  bool causal = false;
};

using AttentionFactory =
    std::function<std::shared_ptr<AttentionKernel>(const AttentionOptions&, const AttentionSetup&, Rng&)>;

// Adds a kernel under `name`; a name registered twice throws.
void register_attention(const std::string& name, AttentionFactory factory);
// Builds the kernel named by options.type; an unknown name throws, listing the known ones.
std::shared_ptr<AttentionKernel> make_attention(const AttentionOptions& options, const AttentionSetup& setup, Rng& rng);
std::vector<std::string> attention_names();

}  // namespace kat
