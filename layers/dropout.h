#pragma once
// Dropout with its own generator, split from the one the model was built with and saved in the
// state dict, so a resumed run drops the same units. Active only in training mode.

#include "layers/module.h"

namespace kat {

class Dropout : public Module {
 public:
  Dropout(double p, Rng& rng);
  Variable forward(const Variable& x);
  double p() const { return p_; }

 private:
  double p_;
  Rng rng_;
};

}  // namespace kat
