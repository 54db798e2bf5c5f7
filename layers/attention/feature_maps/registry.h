#pragma once
// Feature maps by name: `elu`, `relu`, `favor+`, `favor-trig`, and any a user registers.
//
//   class Squared : public kat::FeatureMap { ... };
//   kat::register_feature_map("squared", [](const kat::FeatureMapOptions& o, kat::Rng&) {
//     return std::make_shared<Squared>(o);
//   });
//
// after which `attention: {type: linear, feature_map: squared}` uses it in any model.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "layers/attention/feature_maps/feature_map.h"

namespace kat {

using FeatureMapFactory = std::function<std::shared_ptr<FeatureMap>(const FeatureMapOptions&, Rng&)>;

// Adds a map under `name`; a name registered twice throws.
void register_feature_map(const std::string& name, FeatureMapFactory factory);
// Builds the map named by options.name; an unknown name throws, listing the known ones.
std::shared_ptr<FeatureMap> make_feature_map(const FeatureMapOptions& options, Rng& rng);
std::vector<std::string> feature_map_names();
bool has_feature_map(const std::string& name);

}  // namespace kat
