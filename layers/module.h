#pragma once
// Module: the base of every layer and model. A module owns named parameters (Variables that
// require gradients), named buffers (tensors saved with the model but not trained, such as random
// projections), named random generators (saved so a resumed run draws the same numbers), and named
// child modules. Names compose into paths: decoder.layers.3.self_attn.q_proj.weight.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "core/error.h"
#include "core/rng.h"

namespace kat {

// An error raised while building or running a layer, located by the layer's path. The path is
// relative to the module under construction while a model is being built: each enclosing
// add_module prefixes its member name, so the final path is the full one. A module that is nobody's
// child has an empty path and is named by its kind in the message.
class LayerError : public Error {
 public:
  LayerError(std::string path, const std::string& message, const std::string& kind = "")
      : Error((path.empty() ? kind : path) + ": " + message), path_(std::move(path)), message_(message) {}
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }

 private:
  std::string path_;
  std::string message_;
};

class Module {
 public:
  // `kind` names the layer type (linear, layer_norm, ...) in errors until the module is registered
  // under a parent, after which errors use its path.
  explicit Module(std::string kind);
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& kind() const { return kind_; }
  // The dotted path from the root ("" for the root itself).
  const std::string& path() const { return path_; }
  // The path, or the kind for a root module: the name errors use.
  std::string where() const { return path_.empty() ? kind_ : path_; }

  std::vector<std::pair<std::string, Variable>> named_parameters() const;
  std::vector<Variable> parameters() const;
  std::int64_t parameter_count() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<std::pair<std::string, Rng*>> named_rngs();
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  // Calls fn on this module and then on every descendant, parents before children, children in
  // registration order.
  void visit(const std::function<void(Module&)>& fn);

  // Training mode (dropout active) for this module and every descendant.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Every parameter and buffer by path, the tensors themselves (not copies), and every generator
  // state as an int64 tensor of 4 words under its path: the view checkpoints are made from.
  std::map<std::string, Tensor> state_dict();
  // Copies values into the parameters, buffers and generators. Every entry must exist with the
  // same shape and every parameter, buffer and generator must be given; errors name the path.
  void load_state_dict(const std::map<std::string, Tensor>& state);

  // Drops the gradients of every parameter.
  void zero_grad();

  // Converts every parameter and buffer to `dtype` (float64 for gradient checks).
  void to(DType dtype);

 protected:
  Variable register_parameter(const std::string& name, Tensor value);
  void register_buffer(const std::string& name, Tensor* buffer);  // the module owns *buffer
  void register_rng(const std::string& name, Rng* rng);           // the module owns *rng
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    attach_child(name, child);
    return child;
  }
  // Constructs a child and registers it; an error thrown while constructing it is located under
  // this module's path (e.g. "decoder.layers.3.self_attn: d_model 100 is not divisible by heads 3").
  template <typename M, typename... Args>
  std::shared_ptr<M> add_module(const std::string& name, Args&&... args) {
    std::shared_ptr<M> child;
    try {
      child = std::make_shared<M>(std::forward<Args>(args)...);
    } catch (const LayerError& e) {
      throw LayerError(join(name, e.path()), e.message());
    } catch (const Error& e) {
      throw LayerError(name, e.what());
    }
    return register_module(name, child);
  }
  // Throws a LayerError located at this module.
  [[noreturn]] void fail(const std::string& message) const;

 private:
  static std::string join(const std::string& a, const std::string& b);
  void attach_child(const std::string& name, std::shared_ptr<Module> child);
  void set_path(const std::string& path);
  std::vector<std::pair<std::string, Tensor*>> buffer_slots() const;
  void check_new_name(const std::string& name) const;

  std::string kind_;
  std::string path_;
  bool training_ = true;
  std::vector<std::pair<std::string, Variable>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  std::vector<std::pair<std::string, Rng*>> rngs_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

}  // namespace kat
