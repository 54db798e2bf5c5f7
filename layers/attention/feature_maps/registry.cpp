#include "layers/attention/feature_maps/registry.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "layers/attention/feature_maps/elu.h"
#include "layers/attention/feature_maps/favor.h"
#include "layers/attention/feature_maps/relu.h"

namespace kat {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, FeatureMapFactory> factories;
};

// Built-in maps are added on first use (self-registering objects in a static library would be
// dropped by the linker).
Registry& registry() {
  static Registry r;
  static std::once_flag once;
  std::call_once(once, [] {
    r.factories["elu"] = [](const FeatureMapOptions& o, Rng&) { return std::make_shared<EluFeatureMap>(o); };
    r.factories["relu"] = [](const FeatureMapOptions& o, Rng&) { return std::make_shared<ReluFeatureMap>(o); };
    r.factories["favor+"] = [](const FeatureMapOptions& o, Rng& rng) {
      return std::make_shared<FavorFeatureMap>(FavorFeatureMap::Kind::positive, o, rng);
    };
    r.factories["favor-trig"] = [](const FeatureMapOptions& o, Rng& rng) {
      return std::make_shared<FavorFeatureMap>(FavorFeatureMap::Kind::trigonometric, o, rng);
    };
  });
  return r;
}

}  // namespace

void register_feature_map(const std::string& name, FeatureMapFactory factory) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (name.empty()) throw Error("register_feature_map: empty name");
  if (!factory) throw Error(fmt::format("register_feature_map: empty factory for '{}'", name));
  if (!r.factories.emplace(name, std::move(factory)).second) {
    throw Error(fmt::format("register_feature_map: '{}' is already registered", name));
  }
}

std::vector<std::string> feature_map_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, f] : r.factories) names.push_back(name);
  return names;
}

bool has_feature_map(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return r.factories.count(name) > 0;
}

std::shared_ptr<FeatureMap> make_feature_map(const FeatureMapOptions& options, Rng& rng) {
  FeatureMapFactory factory;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.factories.find(options.name);
    if (it == r.factories.end()) {
      std::vector<std::string> names;
      for (const auto& [name, f] : r.factories) names.push_back(name);
      throw Error(fmt::format("unknown feature map '{}' (known: {})", options.name, fmt::join(names, ", ")));
    }
    factory = it->second;
  }
  std::shared_ptr<FeatureMap> map = factory(options, rng);
  if (!map) throw Error(fmt::format("feature map '{}': its factory returned nothing", options.name));
  return map;
}

}  // namespace kat
