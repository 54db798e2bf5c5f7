#include "data/batch_builder.h"

#include <fmt/format.h>

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

Batch batch_rows(const Batch& batch, std::int64_t begin, std::int64_t end, std::int64_t pad_id) {
  if (begin < 0 || end < begin || end > batch.sentences) {
    throw Error(fmt::format("batch_rows: rows [{}, {}) of a batch of {}", begin, end, batch.sentences));
  }
  auto rows = [&](const Tensor& t) { return t.defined() ? t.slice(0, begin, end).clone() : Tensor(); };
  auto part = [&](const std::vector<std::int64_t>& v) {
    return v.empty() ? v : std::vector<std::int64_t>(v.begin() + begin, v.begin() + end);
  };
  Batch out;
  out.src = rows(batch.src);
  out.src_lengths = part(batch.src_lengths);
  out.input = rows(batch.input);
  out.target = rows(batch.target);
  out.lengths = part(batch.lengths);
  out.sentences = end - begin;
  const std::int64_t* t = out.target.data<std::int64_t>();
  for (std::int64_t i = 0; i < out.target.numel(); ++i) out.tokens += t[i] != pad_id;
  return out;
}

Batch split_windows(const Batch& batch, std::int64_t length) {
  const std::int64_t rows = batch.input.size(0), width = batch.input.size(1);
  if (batch.src.defined() || !batch.lengths.empty()) {
    throw Error("split_windows: only unpadded language-model windows can be cut into shorter ones");
  }
  if (length < 1 || width % length != 0) {
    throw Error(fmt::format("split_windows: windows of {} tokens cannot be cut into windows of {}", width, length));
  }
  Batch out = batch;
  out.input = batch.input.contiguous().reshape({rows * width / length, length});
  out.target = batch.target.contiguous().reshape({rows * width / length, length});
  out.sentences = rows * width / length;
  return out;
}

}  // namespace kat
