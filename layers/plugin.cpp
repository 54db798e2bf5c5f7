#include "layers/plugin.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>

#include "core/error.h"
#include "core/os/shared_library.h"
#include "layers/attention/feature_maps/registry.h"
#include "layers/attention/registry.h"

namespace kat {
namespace {

struct Loaded {
  std::mutex mutex;
  std::vector<LoadedPlugin> plugins;
  std::vector<SharedLibrary> libraries;  // kept open for the life of the process
};

Loaded& loaded() {
  static Loaded l;
  return l;
}

std::vector<std::string> added(const std::vector<std::string>& before, const std::vector<std::string>& after) {
  std::vector<std::string> out;
  for (const auto& name : after) {
    if (std::find(before.begin(), before.end(), name) == before.end()) out.push_back(name);
  }
  return out;
}

}  // namespace

LoadedPlugin load_plugin(const std::string& given) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string path = fs::absolute(given, ec).lexically_normal().string();
  Loaded& l = loaded();
  std::lock_guard lock(l.mutex);
  for (const auto& p : l.plugins) {
    if (p.path == path) return p;
  }
  if (!fs::exists(path, ec)) throw Error(fmt::format("plugin {}: no such file", path));
  if (!fs::is_regular_file(path, ec)) throw Error(fmt::format("plugin {}: not a file", path));
  SharedLibrary library = SharedLibrary::open(path);
  using EntryFunction = const PluginEntry* (*)();
  auto entry_function = reinterpret_cast<EntryFunction>(library.symbol("kat_plugin_entry"));
  if (entry_function == nullptr) {
    throw Error(
        fmt::format("plugin {}: not a kat plugin (it has no kat_plugin_entry; a plugin declares one with "
                    "KAT_PLUGIN in kat/layers/plugin.h)",
                    path));
  }
  const PluginEntry* entry = entry_function();
  if (entry == nullptr || entry->abi == nullptr || entry->kat_version == nullptr || entry->register_all == nullptr) {
    throw Error(fmt::format("plugin {}: its entry point returned an incomplete entry", path));
  }
  if (std::string(entry->abi) != KAT_PLUGIN_ABI) {
    throw Error(
        fmt::format("plugin {}: built against kat {} (interface {}), but this is kat {} (interface {}); "
                    "rebuild the plugin against this kat",
                    path, entry->kat_version, entry->abi, KAT_VERSION_STRING, KAT_PLUGIN_ABI));
  }
  LoadedPlugin record;
  record.path = path;
  record.fingerprint = file_fingerprint(path);
  record.name = entry->name != nullptr ? entry->name : fs::path(path).filename().string();
  const auto types_before = attention_names();
  const auto maps_before = feature_map_names();
  try {
    entry->register_all();
  } catch (const std::exception& e) {
    throw Error(fmt::format("plugin {} ({}): registering its extensions failed: {}", path, record.name, e.what()));
  }
  record.attention_types = added(types_before, attention_names());
  record.feature_maps = added(maps_before, feature_map_names());
  l.libraries.push_back(std::move(library));
  l.plugins.push_back(record);
  return record;
}

std::vector<LoadedPlugin> loaded_plugins() {
  Loaded& l = loaded();
  std::lock_guard lock(l.mutex);
  return l.plugins;
}

}  // namespace kat
