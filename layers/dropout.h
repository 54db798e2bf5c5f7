#pragma once
// Dropout with its own generator, split from the one the model was built with and saved in the
// state dict, so a resumed run drops the same units. Active only in training mode.

#include <cstdint>

#include "layers/module.h"

namespace kat {

class Dropout : public Module {
 public:
  Dropout(double p, Rng& rng);
  // x's first axis is the batch.
  Variable forward(const Variable& x);
  // residual + forward(x) in one pass (dropout_add, autograd/functions/dropout.h): the same mask and
  // draw as forward.
  Variable forward_add(const Variable& x, const Variable& residual);
  // forward(relu(x)) in one pass (relu_dropout, autograd/functions/dropout.h): the same mask and
  // the same values.
  Variable forward_relu(const Variable& x);
  double p() const { return p_; }

  // The batch this module sees is the rows [first_row, first_row + B) of a larger batch (a
  // data-parallel process's share of the global batch): the mask is that larger batch's mask for
  // these rows, so that the processes together drop what one process would. 0 by default.
  void set_first_row(std::int64_t first_row);
  std::int64_t first_row() const { return first_row_; }

 private:
  double p_;
  Rng rng_;
  std::int64_t first_row_ = 0;
};

// Sets the first row (see Dropout::set_first_row) of every Dropout module under root.
void set_dropout_first_row(Module& root, std::int64_t first_row);

}  // namespace kat
