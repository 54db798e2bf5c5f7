#include "layers/attention/attention.h"

#include <fmt/format.h>

#include <cstring>

#include "core/kernels/index.h"
#include "core/parallel.h"

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

Tensor take_batch_prefix(const Tensor& t, const Tensor& indices, std::int64_t used, const Tensor& spare) {
  if (!t.defined() || t.dim() != 4 || !t.is_contiguous() || used < 0 || used > t.size(2)) {
    throw Error(
        fmt::format("take_batch_prefix: expected a contiguous (B, H, C, D) buffer and 0 <= used <= C, got {} "
                    "and used {}",
                    t.defined() ? to_string(t.shape()) : "undefined", used));
  }
  const Tensor ic = indices.contiguous();
  const std::int64_t* pi = ic.data<std::int64_t>();
  const std::int64_t n = ic.numel(), B = t.size(0), H = t.size(1);
  for (std::int64_t i = 0; i < n; ++i) {
    if (pi[i] < 0 || pi[i] >= B) {
      throw Error(fmt::format("reorder: index {} at {} is outside the batch of {}", pi[i], i, B));
    }
  }
  const bool fits = spare.defined() && spare.dim() == 4 && spare.is_contiguous() && spare.dtype() == t.dtype() &&
                    spare.size(0) >= n && spare.size(1) == H && spare.size(2) == t.size(2) &&
                    spare.size(3) == t.size(3) && spare.raw_data() != t.raw_data();
  Tensor out = fits ? spare.slice(0, 0, n) : Tensor::empty({n, H, t.size(2), t.size(3)}, t.dtype());
  const std::size_t elem = dtype_size(t.dtype());
  const std::size_t block = static_cast<std::size_t>(t.size(2) * t.size(3)) * elem;  // one (b, h) pair
  const std::size_t bytes = static_cast<std::size_t>(used * t.size(3)) * elem;
  const char* src = static_cast<const char*>(t.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  parallel_for(0, n * H, std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(1, used * t.size(3))),
               [&](std::int64_t a, std::int64_t e) {
                 for (std::int64_t r = a; r < e; ++r) {
                   const std::int64_t i = r / H, h = r % H;
                   std::memcpy(dst + static_cast<std::size_t>(r) * block,
                               src + static_cast<std::size_t>(pi[i] * H + h) * block, bytes);
                 }
               });
  return out;
}

}  // namespace kat
