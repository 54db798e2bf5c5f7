#include "layers/attention/registry.h"

#include <fmt/format.h>

#include <map>
#include <mutex>

#include "layers/attention/linear_attention.h"
#include "layers/attention/softmax_attention.h"

namespace kat {
namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, AttentionFactory> factories;
};

// Built-in kernels are added on first use: self-registering objects in a static library would be
// dropped by the linker.
Registry& registry() {
  static Registry r;
  static std::once_flag once;
  std::call_once(once, [] {
    r.factories["softmax"] = [](const AttentionOptions&, const AttentionSetup& setup, Rng&) {
      return std::make_shared<SoftmaxAttention>(setup);
    };
    r.factories["linear"] = [](const AttentionOptions& o, const AttentionSetup& setup, Rng& rng) {
      return std::make_shared<LinearAttention>(o, setup, "elu", rng);
    };
    r.factories["performer"] = [](const AttentionOptions& o, const AttentionSetup& setup, Rng& rng) {
      return std::make_shared<LinearAttention>(o, setup, "favor+", rng);
    };
  });
  return r;
}

}  // namespace

void register_attention(const std::string& name, AttentionFactory factory) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  if (name.empty()) throw Error("register_attention: empty name");
  if (!r.factories.emplace(name, std::move(factory)).second) {
    throw Error(fmt::format("register_attention: '{}' is already registered", name));
  }
}

std::vector<std::string> attention_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [name, f] : r.factories) names.push_back(name);
  return names;
}

std::shared_ptr<AttentionKernel> make_attention(const AttentionOptions& options, const AttentionSetup& setup,
                                                Rng& rng) {
  AttentionFactory factory;
  {
    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    auto it = r.factories.find(options.type);
    if (it == r.factories.end()) {
      std::vector<std::string> names;
      for (const auto& [name, f] : r.factories) names.push_back(name);
      throw Error(fmt::format("unknown attention type '{}' (known: {})", options.type, fmt::join(names, ", ")));
    }
    factory = it->second;
  }
  return factory(options, setup, rng);
}

}  // namespace kat
