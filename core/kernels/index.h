#pragma once
// Gather and scatter of rows (embedding lookup and its gradient), and concatenation.

#include <vector>

#include "core/tensor.h"

namespace kat {

// out[..., :] = table[ids[...], :]. table (V, D) float, ids int64 of any shape; out has shape
// ids.shape + (D). An id outside [0, V) throws, naming `op`, the id, its position and V.
Tensor gather_rows(const Tensor& table, const Tensor& ids, const char* op = "gather_rows");

// table[ids[i], :] += src[i, :] for every i: src (ids.shape + (D)), table (V, D) contiguous. Only
// the rows named by ids are touched. Deterministic: threads split the D columns, not the ids.
void scatter_add_rows(const Tensor& src, const Tensor& ids, Tensor& table, const char* op = "scatter_add_rows");

// Joins tensors of equal shape except along `axis`.
Tensor concat(const std::vector<Tensor>& parts, std::int64_t axis);

}  // namespace kat
