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
  // Whether backward can add its gradient for input i into one that reached that input earlier
  // (partial_grad): a product's gradient then lands there with beta = 1, with no tensor of its own
  // to clear and no separate sum.
  virtual bool adds_into(std::size_t /*input*/) const { return false; }
  // During backward, for an input that adds_into: the gradient its other consumers have sent so
  // far (contiguous, of the input's shape, held by nothing else), lent by the engine; undefined
  // when there is none. A backward that adds its own into it returns it as that input's gradient;
  // any other tensor it returns is summed with it as usual.
  const Tensor& partial_grad(std::size_t i) const;

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
  std::vector<Tensor> partial_;              // partial_grad, for the duration of backward
  bool released_ = false;                    // backward already ran; saved tensors are gone
};

}  // namespace kat
