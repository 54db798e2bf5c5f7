#pragma once
// The backward engine: orders the graph below a root topologically, walks it in reverse,
// accumulates each node's incoming gradients, and frees every node's saved tensors as soon as its
// backward has run.

#include <memory>

#include "autograd/node.h"
#include "core/tensor.h"

namespace kat {

class Engine {
 public:
  // Runs backward from `root` with the gradient of its output.
  static void run(const std::shared_ptr<Node>& root, const Tensor& grad_output);
};

}  // namespace kat
