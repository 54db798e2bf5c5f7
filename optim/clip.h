#pragma once
// Gradient utilities the trainer applies between backward and the optimizer step: the global norm,
// clipping by it, scaling (gradient accumulation), and a finiteness check.

#include <vector>

#include "autograd/variable.h"

namespace kat {

// sqrt(sum of every gradient element squared), accumulated in float64 in parameter order (so the
// result does not depend on the thread count). Parameters without a gradient count as zero.
// Infinite or NaN when any gradient element is.
double grad_norm(const std::vector<Variable>& params);

// Scales every gradient by max_norm / norm when the global norm exceeds max_norm (> 0). Returns
// the norm before clipping; a non-finite norm leaves the gradients as they are.
double clip_grad_norm(const std::vector<Variable>& params, double max_norm);

// Multiplies every gradient by factor, in place.
void scale_grads(const std::vector<Variable>& params, double factor);

}  // namespace kat
