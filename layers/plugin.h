#pragma once
// Plugins: a shared library, built against an installed kat (find_package(kat) and
// kat_add_plugin), that registers attention types and feature maps into the stock `kat` command.
// The command loads it from `plugins: [path/to/libmine.so]` in an experiment file or from
// `--plugin PATH`; its maps and types are then validated, trained, saved, resumed, evaluated and
// used for decoding like the built-in ones, and a run folder records the plugins it needs.
//
// The one entry point, in one source file of the plugin:
//
//   #include <kat/layers/plugin.h>
//   void register_my_maps() {
//     kat::register_feature_map("dpfp", info, factory);   // layers/attention/feature_maps/registry.h
//   }
//   KAT_PLUGIN("my-maps", register_my_maps)
//
// KAT_PLUGIN defines the function the loader looks for, stamped with the version of kat and the
// compiler the plugin was built with (the headers' KAT_PLUGIN_ABI): a plugin of another kat, or a
// shared library that is not a plugin, is refused with a message naming it, before any of its code
// runs. (A macro, because the stamp must come from the headers the plugin was compiled against.)

#include <string>
#include <vector>

#include "core/version.h"

namespace kat {

struct PluginEntry {
  const char* abi;          // KAT_PLUGIN_ABI of the headers the plugin was built with
  const char* kat_version;  // KAT_VERSION_STRING of the same
  const char* name;         // the plugin's name, for messages
  void (*register_all)();   // registers its attention types and feature maps
};

// What a loaded plugin is and what it registered.
struct LoadedPlugin {
  std::string path;         // as loaded (absolute)
  std::string fingerprint;  // of the file's bytes (core/os/shared_library.h)
  std::string name;
  std::vector<std::string> attention_types, feature_maps;
};

// Loads the plugin at `path` (made absolute) and runs its registration; loading the same file again
// returns the first load's record. Throws kat::Error naming the file when it is missing, is not a
// shared library, has no KAT_PLUGIN entry point, was built against another kat or compiler, or its
// registration fails (a name registered already, say).
LoadedPlugin load_plugin(const std::string& path);

// The plugins loaded so far, in load order.
std::vector<LoadedPlugin> loaded_plugins();

}  // namespace kat

// The entry point of a plugin: NAME a string, FUNCTION a `void()` that registers its extensions.
#define KAT_PLUGIN(NAME, FUNCTION)                                                                 \
  extern "C" __attribute__((visibility("default"))) const ::kat::PluginEntry* kat_plugin_entry() { \
    static const ::kat::PluginEntry entry{KAT_PLUGIN_ABI, KAT_VERSION_STRING, NAME, FUNCTION};     \
    return &entry;                                                                                 \
  }
