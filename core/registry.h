#pragma once
// A registry of named extensions (attention types, feature maps): for each name, what builds it
// and what validating an experiment needs to know of it (its descriptor). The built-in entries are
// registered the same way a plugin registers its own.

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/names.h"

namespace kat {

template <typename Entry>
class Registry {
 public:
  // `what` names an entry in messages: "attention type", "feature map".
  explicit Registry(std::string what) : what_(std::move(what)) {}

  // Adds `entry` under `name`; an empty name or one registered already throws kat::Error.
  void add(const std::string& name, Entry entry) {
    std::lock_guard lock(mutex_);
    if (name.empty()) throw Error(fmt::format("registering a {}: the name is empty", what_));
    if (!entries_.emplace(name, std::move(entry)).second) {
      throw Error(fmt::format("registering a {}: '{}' is registered already", what_, name));
    }
  }

  // A copy of the entry (the registry may grow while it is used); nullopt for an unknown name.
  std::optional<Entry> find(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(name);
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }

  // The entry, or kat::Error naming the known ones and the closest: "unknown feature map 'fovar+'
  // (known: elu, favor+, favor-trig, relu; did you mean 'favor+'?)".
  Entry get(const std::string& name) const {
    if (auto e = find(name)) return *e;
    throw Error(unknown(name));
  }

  std::string unknown(const std::string& name) const {
    const std::vector<std::string> known = names();
    const std::string near = closest_match(name, known);
    return fmt::format("unknown {} '{}' (known: {}{})", what_, name, fmt::join(known, ", "),
                       near.empty() ? "" : fmt::format("; did you mean '{}'?", near));
  }

  bool contains(const std::string& name) const { return find(name).has_value(); }

  std::vector<std::string> names() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }

 private:
  std::string what_;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

}  // namespace kat
