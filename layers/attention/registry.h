#pragma once
// Attention kernels by name. A model's YAML names its attention (`softmax`, `linear`, `performer`,
// or one a program or a plugin registered); the registry builds the kernel from typed options and
// describes each type to the experiment's validation.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/attention/attention.h"
#include "layers/extension_options.h"

namespace kat {

// Options of every attention kernel; each kernel reads the fields it needs.
struct AttentionOptions {
  std::string type = "softmax";  // softmax | linear | performer | a registered name
  // linear and performer: the feature map's registered name; empty for the type's own (its
  // AttentionInfo::default_feature_map). See layers/attention/feature_maps/registry.h.
  std::string feature_map;
  std::int64_t features = 0;         // random features m (favor+, favor-trig)
  std::int64_t redraw_interval = 0;  // redraw the random features every this many training steps (0: never)
  bool orthogonal = true;            // orthogonal (true) or i.i.d. random projections
  std::string norms = "chi";         // norms of orthogonal projection rows: chi | sqrt_d
  double feature_eps = 1e-6;         // relu: added to the features
  // Linear and performer: added to every attention normalizer; < 0: the feature map's own
  // (FeatureMap::normalizer_eps: 1e-6, or 1e-30 for the stabilized favor+ and favor-trig maps).
  double eps = -1;
  // Linear and performer, causal self-attention: per-head decay gamma_h in (0, 1], one number for
  // every head or one per head (empty: none). Key j's weight for query i is multiplied by
  // gamma_h^(i - j), in the numerator and the normalizer alike, so a head with gamma < 1 attends
  // over roughly the last 1 / (1 - gamma) positions and 1 keeps the whole prefix (the fixed
  // per-head decays of retention, Sun et al. 2023). The recurrent state decays by gamma_h per token.
  std::vector<double> decay;
  // Linear and performer, causal self-attention: the last `window` keys (the query's own among them)
  // get softmax weights exp(q.k / sqrt(D)), the older ones the kernel's phi(q).phi(k) times a learned
  // per-head factor exp(beta_h), both under one normalizer (a sliding window beside linear attention,
  // as LoLCATs, Zhang et al. 2024). With decay, key j's kernel term is also weighted by
  // gamma_h^(i - j - window). Decoding keeps the window's keys and values beside the state. 0: none.
  std::int64_t window = 0;
  // The options the attention type and its feature map declare for themselves (OptionSpec).
  OptionValues extra;
};

// What the surrounding layer fixes: the head width and whether attention is causal.
struct AttentionSetup {
  std::int64_t head_dim = 0;
  bool causal = false;
  std::int64_t heads = 0;  // H; learned feature maps keep weights per head (0: one set shared by all)
  bool cross = false;      // cross-attention: keys from another sequence (decay is refused)
};

// The keys of model.attention that attention types share besides their feature map's.
namespace attention_keys {
inline constexpr const char* feature_map = "feature_map";
inline constexpr const char* eps = "eps";
inline constexpr const char* decay = "decay";
inline constexpr const char* window = "window";
}  // namespace attention_keys

struct AttentionInfo {
  std::string description;  // one line, for kat config --explain
  // The feature map used when model.attention.feature_map is empty; "" when the type takes none
  // (then no feature-map key applies).
  std::string default_feature_map;
  std::vector<std::string> uses;    // shared keys it reads (attention_keys)
  std::vector<OptionSpec> options;  // keys of its own under model.attention
};

using AttentionFactory =
    std::function<std::shared_ptr<AttentionKernel>(const AttentionOptions&, const AttentionSetup&, Rng&)>;

// Adds a kernel under `name`; an empty name, a name registered twice or an empty factory throws.
void register_attention(const std::string& name, AttentionInfo info, AttentionFactory factory);
// Builds the kernel named by options.type; an unknown name throws, listing the known ones.
std::shared_ptr<AttentionKernel> make_attention(const AttentionOptions& options, const AttentionSetup& setup, Rng& rng);
std::vector<std::string> attention_names();
bool has_attention(const std::string& name);
// The descriptor of a registered type; an unknown name throws, listing the known ones.
AttentionInfo attention_info(const std::string& name);
// "unknown attention type 'x' (known: ...; did you mean ...?)".
std::string unknown_attention(const std::string& name);
// The feature map an attention of these options uses: options.feature_map, or the type's own;
// "" for a type that takes none.
std::string effective_feature_map(const std::string& type, const std::string& feature_map);

}  // namespace kat
