#pragma once
// Builds Batch tensors from rows of token ids, padding with pad_id. Shared by the loaders.

#include <cstdint>
#include <vector>

#include "data/batch.h"

namespace kat {

using TokenRow = std::vector<std::int64_t>;

// Rows of one side, padded to the longest row: the (B, T) int64 tensor and, when any row is
// shorter than T, each row's length.
Tensor pad_rows(const std::vector<TokenRow>& rows, std::vector<std::int64_t>& lengths);

// A decoder batch from (input, target) rows of equal length each; tokens counts non-pad targets.
Batch decoder_batch(const std::vector<TokenRow>& inputs, const std::vector<TokenRow>& targets);

// The rows [begin, end) of a batch as a batch of their own (a data-parallel process's share). The
// padded widths stay those of the whole batch, and so do the lengths (kept whenever the whole batch
// has them), so each row is computed exactly as in the whole batch; tokens counts the rows' targets
// that are not pad_id. Throws kat::Error on a range outside [0, sentences].
Batch batch_rows(const Batch& batch, std::int64_t begin, std::int64_t end, std::int64_t pad_id);

// A language-model batch of unpadded windows (B, T) cut into windows of `length` tokens, (B * T /
// length, length), in the same order: each short window's targets are the next tokens of its
// inputs, as in the long window. The same tokens, so the same count. Throws kat::Error on a
// translation batch, a padded one, or a length that does not divide T.
Batch split_windows(const Batch& batch, std::int64_t length);

}  // namespace kat
