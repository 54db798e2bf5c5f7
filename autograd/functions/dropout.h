#pragma once
#include "autograd/variable.h"
#include "core/rng.h"

namespace kat {

// Inverted dropout: in training, each element is zeroed with probability p and the rest are scaled
// by 1 / (1 - p); otherwise (or p = 0) the input passes through. The mask comes from `rng` (one
// draw per call) and is the same whatever the thread count.
Variable dropout(const Variable& x, double p, Rng& rng, bool training = true);

}  // namespace kat
