#pragma once
// A list of child modules named by their index: layers.0, layers.1, ...

#include <memory>
#include <string>
#include <vector>

#include "layers/module.h"

namespace kat {

template <typename M>
class ModuleList : public Module {
 public:
  ModuleList() : Module("module_list") {}

  // Constructs the next item; construction errors are located at its index.
  template <typename... Args>
  M& emplace_back(Args&&... args) {
    try {
      items_.push_back(add_module<M>(std::to_string(items_.size()), std::forward<Args>(args)...));
    } catch (const LayerError& e) {
      // add_module located the error under the index; locate it under this list too (its path
      // is relative to whatever module is being built).
      if (path().empty()) throw;
      throw LayerError(path() + "." + e.path(), e.message());
    }
    return *items_.back();
  }
  std::size_t size() const { return items_.size(); }
  M& operator[](std::size_t i) { return *items_.at(i); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace kat
