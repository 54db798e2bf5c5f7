#include "layers/decode_state.h"

#include <fmt/format.h>

#include <vector>

#include "core/error.h"

namespace kat {

void DecodeState::reorder(const Tensor& indices) {
  if (!indices.defined() || indices.dim() != 1 || indices.dtype() != DType::i64 || indices.numel() == 0) {
    throw Error("DecodeState::reorder: indices must be a non-empty 1-D int64 tensor");
  }
  const std::int64_t rows = indices.numel();
  const Tensor idx = indices.contiguous();
  const std::int64_t* p = idx.data<std::int64_t>();
  for (std::int64_t r = 0; r < rows; ++r) {
    if (p[r] < 0 || p[r] >= batch) {
      throw Error(fmt::format("DecodeState::reorder: index {} at {} is outside the {} decoding rows", p[r], r, batch));
    }
  }
  for (auto& s : self) s->reorder(idx);
  if (!cross.empty()) {
    // The new rows as runs of consecutive rows continuing one old group each: when the runs are of
    // one length and continue distinct groups, they are the new groups, and each reads the entry
    // its old group read. Otherwise every row is given a copy of its entry.
    std::vector<std::int64_t> group_of, starts;
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t old = p[r] / rows_per_item;
      if (r == 0 || old != group_of.back()) {
        group_of.push_back(old);
        starts.push_back(r);
      }
    }
    const auto runs = static_cast<std::int64_t>(group_of.size());
    const std::int64_t run = rows / runs;
    bool even = rows % runs == 0;
    std::vector<bool> seen(static_cast<std::size_t>(batch / rows_per_item), false);
    for (std::int64_t i = 0; even && i < runs; ++i) {
      const auto old = static_cast<std::size_t>(group_of[static_cast<std::size_t>(i)]);
      even = starts[static_cast<std::size_t>(i)] == i * run && !seen[old];
      seen[old] = true;
    }
    auto entry = [&](std::int64_t old) {
      return cross_items.empty() ? old : cross_items[static_cast<std::size_t>(old)];
    };
    if (even) {
      std::vector<std::int64_t> entries(group_of.size());
      bool identity = static_cast<std::int64_t>(entries.size()) == cross_entries;
      for (std::size_t j = 0; j < entries.size(); ++j) {
        entries[j] = entry(group_of[j]);
        identity = identity && entries[j] == static_cast<std::int64_t>(j);
      }
      cross_items = identity ? std::vector<std::int64_t>() : std::move(entries);
      rows_per_item = run;
    } else {
      std::vector<std::int64_t> entries(static_cast<std::size_t>(rows));
      for (std::int64_t r = 0; r < rows; ++r) entries[static_cast<std::size_t>(r)] = entry(p[r] / rows_per_item);
      const Tensor copies = Tensor::from_vector(entries);
      for (auto& s : cross) s->reorder(copies);
      cross_entries = rows;
      cross_items.clear();
      rows_per_item = 1;
    }
  }
  batch = rows;
}

}  // namespace kat
