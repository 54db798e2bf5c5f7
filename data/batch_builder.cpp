#include "data/batch_builder.h"

#include <algorithm>

#include "core/error.h"
#include "data/special_tokens.h"

namespace kat {

Tensor pad_rows(const std::vector<TokenRow>& rows, std::vector<std::int64_t>& lengths) {
  std::int64_t width = 0;
  for (const TokenRow& r : rows) width = std::max(width, static_cast<std::int64_t>(r.size()));
  std::vector<std::int64_t> values(rows.size() * static_cast<std::size_t>(width), kPadId);
  bool padded = false;
  lengths.clear();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::copy(rows[i].begin(), rows[i].end(), values.begin() + static_cast<std::ptrdiff_t>(i * width));
    lengths.push_back(static_cast<std::int64_t>(rows[i].size()));
    padded |= static_cast<std::int64_t>(rows[i].size()) < width;
  }
  if (!padded) lengths.clear();
  return Tensor::from_vector(values, Shape{static_cast<std::int64_t>(rows.size()), width});
}

Batch decoder_batch(const std::vector<TokenRow>& inputs, const std::vector<TokenRow>& targets) {
  if (inputs.size() != targets.size() || inputs.empty()) throw Error("decoder_batch: need as many targets as inputs");
  Batch b;
  std::vector<std::int64_t> target_lengths;
  b.input = pad_rows(inputs, b.lengths);
  b.target = pad_rows(targets, target_lengths);
  for (const TokenRow& r : targets) {
    for (const std::int64_t id : r) b.tokens += id != kPadId;
  }
  b.sentences = static_cast<std::int64_t>(inputs.size());
  return b;
}

}  // namespace kat
