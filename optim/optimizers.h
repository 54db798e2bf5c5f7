#pragma once
// Optimizers by name, built from the `optim` section of an experiment: sgd, adam, adamw, and any a
// program or a plugin registers. Adding an optimizer is its class in optim/ and one registration.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "optim/optimizer.h"

namespace kat {

// What an experiment's `optim` section says; each optimizer reads the fields it needs.
struct OptimizerOptions {
  std::string type = "adamw";  // a registered name
  double lr = 1e-3;            // the peak rate: schedules scale it (optim/schedule.h)
  double momentum = 0.0;       // sgd
  bool nesterov = false;       // sgd
  double beta1 = 0.9;          // adam, adamw
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decay_all = false;  // decay biases and norm gains too (decay_groups)
};

using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(NamedParameters, const OptimizerOptions&)>;

// Adds an optimizer under `name`; an empty name or one registered already throws kat::Error.
void register_optimizer(const std::string& name, OptimizerFactory factory);
// The optimizer options.type names over `params`; an unknown name throws, listing the known ones.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, NamedParameters params);
std::vector<std::string> optimizer_names();

}  // namespace kat
