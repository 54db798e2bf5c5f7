#include "core/kernels/half.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "core/error.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"

#if defined(__F16C__) && defined(__AVX2__) && defined(__FMA__)
#define KAT_HALF_AVX2 1
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// Compiled whatever the instruction set flag (a function attribute enables the instructions for
// that function alone) and run only on CPUs that have them.
#define KAT_HALF_AVX512 1
#define KAT_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,f16c,fma")))
#endif
#if defined(KAT_HALF_AVX2) || defined(KAT_HALF_AVX512)
#include <immintrin.h>
#endif

namespace kat {
namespace {

constexpr float kHalfMax = 65504.0f;

using RowsKernel = void (*)(const std::uint16_t* m, std::int64_t cols, const float* x, const float* bias, float* y,
                            std::int64_t r0, std::int64_t r1);

// Each kernel computes rows [r0, r1) of y = M x + bias, M (rows x cols) row-major float16.
void gemv_rows_portable(const std::uint16_t* m, std::int64_t cols, const float* x, const float* bias, float* y,
                        std::int64_t r0, std::int64_t r1) {
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::uint16_t* mr = m + r * cols;
    float s = 0;
    for (std::int64_t c = 0; c < cols; ++c) s += half_to_float(mr[c]) * x[c];
    y[r] = s + (bias != nullptr ? bias[r] : 0.0f);
  }
}

#ifdef KAT_HALF_AVX2
void gemv_rows_avx2(const std::uint16_t* m, std::int64_t cols, const float* x, const float* bias, float* y,
                    std::int64_t r0, std::int64_t r1) {
  std::int64_t r = r0;
  // Four rows at a time share each load of x; eight columns per step, one float32 accumulator
  // register per row.
  const std::int64_t whole = cols / 8 * 8;
  auto total = [](__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  };
  auto widen = [](const std::uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  };
  for (; r + 4 <= r1; r += 4) {
    const std::uint16_t* m0 = m + r * cols;
    const std::uint16_t* m1 = m0 + cols;
    const std::uint16_t* m2 = m1 + cols;
    const std::uint16_t* m3 = m2 + cols;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::int64_t c = 0; c < whole; c += 8) {
      const __m256 xv = _mm256_loadu_ps(x + c);
      a0 = _mm256_fmadd_ps(widen(m0 + c), xv, a0);
      a1 = _mm256_fmadd_ps(widen(m1 + c), xv, a1);
      a2 = _mm256_fmadd_ps(widen(m2 + c), xv, a2);
      a3 = _mm256_fmadd_ps(widen(m3 + c), xv, a3);
    }
    float s[4] = {total(a0), total(a1), total(a2), total(a3)};
    for (std::int64_t c = whole; c < cols; ++c) {
      s[0] += half_to_float(m0[c]) * x[c];
      s[1] += half_to_float(m1[c]) * x[c];
      s[2] += half_to_float(m2[c]) * x[c];
      s[3] += half_to_float(m3[c]) * x[c];
    }
    for (int i = 0; i < 4; ++i) y[r + i] = s[i] + (bias != nullptr ? bias[r + i] : 0.0f);
  }
  gemv_rows_portable(m, cols, x, bias, y, r, r1);
}
#endif

#ifdef KAT_HALF_AVX512
// GCC 12 reports the undefined vectors inside its own AVX-512 intrinsics (_mm512_cvtph_ps,
// _mm512_reduce_add_ps) as maybe uninitialized when they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Sixteen columns per step; the last partial step loads under a mask, so no column is left to a
// scalar loop. Four rows at a time share each load of x (measured on the reference model's 17
// decoding products: 0.107 ms per token against 0.131 for the eight-column kernel; eight rows at a
// time were no faster).
KAT_AVX512_TARGET __m512 widen16(const std::uint16_t* p, __mmask16 k) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, p));
}

