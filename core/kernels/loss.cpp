#include "core/kernels/loss.h"

#include <fmt/format.h>

#include <atomic>
#include <cmath>
#include <vector>

#include "core/kernels/fast_math.h"
#include "core/parallel.h"

namespace kat {
namespace {

void check_inputs(const char* op, const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& opt) {
  if (!logits.defined() || !targets.defined()) throw Error(fmt::format("{}: undefined tensor", op));
  if (logits.dim() != 2 || logits.numel() == 0) {
    throw Error(
        fmt::format("{}: logits must be a non-empty (rows, classes) matrix, got {}", op, to_string(logits.shape())));
  }
  if (targets.dtype() != DType::i64 || targets.dim() != 1 || targets.size(0) != logits.size(0)) {
    throw Error(fmt::format("{}: targets must be int64 of shape ({}) for logits {}, got {} {}", op, logits.size(0),
                            to_string(logits.shape()), dtype_name(targets.dtype()), to_string(targets.shape())));
  }
  if (!(opt.label_smoothing >= 0.0 && opt.label_smoothing < 1.0)) {
    throw Error(fmt::format("{}: label_smoothing must be in [0, 1), got {}", op, opt.label_smoothing));
  }
}

}  // namespace

double cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& opt, Tensor& lse,
                     std::int64_t& counted) {
  check_inputs("cross_entropy", logits, targets, opt);
  const std::int64_t R = logits.size(0), V = logits.size(1);
  const Tensor lc = logits.contiguous();
  const Tensor tc = targets.contiguous();
  const std::int64_t* pt = tc.data<std::int64_t>();
  for (std::int64_t r = 0; r < R; ++r) {
    if (pt[r] != opt.ignore_index && (pt[r] < 0 || pt[r] >= V)) {
      throw Error(fmt::format("cross_entropy: target {} at row {} is outside the {} classes [0, {})", pt[r], r, V, V));
    }
  }
  lse = Tensor::empty({R}, logits.dtype());
  std::vector<double> row_loss(static_cast<std::size_t>(R), 0.0);
  const double eps = opt.label_smoothing;
  dispatch_float(logits.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    const T* pl = lc.data<T>();
    T* plse = lse.data<T>();
    parallel_for(0, R, std::max<std::int64_t>(1, 16384 / V), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) {
        const T* x = pl + r * V;
        T m = x[0];
#pragma omp simd reduction(max : m)
        for (std::int64_t i = 1; i < V; ++i) m = x[i] > m ? x[i] : m;
        T s = 0, sx = 0;
#pragma omp simd reduction(+ : s, sx)
        for (std::int64_t i = 0; i < V; ++i) {
          s += detail::exp_vec(x[i] - m);
          sx += x[i];
        }
        const T l = m + std::log(s);
        plse[r] = l;
        if (pt[r] == opt.ignore_index) continue;
        // -log p[t] = lse - x[t];  -sum_j log p[j] / V = lse - mean(x).
        row_loss[r] = (1.0 - eps) * static_cast<double>(l - x[pt[r]]) +
                      eps * (static_cast<double>(l) - static_cast<double>(sx) / static_cast<double>(V));
      }
    });
  });
  counted = 0;
  double total = 0.0;
  for (std::int64_t r = 0; r < R; ++r) {
    if (pt[r] == opt.ignore_index) continue;
    ++counted;
    total += row_loss[r];
  }
  return counted > 0 ? total / static_cast<double>(counted) : 0.0;
}

void cross_entropy_backward(double scale, const Tensor& logits, const Tensor& targets, const Tensor& lse,
                            const CrossEntropyOptions& opt, std::int64_t counted, Tensor& dlogits) {
  check_inputs("cross_entropy backward", logits, targets, opt);
  const std::int64_t R = logits.size(0), V = logits.size(1);
  dlogits = Tensor::empty(logits.shape(), logits.dtype());
  const Tensor lc = logits.contiguous();
  const Tensor tc = targets.contiguous();
  const std::int64_t* pt = tc.data<std::int64_t>();
  const double eps = opt.label_smoothing;
  dispatch_float(logits.dtype(), "cross_entropy backward", [&](auto tag) {
    using T = decltype(tag);
    const T* pl = lc.data<T>();
    const T* plse = lse.data<T>();
    T* pd = dlogits.data<T>();
    const T k = counted > 0 ? static_cast<T>(scale / static_cast<double>(counted)) : T(0);
    const T off = static_cast<T>(eps / static_cast<double>(V));
    parallel_for(0, R, std::max<std::int64_t>(1, 16384 / V), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t r = b; r < e; ++r) {
        T* d = pd + r * V;
        if (pt[r] == opt.ignore_index) {
          for (std::int64_t i = 0; i < V; ++i) d[i] = T(0);
          continue;
        }
        const T* x = pl + r * V;
        const T l = plse[r];
        for (std::int64_t i = 0; i < V; ++i) d[i] = k * (detail::exp_vec(x[i] - l) - off);
        d[pt[r]] -= k * static_cast<T>(1.0 - eps);
      }
    });
  });
}

}  // namespace kat
