#include "layers/module.h"

#include <fmt/format.h>

#include <set>

namespace kat {

Module::Module(std::string kind) : kind_(std::move(kind)) {}

std::string Module::join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "." + b;
}

void Module::fail(const std::string& message) const { throw LayerError(path_, message, kind_); }

void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos) {
    fail(fmt::format("invalid member name '{}' (non-empty, no dots)", name));
  }
  auto taken = [&](const auto& list) {
    for (const auto& [n, _] : list) {
      if (n == name) return true;
    }
    return false;
  };
  if (taken(params_) || taken(buffers_) || taken(rngs_) || taken(children_)) {
    fail(fmt::format("member name '{}' registered twice", name));
  }
}

Variable Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  Variable v(std::move(value), true);
  params_.emplace_back(name, v);
  return v;
}

void Module::register_buffer(const std::string& name, Tensor* buffer) {
  check_new_name(name);
  buffers_.emplace_back(name, buffer);
}

void Module::register_rng(const std::string& name, Rng* rng) {
  check_new_name(name);
  rngs_.emplace_back(name, rng);
}

void Module::attach_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name);
  if (!child) fail(fmt::format("child '{}' is null", name));
  child->set_path(join(path_, name));
  child->train(training_);
  children_.emplace_back(name, std::move(child));
}

void Module::set_path(const std::string& path) {
  path_ = path;
  for (auto& [name, child] : children_) child->set_path(join(path_, name));
}

std::vector<std::pair<std::string, Variable>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Variable>> out;
  for (const auto& [name, p] : params_) out.emplace_back(join(path_, name), p);
  for (const auto& [name, child] : children_) {
    for (auto& entry : child->named_parameters()) out.push_back(std::move(entry));
  }
  return out;
}

std::vector<Variable> Module::parameters() const {
  std::vector<Variable> out;
  for (auto& [name, p] : named_parameters()) out.push_back(p);
  return out;
}

std::int64_t Module::parameter_count() const {
  std::int64_t n = 0;
  for (const auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

std::vector<std::pair<std::string, Tensor*>> Module::buffer_slots() const {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (const auto& [name, b] : buffers_) out.emplace_back(join(path_, name), b);
  for (const auto& [name, child] : children_) {
    for (auto& entry : child->buffer_slots()) out.push_back(std::move(entry));
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& [name, slot] : buffer_slots()) out.emplace_back(name, *slot);
  return out;
}

std::vector<std::pair<std::string, Rng*>> Module::named_rngs() {
  std::vector<std::pair<std::string, Rng*>> out;
  for (auto& [name, r] : rngs_) out.emplace_back(join(path_, name), r);
  for (auto& [name, child] : children_) {
    for (auto& entry : child->named_rngs()) out.push_back(std::move(entry));
  }
  return out;
}

void Module::visit(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [name, child] : children_) child->visit(fn);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::zero_grad() {
  for (auto& [name, p] : named_parameters()) p.zero_grad();
}

void Module::to(DType dtype) {
  for (auto& [name, p] : named_parameters()) {
    p.data() = p.data().to(dtype);
    p.zero_grad();
  }
  for (auto& [name, slot] : buffer_slots()) {
    if (is_floating(slot->dtype())) *slot = slot->to(dtype);
  }
}

std::map<std::string, Tensor> Module::state_dict() {
  std::map<std::string, Tensor> out;
  for (auto& [name, p] : named_parameters()) out[name] = p.data();
  for (auto& [name, b] : named_buffers()) out[name] = b;
  for (auto& [name, r] : named_rngs()) {
    const Rng::State s = r->state();
    out[name] = Tensor::from_vector<std::int64_t>({static_cast<std::int64_t>(s[0]), static_cast<std::int64_t>(s[1]),
                                                   static_cast<std::int64_t>(s[2]), static_cast<std::int64_t>(s[3])});
  }
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state) {
  // Check everything before changing anything, so a bad state leaves the model as it was.
  std::set<std::string> used;
  auto lookup = [&](const std::string& name, const Shape& shape) -> const Tensor& {
    auto it = state.find(name);
    if (it == state.end()) throw LayerError(name, "missing from the state being loaded");
    if (!it->second.defined() || it->second.shape() != shape) {
      throw LayerError(
          name, fmt::format("shape {} in the state being loaded, but the model has {}",
                            it->second.defined() ? to_string(it->second.shape()) : "undefined", to_string(shape)));
    }
    used.insert(name);
    return it->second;
  };
  const auto params = named_parameters();
  const auto buffers = buffer_slots();
  const auto rngs = named_rngs();
  for (const auto& [name, p] : params) lookup(name, p.shape());
  for (const auto& [name, slot] : buffers) lookup(name, slot->shape());
  for (const auto& [name, r] : rngs) {
    const auto& t = lookup(name, {4});
    if (t.dtype() != DType::i64) throw LayerError(name, "a generator state must be int64");
  }
  for (const auto& [name, t] : state) {
    if (!used.count(name)) throw LayerError(name, "in the state being loaded but not in the model");
  }

  for (auto [name, p] : params) p.data().copy_(state.at(name));
  // Buffers are replaced by copies, not written through: a buffer may be a view another tensor shares.
  for (const auto& [name, slot] : buffers) *slot = state.at(name).to(slot->dtype()).clone();
  for (const auto& [name, r] : rngs) {
    const auto w = state.at(name).to_vector<std::int64_t>();
    r->set_state({static_cast<std::uint64_t>(w[0]), static_cast<std::uint64_t>(w[1]), static_cast<std::uint64_t>(w[2]),
                  static_cast<std::uint64_t>(w[3])});
  }
}

}  // namespace kat
