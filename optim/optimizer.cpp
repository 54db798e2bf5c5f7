#include "optim/optimizer.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "autograd/grad_mode.h"

namespace kat {

NamedParameters indexed_parameters(const std::vector<Variable>& params) {
  NamedParameters out;
  out.reserve(params.size());
  for (std::size_t i = 0; i < params.size(); ++i) out.push_back({std::to_string(i), params[i], true});
  return out;
}

bool decays_by_default(const std::string& name, const Shape& shape) {
  if (shape.size() < 2) return false;
  const auto dot = name.rfind('.');
  const std::string last = dot == std::string::npos ? name : name.substr(dot + 1);
  if (last == "bias") return false;
  std::size_t start = 0;
  while (start <= name.size()) {
    const auto end = std::min(name.find('.', start), name.size());
    if (name.substr(start, end - start).find("norm") != std::string::npos) return false;
    start = end + 1;
  }
  return true;
}

NamedParameters decay_groups(const std::vector<std::pair<std::string, Variable>>& named, bool decay_all) {
  NamedParameters out;
  out.reserve(named.size());
  for (const auto& [name, v] : named) out.push_back({name, v, decay_all || decays_by_default(name, v.shape())});
  return out;
}

Optimizer::Optimizer(std::string kind, NamedParameters params, double lr, std::vector<std::string> slot_names)
    : kind_(std::move(kind)),
      params_(std::move(params)),
      lr_(0.0),
      base_lr_(lr),
      slot_names_(std::move(slot_names)),
      slots_(params_.size(), std::vector<Tensor>(slot_names_.size())) {
  set_lr(lr);
  std::set<std::string> seen;
  for (const auto& p : params_) {
    if (!p.var.defined() || !p.var.is_leaf() || !p.var.requires_grad() || !p.var.data().is_contiguous()) {
      throw Error(fmt::format("{}: parameter '{}' is not a contiguous leaf that requires a gradient", kind_, p.name));
    }
    if (!is_floating(p.var.dtype())) {
      throw Error(
          fmt::format("{}: parameter '{}' is {}, not a float tensor", kind_, p.name, dtype_name(p.var.dtype())));
    }
    if (!seen.insert(p.name).second) throw Error(fmt::format("{}: parameter name '{}' given twice", kind_, p.name));
  }
}

void Optimizer::set_lr(double lr) {
  if (!(lr >= 0) || !std::isfinite(lr)) {
    throw Error(fmt::format("{}: learning rate must be finite and non-negative, got {}", kind_, lr));
  }
  lr_ = lr;
}

void Optimizer::step() {
  NoGradGuard no_grad;
  ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i].var;
    if (!p.grad().defined()) continue;
    const Tensor g = p.grad().contiguous();
    update(i, p.data(), g, slots_[i]);
  }
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.var.zero_grad();
}

std::vector<Variable> Optimizer::variables() const {
  std::vector<Variable> out;
  out.reserve(params_.size());
  for (const auto& p : params_) out.push_back(p.var);
  return out;
}

OptimizerState Optimizer::state() const {
  OptimizerState s;
  s.kind = kind_;
  s.steps = steps_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (std::size_t k = 0; k < slot_names_.size(); ++k) {
      if (slots_[i][k].defined()) s.slots[params_[i].name + "." + slot_names_[k]] = slots_[i][k].clone();
    }
  }
  return s;
}

void Optimizer::load_state(const OptimizerState& state) {
  if (state.kind != kind_) {
    throw Error(fmt::format("{}: cannot load the state of a '{}' optimizer", kind_, state.kind));
  }
  if (state.steps < 0) throw Error(fmt::format("{}: negative step count {} in the state", kind_, state.steps));
  std::vector<std::vector<Tensor>> next(params_.size(), std::vector<Tensor>(slot_names_.size()));
  std::set<std::string> used;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& w = params_[i].var.data();
    for (std::size_t k = 0; k < slot_names_.size(); ++k) {
      const std::string key = params_[i].name + "." + slot_names_[k];
      auto it = state.slots.find(key);
      if (it == state.slots.end()) continue;  // not allocated yet: the parameter had no update
      const Tensor& t = it->second;
      if (!t.defined() || t.shape() != w.shape()) {
        throw Error(fmt::format("{}: slot '{}' has shape {} but the parameter has {}", kind_, key,
                                t.defined() ? to_string(t.shape()) : "undefined", to_string(w.shape())));
      }
      if (!is_floating(t.dtype())) throw Error(fmt::format("{}: slot '{}' is not a float tensor", kind_, key));
      next[i][k] = t.to(w.dtype()).clone();
      used.insert(key);
    }
  }
  for (const auto& [key, t] : state.slots) {
    if (!used.count(key)) throw Error(fmt::format("{}: slot '{}' matches no parameter of this optimizer", kind_, key));
  }
  slots_ = std::move(next);
  steps_ = state.steps;
}

}  // namespace kat
