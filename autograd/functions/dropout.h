#pragma once
#include "autograd/variable.h"
#include "core/rng.h"

namespace kat {

// Inverted dropout: in training, each element is zeroed with probability p and the rest are scaled
// by 1 / (1 - p); otherwise (or p = 0) the input passes through. The mask comes from `rng` (one
// draw per call) and is the same whatever the thread count. With first_element > 0, x holds the
// elements [first_element, first_element + numel) of a larger (row-major) tensor, and gets the
// part of the mask that tensor would get from the same generator: a data-parallel process working
// on a slice of rows drops what one process working on the whole batch would.
Variable dropout(const Variable& x, double p, Rng& rng, bool training = true, std::int64_t first_element = 0);

// residual + dropout(x, ...) in one pass (the residual sum of a Transformer sublayer), with the same
// mask, values and gradients as the two ops (one draw from rng, as dropout makes). x and residual
// have one shape. Outside training, or with p = 0, it is residual + x.
Variable dropout_add(const Variable& x, const Variable& residual, double p, Rng& rng, bool training = true,
                     std::int64_t first_element = 0);

// dropout(relu(x), ...) in one pass over x, with the same mask, values and gradients (one draw from
// rng, as dropout makes): the backward reads only the output, one pass with no mask to draw.
// Outside training, or with p = 0, it is relu(x).
Variable relu_dropout(const Variable& x, double p, Rng& rng, bool training = true, std::int64_t first_element = 0);

}  // namespace kat
