#pragma once
#include "autograd/variable.h"

namespace kat {

// Over the last axis. Both save only their output: dx = y * (g - sum(g * y)) for softmax and
// dx = g - exp(y) * sum(g) for log-softmax.
Variable softmax(const Variable& x);
Variable log_softmax(const Variable& x);

}  // namespace kat
