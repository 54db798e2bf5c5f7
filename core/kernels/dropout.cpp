#include "core/kernels/dropout.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "core/parallel.h"

namespace kat {
namespace {

// A 32-bit integer hash of two multiplies (the "lowbias32" constants of C. Wellons'
// hash-prospector). Only 32-bit operations, so a loop of them vectorizes (AVX2 has a 32-bit
// multiply, not a 64-bit one).
inline std::uint32_t hash32(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7FEB352DU;
  x ^= x >> 15;
  x *= 0x846CA68BU;
  x ^= x >> 16;
  return x;
}

// Element i is dropped when hash32(hash32(low32(i) ^ k0) ^ k1 ^ high32(i)) < round(p * 2^32), with
// (k1, k0) the two halves of the key: a probability of p to within 2^-33.
std::uint32_t threshold_of(double p) {
  const double t = std::round(std::ldexp(p, 32));
  constexpr auto top = std::numeric_limits<std::uint32_t>::max();
  return t >= static_cast<double>(top) ? top : static_cast<std::uint32_t>(t);
}

template <bool kRelu, bool kAdd, typename T>
void apply(const T* in, const T* add, T* out, std::int64_t n, std::int64_t first, double p, std::uint64_t key) {
  const auto k0 = static_cast<std::uint32_t>(key);
  const auto k1 = static_cast<std::uint32_t>(key >> 32);
  const std::uint32_t threshold = threshold_of(p);
  const auto scale = static_cast<T>(1.0 / (1.0 - p));
  parallel_for(0, n, 16384, [&](std::int64_t b, std::int64_t e) {
    const T s = scale;  // locals, not loads through the closure inside the loop
    const std::uint32_t t = threshold, key0 = k0;
    // Runs in which the high half of the index stays the same, so that the loop counts in 32 bits.
    while (b < e) {
      const auto index = static_cast<std::uint64_t>(first + b);
      const std::uint64_t run_end = (index | 0xFFFFFFFFULL) + 1;  // the next multiple of 2^32
      const std::int64_t len = std::min<std::int64_t>(e - b, static_cast<std::int64_t>(run_end - index));
      const auto lo = static_cast<std::uint32_t>(index);
      const std::uint32_t k1h = k1 ^ static_cast<std::uint32_t>(index >> 32);
      const T* x = in + b;
      const T* a = kAdd ? add + b : nullptr;
      T* y = out + b;
      const auto count = static_cast<std::uint32_t>(len);
#pragma omp simd
      for (std::uint32_t j = 0; j < count; ++j) {
        const std::uint32_t h = hash32(hash32((lo + j) ^ key0) ^ k1h);
        const T v = kRelu ? (x[j] > T(0) ? x[j] : T(0)) : x[j];
        const T d = v * (h < t ? T(0) : s);  // x * 0 as a stored mask would give (NaN stays NaN)
        if constexpr (kAdd) {
          y[j] = a[j] + d;
        } else {
          y[j] = d;
        }
      }
      b += len;
    }
  });
}

template <bool kRelu>
void checked_apply(const char* op, const Tensor& in, const Tensor* add, Tensor& out, double p, std::uint64_t key,
                   std::int64_t first) {
  assert(in.is_contiguous() && out.is_contiguous() && in.numel() == out.numel() && in.dtype() == out.dtype());
  assert(add == nullptr || (add->is_contiguous() && add->numel() == in.numel() && add->dtype() == in.dtype()));
  assert(p >= 0.0 && p < 1.0 && first >= 0);
  dispatch_float(in.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (add != nullptr) {
      apply<kRelu, true>(in.data<T>(), add->data<T>(), out.data<T>(), in.numel(), first, p, key);
    } else {
      apply<kRelu, false>(in.data<T>(), static_cast<const T*>(nullptr), out.data<T>(), in.numel(), first, p, key);
    }
  });
}

}  // namespace

void dropout_mask_apply(const Tensor& in, Tensor& out, double p, std::uint64_t key, std::int64_t first) {
  checked_apply<false>("dropout", in, nullptr, out, p, key, first);
}

void dropout_mask_apply_add(const Tensor& in, const Tensor& add, Tensor& out, double p, std::uint64_t key,
                            std::int64_t first) {
  checked_apply<false>("dropout_add", in, &add, out, p, key, first);
}

void relu_dropout_mask_apply(const Tensor& in, Tensor& out, double p, std::uint64_t key, std::int64_t first) {
  checked_apply<true>("relu_dropout", in, nullptr, out, p, key, first);
}

void relu_dropout_backward(const Tensor& out, const Tensor& g, Tensor& dx, double p) {
  assert(out.is_contiguous() && g.is_contiguous() && dx.is_contiguous());
  assert(out.numel() == g.numel() && g.numel() == dx.numel());
  dispatch_float(out.dtype(), "relu_dropout backward", [&](auto tag) {
    using T = decltype(tag);
    const T* py = out.data<T>();
    const T* pg = g.data<T>();
    T* pd = dx.data<T>();
    const auto scale = static_cast<T>(1.0 / (1.0 - p));
    parallel_for(0, out.numel(), 16384, [&](std::int64_t b, std::int64_t e) {
      // Locals, not loads through the closure inside the loop; a select, not a branch (the mask
      // is random, so a branch would be mispredicted half the time).
      const T s = scale;
      const T* y = py + b;
      const T* x = pg + b;
      T* d = pd + b;
      const std::int64_t n = e - b;
#pragma omp simd
      for (std::int64_t i = 0; i < n; ++i) d[i] = x[i] * (y[i] > T(0) ? s : T(0));
    });
  });
}

}  // namespace kat
