#include "layers/attention/registry.h"

#include <fmt/format.h>

#include <mutex>

#include "core/registry.h"
#include "layers/attention/linear_attention.h"
#include "layers/attention/softmax_attention.h"

namespace kat {
namespace {

struct Entry {
  AttentionInfo info;
  AttentionFactory factory;
};

AttentionInfo kernelized(std::string description, std::string map) {
  AttentionInfo info;
  info.description = std::move(description);
  info.default_feature_map = std::move(map);
  info.uses = {attention_keys::feature_map, attention_keys::eps, attention_keys::decay, attention_keys::window};
  return info;
}

// The built-in kernels are added on first use, through the same call a plugin makes (objects that
// register themselves from a library would be dropped by the linker).
Registry<Entry>& registry() {
  static Registry<Entry> r("attention type");
  static std::once_flag once;
  std::call_once(once, [] {
    AttentionInfo softmax;
    softmax.description = "softmax(Q K^T / sqrt(d)) V (Vaswani et al. 2017): quadratic in the sequence length";
    r.add("softmax", {softmax, [](const AttentionOptions&, const AttentionSetup& setup, Rng&) {
                        return std::make_shared<SoftmaxAttention>(setup);
                      }});
    const auto linear = [](const AttentionOptions& o, const AttentionSetup& setup, Rng& rng) {
      return std::make_shared<LinearAttention>(o, setup, attention_info(o.type).default_feature_map, rng);
    };
    r.add("linear", {kernelized("phi(Q) (phi(K)^T V) (Katharopoulos et al. 2020): linear in the sequence length, "
                                "a recurrent state when decoding",
                                "elu"),
                     linear});
    r.add("performer", {kernelized("linear attention over random features of the softmax kernel (Choromanski et "
                                   "al. 2021)",
                                   "favor+"),
                        linear});
  });
  return r;
}

}  // namespace

void register_attention(const std::string& name, AttentionInfo info, AttentionFactory factory) {
  if (!factory) throw Error(fmt::format("registering an attention type: '{}' has no factory", name));
  registry().add(name, {std::move(info), std::move(factory)});
}

std::vector<std::string> attention_names() { return registry().names(); }

bool has_attention(const std::string& name) { return registry().contains(name); }

AttentionInfo attention_info(const std::string& name) { return registry().get(name).info; }

std::string unknown_attention(const std::string& name) { return registry().unknown(name); }

std::string effective_feature_map(const std::string& type, const std::string& feature_map) {
  const AttentionInfo info = attention_info(type);
  if (info.default_feature_map.empty()) return "";
  return feature_map.empty() ? info.default_feature_map : feature_map;
}

std::shared_ptr<AttentionKernel> make_attention(const AttentionOptions& options, const AttentionSetup& setup,
                                                Rng& rng) {
  const Entry entry = registry().get(options.type);
  std::shared_ptr<AttentionKernel> kernel = entry.factory(options, setup, rng);
  if (!kernel) throw Error(fmt::format("attention type '{}': its factory returned nothing", options.type));
  return kernel;
}

}  // namespace kat
