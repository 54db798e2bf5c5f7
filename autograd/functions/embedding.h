#pragma once
#include "autograd/variable.h"

namespace kat {

// Rows of weight (V, D) picked by int64 ids of any shape: output ids.shape + (D). Backward adds
// each output row's gradient into the row it came from (only the rows named by ids are touched).
// An id outside [0, V) throws, naming the id and V. The row padding_idx (when >= 0) gets no
// gradient, so a padding embedding stays as initialized.
Variable embedding(const Variable& weight, const Tensor& ids, std::int64_t padding_idx = -1);

}  // namespace kat
