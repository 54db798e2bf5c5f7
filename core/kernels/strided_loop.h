#pragma once
// Internal to core/kernels: walks the elements of a shape in row-major order for K operands with
// arbitrary strides (0 on broadcast dimensions), one innermost run at a time, in parallel over
// the outer index. Dimensions that are contiguous for every operand are merged first, so a
// contiguous tensor is one run.

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "core/shape.h"

namespace kat::detail {

template <std::size_t K>
struct LoopPlan {
  Shape shape;                     // coalesced; at least one dimension
  std::array<Strides, K> strides;  // per operand, matching `shape`
};

template <std::size_t K>
LoopPlan<K> plan_loop(const Shape& shape, const std::array<Strides, K>& strides) {
  LoopPlan<K> plan;
  // The dimensions in the memory order of operand 0 (the output; largest stride first, ties in
  // their own order), so that operands permuted alike (heads split from a projection, and an op's
  // output or gradient made in their layout) are walked in memory order and merge into one run.
  // Each element is visited once whatever the order.
  std::vector<std::size_t> dims;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] != 1) dims.push_back(d);  // size-1 dims never move the offsets
  }
  std::stable_sort(dims.begin(), dims.end(),
                   [&](std::size_t a, std::size_t b) { return strides[0][a] > strides[0][b]; });
  for (const std::size_t d : dims) {
    if (!plan.shape.empty()) {
      bool mergeable = true;
      for (std::size_t k = 0; k < K; ++k) {
        mergeable = mergeable && plan.strides[k].back() == strides[k][d] * shape[d];
      }
      if (mergeable) {
        plan.shape.back() *= shape[d];
        for (std::size_t k = 0; k < K; ++k) plan.strides[k].back() = strides[k][d];
        continue;
      }
    }
    plan.shape.push_back(shape[d]);
    for (std::size_t k = 0; k < K; ++k) plan.strides[k].push_back(strides[k][d]);
  }
  if (plan.shape.empty()) {
    plan.shape.push_back(1);
    for (std::size_t k = 0; k < K; ++k) plan.strides[k].push_back(0);
  }
  return plan;
}

// fn(std::array<int64_t, K> offsets, int64_t n, std::array<int64_t, K> inner_strides) is called for
// every innermost run of n elements. Runs are visited in parallel; each is visited once.
template <std::size_t K, typename Fn>
void for_each_run(const LoopPlan<K>& plan, Fn&& fn) {
  const std::int64_t nd = static_cast<std::int64_t>(plan.shape.size());
  const std::int64_t inner = plan.shape.back();
  std::int64_t outer = 1;
  for (std::int64_t d = 0; d + 1 < nd; ++d) outer *= plan.shape[d];
  std::array<std::int64_t, K> inner_strides{};
  for (std::size_t k = 0; k < K; ++k) inner_strides[k] = plan.strides[k].back();

  const std::int64_t grain = std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(inner, 1));
  if (outer == 1) {
    // One long run: split it into pieces so large contiguous tensors still use every thread.
    const std::int64_t piece = 32768;
    parallel_for(0, (inner + piece - 1) / piece, 1, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t p = b; p < e; ++p) {
        const std::int64_t start = p * piece;
        std::array<std::int64_t, K> off{};
        for (std::size_t k = 0; k < K; ++k) off[k] = start * inner_strides[k];
        fn(off, std::min(piece, inner - start), inner_strides);
      }
    });
    return;
  }
  parallel_for(0, outer, grain, [&](std::int64_t b, std::int64_t e) {
    // Unravel the first outer index of this chunk, then step an odometer.
    std::array<std::int64_t, 16> idx{};
    std::array<std::int64_t, K> off{};
    std::int64_t rem = b;
    for (std::int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % plan.shape[d];
      rem /= plan.shape[d];
      for (std::size_t k = 0; k < K; ++k) off[k] += idx[d] * plan.strides[k][d];
    }
    for (std::int64_t o = b; o < e; ++o) {
      fn(off, inner, inner_strides);
      for (std::int64_t d = nd - 2; d >= 0; --d) {
        ++idx[d];
        for (std::size_t k = 0; k < K; ++k) off[k] += plan.strides[k][d];
        if (idx[d] < plan.shape[d]) break;
        for (std::size_t k = 0; k < K; ++k) off[k] -= idx[d] * plan.strides[k][d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace kat::detail
