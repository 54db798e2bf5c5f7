#pragma once
// Feature maps of kernelized attention: sim(q, k) = phi(q) . phi(k) (Katharopoulos et al. 2020,
// Section 3.2). A map turns (B, H, N, D) queries or keys into (B, H, N, M) features; linear attention
// (layers/attention/linear_attention.h) is written once against this interface, so a new map is one
// class registered under a name (feature_maps/registry.h) and named in the YAML.
//
// Stabilizers. Features that can overflow (FAVOR+, trigonometric) are divided by factors that
// attention cancels exactly: a query row by any positive factor (it divides the numerator and the
// normalizer of that query alike); the keys of one (batch item, head) by one common factor (it
// divides every query's sums alike). Causal attention must not let key j's factor depend on later
// keys, so for FeatureRole::causal_key a map may divide row j by exp(C_j) with C non-decreasing
// along the sequence and depending only on keys <= j (a running maximum), and reports C; the causal
// op (causal_linear_op.h) and the decoding state rescale their running sums as C grows, so that
// the result equals the unstabilized formula and nothing flows backwards in time.
//
// The factors are exact only where nothing is added beside them: a stabilized map's features, and
// so the attention normalizers, have no fixed scale (normalizers of 1e-17 occur in a trained
// language model), so such a map adds no epsilon to its features and asks linear attention for a
// normalizer epsilon that only guards an empty sum (normalizer_eps).

#include <cstdint>
#include <string>

#include "layers/extension_options.h"
#include "layers/module.h"

namespace kat {

enum class FeatureRole {
  query,       // any positive factor per row
  key,         // one common factor per (batch item, head)
  causal_key,  // row j divided by exp(C_j), C a running quantity reported through key_log_scale
};

struct FeatureMapOptions {
  std::string name = "elu";
  std::int64_t head_dim = 0;         // D, fixed by the attention layer
  std::int64_t heads = 0;            // H: learned maps keep weights per head (0: one set shared by all)
  std::int64_t features = 0;         // random features m (favor+, favor-trig); 0: the map's default
  bool orthogonal = true;            // random maps: blocks of orthogonal projections, or i.i.d. Gaussian
  std::string norms = "chi";         // orthogonal rows rescaled to chi-distributed norms, or "sqrt_d"
  std::int64_t redraw_interval = 0;  // redraw random projections every this many training steps (0: never)
  double eps = 1e-6;                 // relu: added to every feature
  OptionValues extra;                // the options the map declares for itself (FeatureMapInfo::options)
};

class FeatureMap : public Module {
 public:
  using Module::Module;

  // M, the width of the features.
  virtual std::int64_t features() const = 0;

  // x (B, H, N, D) -> (B, H, N, M). For causal_key, a map with a stabilizer writes C as a
  // (B, H, N, 1) tensor into *key_log_scale (the pointer is always given for that role); maps
  // without one leave it undefined (factors of 1).
  virtual Variable forward(const Variable& x, FeatureRole role, Tensor* key_log_scale = nullptr) = 0;

  // Whether every feature is >= 0 (then the attention normalizer is positive). Trigonometric
  // features are not.
  virtual bool non_negative() const { return true; }

  // What linear attention adds to its normalizers unless told a value (AttentionOptions::eps < 0):
  // 1e-6 for features with a fixed scale; stabilized maps return a value that biases nothing.
  virtual double normalizer_eps() const { return 1e-6; }

  // Called by the attention layer before each training step; random maps redraw here.
  virtual void on_train_step(std::int64_t /*step*/) {}
};

}  // namespace kat
