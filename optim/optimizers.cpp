#include "optim/optimizers.h"

#include <mutex>

#include "core/registry.h"
#include "optim/adam.h"
#include "optim/sgd.h"

namespace kat {
namespace {

// The built-ins are added on first use, through the same call a program makes.
Registry<OptimizerFactory>& registry() {
  static Registry<OptimizerFactory> r("optimizer");
  static std::once_flag once;
  std::call_once(once, [] {
    r.add("sgd", [](NamedParameters p, const OptimizerOptions& o) {
      return std::make_unique<Sgd>(std::move(p), SgdOptions{o.lr, o.momentum, o.nesterov, o.weight_decay});
    });
    r.add("adam", [](NamedParameters p, const OptimizerOptions& o) {
      return std::make_unique<Adam>(std::move(p), AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, false});
    });
    r.add("adamw", [](NamedParameters p, const OptimizerOptions& o) {
      return std::make_unique<AdamW>(std::move(p), AdamOptions{o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, false});
    });
  });
  return r;
}

}  // namespace

void register_optimizer(const std::string& name, OptimizerFactory factory) { registry().add(name, std::move(factory)); }

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, NamedParameters params) {
  return registry().get(options.type)(std::move(params), options);
}

std::vector<std::string> optimizer_names() { return registry().names(); }

}  // namespace kat
