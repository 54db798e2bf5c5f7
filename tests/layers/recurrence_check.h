#pragma once
// Checks shared by the tests of attention kernels with a decoding state.
#include <doctest/doctest.h>

#include <vector>

#include "core/tensor.h"
#include "layers/attention/attention.h"

namespace kat::test {

// Decodes q, k, v (a batch of two, (2, H, N, D) and (2, H, N, Dv)) one position at a time through
// kernel's self-attention state, each step against `full`, the causal forward's output. Then again
// with the two items swapped halfway (as beam search reorders) and the inputs swapped from then on:
// the state must move with its rows.
inline void check_steps_match_forward(AttentionKernel& kernel, const Tensor& q, const Tensor& k, const Tensor& v,
                                      const Tensor& full) {
  const std::int64_t B = q.size(0), N = q.size(2);
  REQUIRE(B == 2);
  auto state = kernel.start_self(B);
  for (std::int64_t i = 0; i < N; ++i) {
    const Tensor step = kernel.step_self(q.slice(2, i, i + 1), k.slice(2, i, i + 1), v.slice(2, i, i + 1), *state);
    CHECK(allclose(step, full.slice(2, i, i + 1), 1e-4, 1e-5));
  }
  auto swapped = kernel.start_self(B);
  const Tensor order = Tensor::from_vector(std::vector<std::int64_t>{1, 0});
  for (std::int64_t i = 0; i < N; ++i) {
    const bool after = i > N / 2;
    const auto in = [&](const Tensor& t) {
      return after ? take_batch(t.slice(2, i, i + 1), order) : t.slice(2, i, i + 1);
    };
    const Tensor out = kernel.step_self(in(q), in(k), in(v), *swapped);
    const Tensor want = after ? take_batch(full.slice(2, i, i + 1), order) : full.slice(2, i, i + 1);
    CHECK(allclose(out, want, 1e-4, 1e-5));
    if (i == N / 2) swapped->reorder(order);
  }
  CHECK(swapped->length() == N);
}

}  // namespace kat::test
