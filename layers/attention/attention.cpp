#include "layers/attention/attention.h"

#include <fmt/format.h>

#include "core/kernels/index.h"

namespace kat {

void check_mask(const AttentionMask& mask, std::int64_t batch, std::int64_t keys, const std::string& where) {
  if (mask.key_lengths.empty()) return;
  if (static_cast<std::int64_t>(mask.key_lengths.size()) != batch) {
    throw Error(fmt::format("{}: mask has {} key lengths for a batch of {} (need one per batch item, or none)", where,
                            mask.key_lengths.size(), batch));
  }
  for (std::size_t b = 0; b < mask.key_lengths.size(); ++b) {
    const std::int64_t length = mask.key_lengths[b];
    if (length < 1 || length > keys) {
      throw Error(fmt::format("{}: key length {} of batch item {} is outside [1, {}] (the number of keys)", where,
                              length, b, keys));
    }
  }
}

Tensor key_padding_weights(const AttentionMask& mask, std::int64_t batch, std::int64_t keys, DType dtype) {
  if (mask.key_lengths.empty()) return Tensor();
  check_mask(mask, batch, keys, "key_padding_weights");
  Tensor w = Tensor::zeros({batch, 1, keys, 1}, dtype);
  for (std::int64_t b = 0; b < batch; ++b) {
    w.select(0, b).slice(1, 0, mask.key_lengths[static_cast<std::size_t>(b)]).fill_(1.0);
  }
  return w;
}

Tensor take_batch(const Tensor& t, const Tensor& indices) {
  Shape out(t.shape().begin() + 1, t.shape().end());
  Tensor rows = gather_rows(t.reshape({t.size(0), -1}), indices, "reorder");
  out.insert(out.begin(), indices.numel());
  return rows.view(out);
}

}  // namespace kat
