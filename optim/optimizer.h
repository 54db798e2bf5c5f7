#pragma once
// The optimizer interface (after flashlight's FirstOrderOptimizer): an optimizer owns named
// parameters and their per-parameter state ("slots": SGD's velocity, Adam's two moments), updates
// the parameters from their gradients in step(), and exports and imports its state for checkpoints.
// Learning-rate schedules (optim/schedule.h) and clipping (optim/clip.h) are separate.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"

namespace kat {

// One trained parameter: its path in the model, the variable, and whether weight decay applies.
struct NamedParameter {
  std::string name;
  Variable var;
  bool decay = true;
};
using NamedParameters = std::vector<NamedParameter>;

// Parameters named by their index ("0", "1", ...), all decayed: for code that holds a bare list.
NamedParameters indexed_parameters(const std::vector<Variable>& params);

// The default weight-decay rule: biases and normalization gains are not decayed. A parameter is
// exempt when its rank is below 2 (biases, layer-norm weights) or its name ends in ".bias" or has a
// component containing "norm" (decoder.layers.0.norm1.weight).
bool decays_by_default(const std::string& name, const Shape& shape);

// A module's named_parameters() with the default rule applied, or every parameter decayed when
// decay_all is true.
NamedParameters decay_groups(const std::vector<std::pair<std::string, Variable>>& named, bool decay_all = false);

// Everything an optimizer needs to continue exactly: its kind, the updates taken, and each
// allocated slot under "<parameter name>.<slot name>" (decoder.layers.0.ffn.fc1.weight.exp_avg).
struct OptimizerState {
  std::string kind;
  std::int64_t steps = 0;
  std::map<std::string, Tensor> slots;
};

class Optimizer {
 public:
  // kind names the optimizer in errors and checkpoints; slot_names its per-parameter tensors.
  Optimizer(std::string kind, NamedParameters params, double lr, std::vector<std::string> slot_names);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient (parameters without one are skipped and
  // their slots left as they are).
  void step();
  void zero_grad();

  const std::string& kind() const { return kind_; }
  double lr() const { return lr_; }  // the current rate
  void set_lr(double lr);
  double base_lr() const { return base_lr_; }  // the rate it was built with (a schedule's peak)
  std::int64_t steps() const { return steps_; }
  const NamedParameters& parameters() const { return params_; }
  std::vector<Variable> variables() const;

  // Copies of the slots (allocated ones only) and the step count.
  OptimizerState state() const;
  // Restores a state exported by an optimizer of the same kind over parameters of the same names
  // and shapes. Checks everything first: a bad state throws (naming the slot) and changes nothing.
  void load_state(const OptimizerState& state);

 protected:
  // Updates parameter i (data w, gradient g, both contiguous) with its slots, which are undefined
  // until the subclass allocates them. steps() already counts this update.
  virtual void update(std::size_t i, Tensor& w, const Tensor& g, std::vector<Tensor>& slots) = 0;

 private:
  std::string kind_;
  NamedParameters params_;
  double lr_;
  double base_lr_;
  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> slots_;  // [parameter][slot]
  std::int64_t steps_ = 0;
};

}  // namespace kat
