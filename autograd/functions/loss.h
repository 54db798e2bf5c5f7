#pragma once
#include "autograd/variable.h"
#include "core/kernels/loss.h"

namespace kat {

// Mean cross-entropy of logits (..., V) against int64 targets (...), with an ignored index for
// padding and optional label smoothing (see core/kernels/loss.h). Saves the logits and one
// log-sum-exp per row; backward is softmax(logits) - smoothed one-hot, over the counted rows.
Variable cross_entropy(const Variable& logits, const Tensor& targets, const CrossEntropyOptions& options = {});

}  // namespace kat
