#include "autograd/variable.h"

#include <fmt/format.h>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "core/kernels/elementwise.h"

namespace kat {

struct VariableImpl {
  Tensor data;
  Tensor grad;
  bool requires_grad = false;
  std::shared_ptr<Node> grad_fn;     // set for outputs of recorded ops
  std::weak_ptr<Node> accumulator;   // leaves: the node that adds incoming gradients into `grad`
  std::function<void()> grad_ready;  // leaves: called once a backward's gradient is in `grad`
};

namespace {

thread_local bool t_grad_enabled = true;

// The node at the end of every path into a leaf: adds the gradient into the leaf's `grad`.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<VariableImpl> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "accumulate_grad"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    auto leaf = leaf_.lock();
    if (!leaf) return {};
    if (!leaf->grad.defined()) {
      // Take the tensor when nothing else can see it; otherwise copy, so that later in-place
      // accumulation never writes into another tensor's storage.
      const bool sole_owner = g.storage().use_count() == 1 && g.is_contiguous() && g.offset() == 0;
      leaf->grad = sole_owner ? g : g.clone();
    } else {
      add_scaled_(leaf->grad, g);
    }
    // The engine runs this node once per backward, after every consumer of the leaf delivered.
    if (leaf->grad_ready) leaf->grad_ready();
    return {};
  }

 private:
  std::weak_ptr<VariableImpl> leaf_;
};

}  // namespace

struct GraphBuilder {
  static void link(Node& node, const VariableRefs& inputs) {
    node.next_.reserve(inputs.size());
    node.input_shapes_.reserve(inputs.size());
    for (const Variable* v : inputs) {
      node.next_.push_back(v->gradient_edge());
      node.input_shapes_.push_back(v->shape());
    }
  }
  static void set_grad_fn(Variable& v, std::shared_ptr<Node> node) { v.impl_->grad_fn = std::move(node); }
};

bool grad_enabled() { return t_grad_enabled; }
NoGradGuard::NoGradGuard() : saved_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = saved_; }

Variable::Variable(Tensor data, bool requires_grad) : impl_(std::make_shared<VariableImpl>()) {
  if (!data.defined()) throw Error("Variable: data tensor is undefined");
  if (requires_grad && !is_floating(data.dtype())) {
    throw Error(fmt::format("Variable: a {} tensor cannot require a gradient", dtype_name(data.dtype())));
  }
  impl_->data = std::move(data);
  impl_->requires_grad = requires_grad;
}

const Tensor& Variable::data() const {
  if (!impl_) throw Error("Variable: undefined");
  return impl_->data;
}

Tensor& Variable::data() {
  if (!impl_) throw Error("Variable: undefined");
  return impl_->data;
}

bool Variable::requires_grad() const { return impl_ && impl_->requires_grad; }

void Variable::set_requires_grad(bool value) {
  if (!is_leaf()) throw Error("Variable::set_requires_grad: only leaves can change requires_grad");
  if (value && !is_floating(impl_->data.dtype())) {
    throw Error(fmt::format("Variable: a {} tensor cannot require a gradient", dtype_name(impl_->data.dtype())));
  }
  impl_->requires_grad = value;
}

bool Variable::is_leaf() const { return impl_ && impl_->grad_fn == nullptr; }

const std::shared_ptr<Node>& Variable::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl_ ? impl_->grad_fn : none;
}

const Tensor& Variable::grad() const {
  if (!impl_) throw Error("Variable: undefined");
  return impl_->grad;
}

void Variable::zero_grad() {
  if (impl_) impl_->grad = Tensor();
}

void Variable::set_grad(Tensor grad) {
  if (!is_leaf()) throw Error("Variable::set_grad: only leaves hold a gradient");
  if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype())) {
    throw Error(fmt::format("Variable::set_grad: gradient {} {} does not match the variable {} {}",
                            dtype_name(grad.dtype()), to_string(grad.shape()), dtype_name(dtype()),
                            to_string(shape())));
  }
  impl_->grad = std::move(grad);
}

void Variable::set_grad_ready_hook(std::function<void()> hook) {
  if (!is_leaf()) throw Error("Variable::set_grad_ready_hook: only leaves accumulate a gradient");
  impl_->grad_ready = std::move(hook);
}

std::shared_ptr<Node> Variable::gradient_edge() const {
  if (!impl_ || !impl_->requires_grad) return nullptr;
  if (impl_->grad_fn) return impl_->grad_fn;
  auto acc = impl_->accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(impl_);
    impl_->accumulator = acc;
  }
  return acc;
}

void Variable::backward() const {
  if (!impl_) throw Error("backward: undefined variable");
  if (numel() != 1) {
    throw Error(
        fmt::format("backward: the output has shape {} ({} elements); backward() without a gradient needs a "
                    "scalar, so pass the gradient of the loss with respect to this output",
                    to_string(shape()), numel()));
  }
  backward(Tensor::ones(shape(), dtype()));
}

void Variable::backward(const Tensor& grad_output) const {
  if (!impl_) throw Error("backward: undefined variable");
  if (!impl_->requires_grad) throw Error("backward: this variable does not require a gradient (no graph to walk)");
  if (!grad_output.defined() || grad_output.shape() != shape() || grad_output.dtype() != dtype()) {
    throw Error(fmt::format("backward: gradient {} {} does not match the output {} {}",
                            grad_output.defined() ? dtype_name(grad_output.dtype()) : "undefined",
                            grad_output.defined() ? to_string(grad_output.shape()) : "", dtype_name(dtype()),
                            to_string(shape())));
  }
  Engine::run(gradient_edge(), grad_output);
}

Variable Variable::detach() const { return Variable(data(), false); }

bool any_requires_grad(const VariableRefs& inputs) {
  if (!grad_enabled()) return false;
  for (const Variable* v : inputs) {
    if (v->requires_grad()) return true;
  }
  return false;
}

Variable attach(Tensor out, std::shared_ptr<Node> node, const VariableRefs& inputs) {
  GraphBuilder::link(*node, inputs);
  Variable v(std::move(out), true);
  GraphBuilder::set_grad_fn(v, std::move(node));
  return v;
}

}  // namespace kat