KAT_AVX512_TARGET void gemv_rows_avx512(const std::uint16_t* m, std::int64_t cols, const float* x, const float* bias,
                                        float* y, std::int64_t r0, std::int64_t r1) {
  const std::int64_t whole = cols / 16 * 16;
  const __mmask16 all = 0xFFFF;
  const __mmask16 tail = static_cast<__mmask16>((1u << (cols - whole)) - 1u);
  std::int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const std::uint16_t* m0 = m + r * cols;
    const std::uint16_t* m1 = m0 + cols;
    const std::uint16_t* m2 = m1 + cols;
    const std::uint16_t* m3 = m2 + cols;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (std::int64_t c = 0; c < whole; c += 16) {
      const __m512 xv = _mm512_loadu_ps(x + c);
      a0 = _mm512_fmadd_ps(widen16(m0 + c, all), xv, a0);
      a1 = _mm512_fmadd_ps(widen16(m1 + c, all), xv, a1);
      a2 = _mm512_fmadd_ps(widen16(m2 + c, all), xv, a2);
      a3 = _mm512_fmadd_ps(widen16(m3 + c, all), xv, a3);
    }
    if (tail != 0) {
      const __m512 xv = _mm512_maskz_loadu_ps(tail, x + whole);
      a0 = _mm512_fmadd_ps(widen16(m0 + whole, tail), xv, a0);
      a1 = _mm512_fmadd_ps(widen16(m1 + whole, tail), xv, a1);
      a2 = _mm512_fmadd_ps(widen16(m2 + whole, tail), xv, a2);
      a3 = _mm512_fmadd_ps(widen16(m3 + whole, tail), xv, a3);
    }
    const float s[4] = {_mm512_reduce_add_ps(a0), _mm512_reduce_add_ps(a1), _mm512_reduce_add_ps(a2),
                        _mm512_reduce_add_ps(a3)};
    for (int i = 0; i < 4; ++i) y[r + i] = s[i] + (bias != nullptr ? bias[r + i] : 0.0f);
  }
  for (; r < r1; ++r) {
    const std::uint16_t* mr = m + r * cols;
    __m512 a = _mm512_setzero_ps();
    for (std::int64_t c = 0; c < whole; c += 16) a = _mm512_fmadd_ps(widen16(mr + c, all), _mm512_loadu_ps(x + c), a);
    if (tail != 0) a = _mm512_fmadd_ps(widen16(mr + whole, tail), _mm512_maskz_loadu_ps(tail, x + whole), a);
    y[r] = _mm512_reduce_add_ps(a) + (bias != nullptr ? bias[r] : 0.0f);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

bool cpu_has_avx512() {
  // GCC's and Clang's checks include the operating system's support for the 512-bit state.
  // Every CPU with AVX-512 F also has F16C and FMA.
  static const bool has =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return has;
}
#endif

HalfKernel resolve(HalfKernel k) {
  if (k != HalfKernel::best) return k;
  if (half_kernel_available(HalfKernel::avx512)) return HalfKernel::avx512;
  if (half_kernel_available(HalfKernel::avx2)) return HalfKernel::avx2;
  return HalfKernel::portable;
}

RowsKernel rows_kernel(HalfKernel k) {
  switch (resolve(k)) {
#ifdef KAT_HALF_AVX512
    case HalfKernel::avx512:
      if (cpu_has_avx512()) return gemv_rows_avx512;
      break;
#endif
#ifdef KAT_HALF_AVX2
    case HalfKernel::avx2: return gemv_rows_avx2;
#endif
    case HalfKernel::portable: return gemv_rows_portable;
    default: break;
  }
  throw Error(
      fmt::format("float16 matrix-vector kernel '{}' is not available in this build on this CPU", half_kernel_name(k)));
}

}  // namespace

// The conversions in integer arithmetic, the same on every compiler and target (not all have a
// float16 type).
std::uint16_t float_to_half(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<std::uint16_t>(sign | 0x7E00u);   // NaN, quiet
  if (ax >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // from 65520 (halfway past 65504): inf
  if (ax < 0x38800000u) {
    // Below 2^-14, float16's smallest normal: a multiple of 2^-24, rounded to the nearest even one
    // (scaling by 2^24 is exact; the count may reach 1024, which is the smallest normal's bits).
    const float units = std::bit_cast<float>(ax) * 0x1p24f;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(std::nearbyint(units)));
  }
  // Normal: exponent rebiased from 127 to 15, 23 fraction bits rounded to 10, to nearest even (a
  // carry out of the fraction moves into the exponent, as it should).
  std::uint32_t h = (ax - 0x38000000u) >> 13;
  const std::uint32_t rest = ax & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu, fraction = h & 0x3FFu;
  if (exponent == 0) {  // zero or subnormal: fraction x 2^-24
    const float v = static_cast<float>(fraction) * 0x1p-24f;
    return sign != 0 ? -v : v;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000u | (fraction << 13));  // inf, NaN
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (fraction << 13));
}

