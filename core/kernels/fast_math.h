#pragma once
// Internal to core/kernels: an exp that the compiler vectorizes in float32 loops (std::exp is a
// library call per element). Range reduction x = n ln2 + r, |r| <= ln2/2 (n rounded to nearest), a degree-6 polynomial
// for e^r (relative error below 2e-7 on the range), and 2^n assembled in the exponent bits.
// Inputs below -87.3 give exactly 0 (e^x would be a subnormal number there: products that read such
// numbers run a hundred times slower on x86), above 88.7 are clamped.
// float64 keeps std::exp: gradient checks need its accuracy more than speed.

#include <bit>
#include <cmath>
#include <cstdint>

namespace kat::detail {

inline float exp_vec(float x) {
  const bool underflow = x < -87.3f;
  x = underflow ? -87.3f : x;  // selects, not branches: they vectorize
  x = x > 88.7f ? 88.7f : x;
  // n = round(x / ln2) by the 1.5 * 2^23 trick: adding it leaves the integer part in the low
  // mantissa bits (round to nearest), subtracting it recovers n exactly. std::floor would be a
  // library call here, which stops the loop from vectorizing.
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  // r = x - n ln2, with ln2 split in two parts so the product is exact.
  float r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t e = (static_cast<std::int32_t>(n) + 127) << 23;
  const float y = p * std::bit_cast<float>(e);
  return underflow ? 0.0f : y;
}

inline double exp_vec(double x) { return std::exp(x); }

}  // namespace kat::detail
