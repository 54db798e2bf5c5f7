#include "autograd/engine.h"

#include <fmt/format.h>

#include <unordered_map>
#include <vector>

#include "autograd/profiler.h"
#include "core/kernels/elementwise.h"

namespace kat {
namespace {

// The sum of two gradients that reach the same node, timed as a row of its own when profiling.
// Into a itself when nothing else holds its memory and each of its elements has its own place
// (not a broadcast view): a pass with no new tensor to fill.
void accumulate(Tensor& a, const Tensor& b) {
  OpTimer timer("grad_accumulate (engine)", Pass::backward);
  if (a.storage().use_count() == 1 && a.storage() != b.storage() && a.dtype() == b.dtype() &&
      !memory_order(a).empty()) {
    binary(BinaryOp::add, a, b, a);
    return;
  }
  a = binary(BinaryOp::add, a, b);
}

}  // namespace

const Tensor& Node::partial_grad(std::size_t i) const {
  static const Tensor none;
  return i < partial_.size() ? partial_[i] : none;
}

Tensor Node::gradient_buffer(const Tensor& grad_output, const std::vector<std::int64_t>& order) {
  const bool laid_out = order.empty() ? grad_output.is_contiguous() : rows_layout(grad_output) == order;
  if (laid_out && grad_output.storage().use_count() == 1) return grad_output;
  return empty_in_order(grad_output.shape(), order, grad_output.dtype());
}

Node::~Node() {
  // Unlink iteratively: dropping a long chain recursively would overflow the stack.
  std::vector<std::shared_ptr<Node>> stack = std::move(next_);
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    if (n && n.use_count() == 1) {
      for (auto& e : n->next_) stack.push_back(std::move(e));
      n->next_.clear();
    }
  }
}

void Engine::run(const std::shared_ptr<Node>& root, const Tensor& grad_output) {
  // Count, for every node below the root, how many consumers will send it a gradient.
  std::unordered_map<Node*, int> pending;
  {
    std::vector<Node*> stack{root.get()};
    pending[root.get()] = 0;
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const auto& next : n->next_) {
        if (!next) continue;
        auto [it, inserted] = pending.try_emplace(next.get(), 0);
        ++it->second;
        if (inserted) stack.push_back(next.get());
      }
    }
  }

  std::unordered_map<Node*, Tensor> grads;
  grads[root.get()] = grad_output;
  // Ready nodes: all their consumers have delivered. Holding shared_ptrs keeps a node alive
  // while it runs even after its consumers drop their edges.
  std::vector<std::shared_ptr<Node>> ready{root};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    if (node->released_) {
      throw Error(
          fmt::format("backward: the graph through '{}' was already freed by an earlier backward", node->name()));
    }
    auto it = grads.find(node.get());
    Tensor grad = std::move(it->second);
    grads.erase(it);
    // Lend the node the gradients that reached its inputs earlier, where it can add into them.
    bool lent = false;
    for (std::size_t i = 0; i < node->next_.size(); ++i) {
      if (!node->next_[i] || !node->adds_into(i)) continue;
      auto slot = grads.find(node->next_[i].get());
      if (slot == grads.end()) continue;
      const Tensor& t = slot->second;
      if (!t.is_contiguous() || t.storage().use_count() != 1 || t.shape() != node->input_shapes_[i]) continue;
      if (!lent) node->partial_.assign(node->next_.size(), Tensor());
      lent = true;
      node->partial_[i] = std::move(slot->second);
      grads.erase(slot);
    }
    OpTimer timer(*node);
    std::vector<Tensor> input_grads = node->backward(grad);
    timer.stop();
    grad = Tensor();
    node->released_ = true;
    if (lent) {
      // A lent gradient comes back as the input's, or is summed with what came instead (a missing
      // one is refused below).
      for (std::size_t i = 0; i < node->partial_.size(); ++i) {
        Tensor& p = node->partial_[i];
        if (!p.defined() || i >= input_grads.size() || !input_grads[i].defined()) continue;
        if (input_grads[i].storage() != p.storage()) {
          accumulate(p, input_grads[i]);
          input_grads[i] = std::move(p);
        }
      }
      node->partial_.clear();
    }
    for (std::size_t i = 0; i < node->next_.size(); ++i) {
      const std::shared_ptr<Node>& next = node->next_[i];
      if (!next) continue;
      if (i >= input_grads.size() || !input_grads[i].defined()) {
        throw Error(
            fmt::format("backward of '{}' returned no gradient for input {}, which needs one", node->name(), i));
      }
      Tensor& g = input_grads[i];
      if (g.shape() != node->input_shapes_[i]) {
        throw Error(fmt::format("backward of '{}' returned a gradient of shape {} for input {} of shape {}",
                                node->name(), to_string(g.shape()), i, to_string(node->input_shapes_[i])));
      }
      auto [slot, first] = grads.try_emplace(next.get(), Tensor());
      if (first) {
        slot->second = std::move(g);
      } else {
        accumulate(slot->second, g);
      }
      if (--pending[next.get()] == 0) ready.push_back(next);
    }
    node->next_.clear();  // drop edges: upstream nodes die once nothing else needs them
  }
}

}  // namespace kat
