#include "optim/sgd.h"

#include <fmt/format.h>

#include "autograd/grad_mode.h"
#include "core/kernels/elementwise.h"

namespace kat {

Sgd::Sgd(std::vector<Variable> params, const SgdOptions& options)
    : params_(std::move(params)), velocity_(params_.size()), options_(options) {
  if (!(options.lr >= 0)) throw Error(fmt::format("sgd: lr must be non-negative, got {}", options.lr));
  if (!(options.momentum >= 0 && options.momentum < 1)) {
    throw Error(fmt::format("sgd: momentum must be in [0, 1), got {}", options.momentum));
  }
  if (options.nesterov && options.momentum == 0) throw Error("sgd: nesterov needs momentum > 0");
  if (!(options.weight_decay >= 0)) {
    throw Error(fmt::format("sgd: weight_decay must be non-negative, got {}", options.weight_decay));
  }
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].defined() || !params_[i].is_leaf() || !params_[i].requires_grad()) {
      throw Error(fmt::format("sgd: parameter {} is not a leaf that requires a gradient", i));
    }
  }
}

void Sgd::step() {
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Variable& p = params_[i];
    if (!p.grad().defined()) continue;
    Tensor& w = p.data();
    Tensor update = p.grad();
    if (options_.weight_decay != 0) {
      update = update.clone();
      add_scaled_(update, w, options_.weight_decay);
    }
    if (options_.momentum != 0) {
      Tensor& v = velocity_[i];
      if (!v.defined()) {
        v = update.clone();
      } else {
        unary(UnaryOp::scale, v, v, options_.momentum);
        add_scaled_(v, update);
      }
      if (options_.nesterov) {
        update = update.clone();
        add_scaled_(update, v, options_.momentum);
      } else {
        update = v;
      }
    }
    add_scaled_(w, update, -options_.lr);
  }
}

void Sgd::zero_grad() {
  for (Variable& p : params_) p.zero_grad();
}

}  // namespace kat