float round_to_half(float x) { return half_to_float(float_to_half(x)); }

bool half_kernel_available(HalfKernel k) {
#ifdef KAT_HALF_AVX2
  constexpr bool avx2_built = true;
#else
  constexpr bool avx2_built = false;
#endif
  if (k == HalfKernel::avx2) return avx2_built;
#ifdef KAT_HALF_AVX512
  if (k == HalfKernel::avx512) return cpu_has_avx512();
#else
  if (k == HalfKernel::avx512) return false;
#endif
  return true;  // best, portable
}

const char* half_kernel_name(HalfKernel k) {
  switch (resolve(k)) {
    case HalfKernel::avx512: return "avx512";
    case HalfKernel::avx2: return "avx2";
    default: return "portable";
  }
}

HalfMatrix::HalfMatrix(const Tensor& m, bool transpose, const char* what) {
  if (!m.defined() || m.dim() != 2 || m.dtype() != DType::f32) {
    throw Error(
        fmt::format("{}: a float16 copy needs a 2-D float32 matrix, got {}", what,
                    m.defined() ? fmt::format("{} {}", to_string(m.shape()), dtype_name(m.dtype())) : "undefined"));
  }
  const Tensor src = (transpose ? m.transpose(0, 1) : m).contiguous();
  rows_ = src.size(0);
  cols_ = src.size(1);
  bits_.resize(static_cast<std::size_t>(rows_ * cols_));
  const float* p = src.data<float>();
  for (std::int64_t i = 0; i < rows_ * cols_; ++i) {
    if (!std::isfinite(p[i]) || std::fabs(p[i]) > kHalfMax) {
      throw Error(fmt::format("{}: element {} is {}, which float16 cannot hold (its range is +-65504)", what, i, p[i]));
    }
    bits_[static_cast<std::size_t>(i)] = float_to_half(p[i]);
  }
}

Tensor HalfMatrix::apply(const Tensor& x, const float* bias) const {
  if (!x.defined() || x.dim() < 1 || x.dtype() != DType::f32 || x.size(-1) != cols_) {
    throw Error(
        fmt::format("float16 product: expected float32 rows of {}, got {}", cols_,
                    x.defined() ? fmt::format("{} {}", to_string(x.shape()), dtype_name(x.dtype())) : "undefined"));
  }
  const Tensor xc = x.contiguous();
  Shape shape = x.shape();
  shape.back() = rows_;
  Tensor y = Tensor::empty(shape, DType::f32);
  std::int64_t n = 1;  // rows of x: every dimension but the last
  for (std::int64_t d = 0; d + 1 < x.dim(); ++d) n *= x.size(d);
  for (std::int64_t r = 0; r < n; ++r) gemv(xc.data<float>() + r * cols_, bias, y.data<float>() + r * rows_);
  return y;
}

float HalfMatrix::at(std::int64_t r, std::int64_t c) const {
  return half_to_float(bits_[static_cast<std::size_t>(r * cols_ + c)]);
}

void HalfMatrix::gemv(const float* x, const float* bias, float* y, HalfKernel kernel) const {
  const RowsKernel gemv_rows = rows_kernel(kernel);
  const std::uint16_t* m = bits_.data();
  const int threads = num_threads();
  // The same policy as float32 products of one row (core/kernels/gemm.h), in blocks of whole
  // groups of four rows.
  if (threads == 1 || in_parallel_region() || rows_ * cols_ < kSplitVectorProductFrom || rows_ < 8) {
    gemv_rows(m, cols_, x, bias, y, 0, rows_);
    return;
  }
  const std::int64_t groups = (rows_ + 3) / 4;
  const std::int64_t per = (groups + threads - 1) / threads;
  parallel_for(0, groups, per, [&](std::int64_t g0, std::int64_t g1) {
    gemv_rows(m, cols_, x, bias, y, g0 * 4, std::min(g1 * 4, rows_));
  });
}

}  // namespace kat
