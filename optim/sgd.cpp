#include "optim/sgd.h"

#include <fmt/format.h>

#include "core/kernels/elementwise.h"

namespace kat {

Sgd::Sgd(NamedParameters params, const SgdOptions& options)
    : Optimizer("sgd", std::move(params), options.lr, {"velocity"}), options_(options) {
  if (!(options.momentum >= 0 && options.momentum < 1)) {
    throw Error(fmt::format("sgd: momentum must be in [0, 1), got {}", options.momentum));
  }
  if (options.nesterov && options.momentum == 0) throw Error("sgd: nesterov needs momentum > 0");
  if (!(options.weight_decay >= 0)) {
    throw Error(fmt::format("sgd: weight_decay must be non-negative, got {}", options.weight_decay));
  }
}

void Sgd::update(std::size_t i, Tensor& w, const Tensor& g, std::vector<Tensor>& slots) {
  Tensor d = g;
  if (options_.weight_decay != 0 && parameters()[i].decay) {
    d = g.clone();
    add_scaled_(d, w, options_.weight_decay);
  }
  if (options_.momentum == 0) {
    add_scaled_(w, d, -lr());
    return;
  }
  Tensor& v = slots[0];
  if (!v.defined()) {
    v = d.clone();
  } else {
    unary(UnaryOp::scale, v, v, options_.momentum);
    add_scaled_(v, d);
  }
  if (options_.nesterov) {
    Tensor u = d.clone();
    add_scaled_(u, v, options_.momentum);
    add_scaled_(w, u, -lr());
  } else {
    add_scaled_(w, v, -lr());
  }
}

}  // namespace kat
