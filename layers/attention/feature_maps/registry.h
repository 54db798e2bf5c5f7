#pragma once
// Feature maps by name: `elu`, `relu`, `favor+`, `favor-trig`, and any a program or a plugin
// registers, each with a descriptor of what validating an experiment needs to know of it.
//
//   class Squared : public kat::FeatureMap { ... };
//   kat::FeatureMapInfo info;
//   info.description = "x^2 elementwise (deterministic)";
//   kat::register_feature_map("squared", info, [](const kat::FeatureMapOptions& o, kat::Rng&) {
//     return std::make_shared<Squared>(o);
//   });
//
// after which `attention: {type: linear, feature_map: squared}` uses it in any model, validated
// like a built-in map.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/attention/feature_maps/feature_map.h"
#include "layers/extension_options.h"

namespace kat {

// The keys of model.attention that feature maps share (the map says which ones it reads).
namespace feature_map_keys {
inline constexpr const char* features = "features";                // the width M
inline constexpr const char* redraw_interval = "redraw_interval";  // redraws its random projection
inline constexpr const char* orthogonal = "orthogonal";
inline constexpr const char* norms = "norms";
inline constexpr const char* feature_eps = "feature_eps";  // added to every feature
}  // namespace feature_map_keys

struct FeatureMapInfo {
  std::string description;  // one line, for kat config --explain
  // Shared keys of model.attention the map reads (feature_map_keys); giving another one is an error.
  std::vector<std::string> uses;
  bool needs_features = false;  // model.attention.features must be > 0
  bool random = false;          // draws random projections (its redraws change the model between steps)
  bool learned = false;         // has parameters that training updates
  // What linear attention adds to its normalizers unless model.attention.eps says otherwise: the
  // FeatureMap::normalizer_eps of the map's instances (1e-30 for maps whose features have no fixed
  // scale, which a larger value would bias).
  double normalizer_eps = 1e-6;
  // Divides its rows by stabilizing factors (FeatureRole; favor+, favor-trig): they cancel inside
  // linear attention, not beside other weights (model.attention.window refuses such a map).
  bool stabilized = false;
  std::vector<OptionSpec> options;  // keys of its own under model.attention
};

using FeatureMapFactory = std::function<std::shared_ptr<FeatureMap>(const FeatureMapOptions&, Rng&)>;

// Adds a map under `name`; an empty name, a name registered twice or an empty factory throws.
void register_feature_map(const std::string& name, FeatureMapInfo info, FeatureMapFactory factory);
// Builds the map named by options.name; an unknown name throws, listing the known ones.
std::shared_ptr<FeatureMap> make_feature_map(const FeatureMapOptions& options, Rng& rng);
std::vector<std::string> feature_map_names();
bool has_feature_map(const std::string& name);
// The descriptor of a registered map; an unknown name throws, listing the known ones.
FeatureMapInfo feature_map_info(const std::string& name);
// "unknown feature map 'x' (known: ...; did you mean ...?)".
std::string unknown_feature_map(const std::string& name);

}  // namespace kat
