#pragma once
// Variable: a tensor that takes part in reverse-mode differentiation. It holds its data, its
// gradient (leaves only), whether it requires one, and the Node that produced it. Copies alias.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autograd/node.h"
#include "core/tensor.h"

namespace kat {

struct VariableImpl;

class Variable {
 public:
  Variable() = default;
  explicit Variable(Tensor data, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& data() const;
  Tensor& data();  // in-place changes to a leaf's data (optimizer steps) go through here
  const Shape& shape() const { return data().shape(); }
  std::int64_t dim() const { return data().dim(); }
  std::int64_t size(std::int64_t axis) const { return data().size(axis); }
  std::int64_t numel() const { return data().numel(); }
  DType dtype() const { return data().dtype(); }

  bool requires_grad() const;
  void set_requires_grad(bool value);  // leaves only
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;

  // The accumulated gradient of a leaf (undefined until a backward reaches it).
  const Tensor& grad() const;
  void zero_grad();  // drops the gradient; the next backward writes a fresh one
  // Replaces a leaf's gradient with a tensor of its shape and dtype (data-parallel training writes
  // back the gradient summed over processes). An undefined tensor drops it, as zero_grad does.
  void set_grad(Tensor grad);

  // A function called after every backward that reaches this leaf, as soon as that backward's
  // gradient has been added into grad(): every path into the leaf has delivered, so the gradient
  // is final for this backward while the engine goes on with the rest of the graph. Data-parallel
  // training starts reducing a gradient here, overlapping communication with the backward pass.
  // Leaves only; one hook per leaf; an empty function removes it.
  void set_grad_ready_hook(std::function<void()> hook);

  // Backpropagates from this variable: a scalar (one element) gets gradient 1; otherwise pass
  // the gradient of the loss with respect to it, of its shape. Frees the graph as it goes.
  void backward() const;
  void backward(const Tensor& grad_output) const;

  // The same data, cut from the graph.
  Variable detach() const;

  // Internal: the node a consumer of this variable links to (its grad_fn, or a leaf's
  // accumulator), nullptr when no gradient flows here.
  std::shared_ptr<Node> gradient_edge() const;
  const VariableImpl* impl() const { return impl_.get(); }

 private:
  std::shared_ptr<VariableImpl> impl_;
  friend struct GraphBuilder;
};

using VariableRefs = std::vector<const Variable*>;

// True when grad mode is on and any input requires a gradient: an op records a node only then.
bool any_requires_grad(const VariableRefs& inputs);

// Wraps an op's output: links `node` to the inputs' gradient edges and returns a Variable that
// requires grad. Call only when any_requires_grad(inputs) holds.
Variable attach(Tensor out, std::shared_ptr<Node> node, const VariableRefs& inputs);

}  // namespace kat
