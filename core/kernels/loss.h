#pragma once
// Cross-entropy over logits, fused with its log-softmax: the forward keeps one log-sum-exp per row,
// the backward recomputes the probabilities from the logits (no (rows, classes) buffer is saved).

#include "core/tensor.h"

namespace kat {

struct CrossEntropyOptions {
  std::int64_t ignore_index = -100;  // rows with this target add nothing and are not counted
  double label_smoothing = 0.0;      // eps in [0, 1): target distribution (1 - eps) one-hot + eps / V
};

// logits (R, V) float, targets (R) int64. Returns the mean over counted rows of
//   -(1 - eps) log p[target] - eps / V * sum_j log p[j],
// fills lse (R) with each row's log-sum-exp and `counted` with the number of counted rows.
// A target outside [0, V) that is not ignore_index throws, naming the row.
double cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& opt, Tensor& lse,
                     std::int64_t& counted);

// dlogits = scale * (softmax(logits) - ((1 - eps) one-hot + eps / V)) / counted, zero on ignored rows.
void cross_entropy_backward(double scale, const Tensor& logits, const Tensor& targets, const Tensor& lse,
                            const CrossEntropyOptions& opt, std::int64_t counted, Tensor& dlogits);

}  // namespace kat
