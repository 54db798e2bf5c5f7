#pragma once
// Node: one recorded op in the graph. An op author writes a subclass with the tensors its backward
// needs as members, a name, and backward(); the op function (forward) creates it with
// attach() from autograd/variable.h. Nothing else is required of an op.

#include <memory>
#include <vector>

#include "core/tensor.h"

namespace kat {

class Node {
 public:
  virtual ~Node();
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual const char* name() const = 0;

  // Given the gradient of the loss with respect to this op's output, returns one gradient per
  // input, in the order the inputs were attached, each of that input's shape. An input that
  // needs no gradient (see needs_grad) may get an undefined Tensor.
  virtual std::vector<Tensor> backward(const Tensor& grad_output) = 0;

  // Whether input i needs a gradient; backward skips the work for inputs that do not.
  bool needs_grad(std::size_t i) const { return i < next_.size() && next_[i] != nullptr; }

 protected:
  // Where an elementwise backward may write the gradient it returns: the incoming gradient's own
  // memory when nothing else holds it and it is laid out in `order` (memory_order; empty:
  // contiguous), so that the pass writes over lines it has just read; otherwise a new tensor in
  // that layout. Call it before making any other handle on grad_output.
  static Tensor gradient_buffer(const Tensor& grad_output, const std::vector<std::int64_t>& order = {});

 private:
  friend class Engine;
  friend struct GraphBuilder;
  std::vector<std::shared_ptr<Node>> next_;  // the node of each input (nullptr: no gradient needed)
  std::vector<Shape> input_shapes_;          // to check the shapes backward returns
  bool released_ = false;                    // backward already ran; saved tensors are gone
};

}  // namespace kat
