#include "layers/attention/feature_maps/registry.h"

#include <fmt/format.h>

#include <mutex>

#include "core/registry.h"
#include "layers/attention/feature_maps/elu.h"
#include "layers/attention/feature_maps/favor.h"
#include "layers/attention/feature_maps/learned.h"
#include "layers/attention/feature_maps/relu.h"

namespace kat {
namespace {

struct Entry {
  FeatureMapInfo info;
  FeatureMapFactory factory;
};

FeatureMapInfo random_map(std::string description) {
  namespace k = feature_map_keys;
  FeatureMapInfo info;
  info.description = std::move(description);
  info.uses = {k::features, k::redraw_interval, k::orthogonal, k::norms};
  info.needs_features = true;
  info.random = true;
  info.normalizer_eps = 1e-30;
  info.stabilized = true;
  return info;
}

FeatureMapInfo learned_map(std::string description, bool uses_eps) {
  FeatureMapInfo info;
  info.description = std::move(description);
  info.uses = {feature_map_keys::features};
  if (uses_eps) info.uses.push_back(feature_map_keys::feature_eps);
  info.learned = true;
  return info;
}

FeatureMapFactory learned_factory(LearnedFeatureMap::Kind kind) {
  return [kind](const FeatureMapOptions& o, Rng& rng) { return std::make_shared<LearnedFeatureMap>(kind, o, rng); };
}

// The built-in maps are added on first use, through the same call a plugin makes (objects that
// register themselves from a library would be dropped by the linker).
Registry<Entry>& registry() {
  static Registry<Entry> r("feature map");
  static std::once_flag once;
  std::call_once(once, [] {
    FeatureMapInfo elu;
    elu.description = "elu(x) + 1 (Katharopoulos et al. 2020): deterministic, M = D";
    r.add("elu", {elu, [](const FeatureMapOptions& o, Rng&) { return std::make_shared<EluFeatureMap>(o); }});
    FeatureMapInfo relu;
    relu.description = "relu(x) + feature_eps: deterministic, M = D";
    relu.uses = {feature_map_keys::feature_eps};
    r.add("relu", {relu, [](const FeatureMapOptions& o, Rng&) { return std::make_shared<ReluFeatureMap>(o); }});
    r.add("favor+", {random_map("positive orthogonal random features of the softmax kernel (FAVOR+, Choromanski "
                                "et al. 2021): M random features, redrawn every redraw_interval steps"),
                     [](const FeatureMapOptions& o, Rng& rng) {
                       return std::make_shared<FavorFeatureMap>(FavorFeatureMap::Kind::positive, o, rng);
                     }});
    r.add("favor-trig", {random_map("trigonometric random features of the softmax kernel (sin and cos; may be "
                                    "negative): M random features"),
                         [](const FeatureMapOptions& o, Rng& rng) {
                           return std::make_shared<FavorFeatureMap>(FavorFeatureMap::Kind::trigonometric, o, rng);
                         }});
    r.add("t2r", {learned_map("relu(x W + b) learned per head (T2R, Kasai et al. 2021): M features (default 2 D, "
                              "starting as [relu(x), relu(-x)]) + feature_eps",
                              true),
                  learned_factory(LearnedFeatureMap::Kind::t2r)});
    r.add("hedgehog", {learned_map("[softmax(x W + b), softmax(-(x W + b))] learned per head (Hedgehog, Zhang et al. "
                                   "2024): M features (default 2 D, W starting as the identity), in (0, 1)",
                                   false),
                       learned_factory(LearnedFeatureMap::Kind::hedgehog)});
  });
  return r;
}

}  // namespace

void register_feature_map(const std::string& name, FeatureMapInfo info, FeatureMapFactory factory) {
  if (!factory) throw Error(fmt::format("registering a feature map: '{}' has no factory", name));
  registry().add(name, {std::move(info), std::move(factory)});
}

std::vector<std::string> feature_map_names() { return registry().names(); }

bool has_feature_map(const std::string& name) { return registry().contains(name); }

FeatureMapInfo feature_map_info(const std::string& name) { return registry().get(name).info; }

std::string unknown_feature_map(const std::string& name) { return registry().unknown(name); }

std::shared_ptr<FeatureMap> make_feature_map(const FeatureMapOptions& options, Rng& rng) {
  const Entry entry = registry().get(options.name);
  std::shared_ptr<FeatureMap> map = entry.factory(options, rng);
  if (!map) throw Error(fmt::format("feature map '{}': its factory returned nothing", options.name));
  return map;
}

}  // namespace kat
