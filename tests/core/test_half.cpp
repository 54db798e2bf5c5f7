// Float16 copies of matrices for decoding (core/kernels/half.h): rounding, range errors, and the
// matrix-vector product against a float64 reference over the same float16 values.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/kernels/half.h"
#include "core/parallel.h"
#include "tests/test_util.h"

using namespace kat;

namespace {

// y = M x + bias in float64 over the float16 values M keeps.
std::vector<double> reference(const HalfMatrix& m, const std::vector<float>& x, const float* bias) {
  std::vector<double> y(static_cast<std::size_t>(m.rows()));
  for (std::int64_t r = 0; r < m.rows(); ++r) {
    double s = bias != nullptr ? bias[r] : 0.0;
    for (std::int64_t c = 0; c < m.cols(); ++c) s += static_cast<double>(m.at(r, c)) * x[static_cast<std::size_t>(c)];
    y[static_cast<std::size_t>(r)] = s;
  }
  return y;
}

}  // namespace

TEST_CASE("float16 rounding keeps 11 significant bits and refuses what it cannot hold") {
  CHECK(round_to_half(1.0f) == 1.0f);
  CHECK(round_to_half(-0.375f) == -0.375f);
  CHECK(round_to_half(65504.0f) == 65504.0f);
  CHECK(round_to_half(1.0f + 1.0f / 4096) == 1.0f);                // below half a unit in the last place: rounds down
  CHECK(round_to_half(1.0f + 3.0f / 4096) == 1.0f + 1.0f / 1024);  // above it: rounds up
  for (float x : {0.1f, -3.14159f, 1e-3f, 1234.5f}) {
    CHECK(std::fabs(round_to_half(x) - x) <= std::fabs(x) * 0x1p-11f);
    CHECK(round_to_half(x) != x);
  }
  Tensor big = Tensor::zeros({2, 3}, DType::f32);
  big.data<float>()[4] = 70000.0f;
  CHECK_THROWS_WITH_AS(HalfMatrix(big, false, "fc1"), doctest::Contains("fc1: element 4 is 70000"), Error);
  big.data<float>()[4] = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(HalfMatrix(big, false, "fc1"), doctest::Contains("cannot hold"), Error);
  CHECK_THROWS_WITH_AS(HalfMatrix(Tensor::zeros({2, 3}, DType::f64), false, "q_proj"),
                       doctest::Contains("q_proj: a float16 copy needs a 2-D float32 matrix"), Error);
}

TEST_CASE("float16 conversions: every float16 value round-trips, float32 rounds to nearest even") {
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float f = half_to_float(bits);
    if ((bits & 0x7C00u) == 0x7C00u && (bits & 0x3FFu) != 0) {
      REQUIRE(std::isnan(f));
      continue;
    }
    REQUIRE(float_to_half(f) == bits);
  }
  CHECK(half_to_float(0x3C00u) == 1.0f);
  CHECK(half_to_float(0xC000u) == -2.0f);
  CHECK(half_to_float(0x0001u) == 0x1p-24f);  // the smallest subnormal
  CHECK(half_to_float(0x0400u) == 0x1p-14f);  // the smallest normal
  CHECK(half_to_float(0x7BFFu) == 65504.0f);
  CHECK(float_to_half(65519.0f) == 0x7BFFu);  // below halfway to 65536: the largest finite
  CHECK(float_to_half(65520.0f) == 0x7C00u);  // halfway, the largest is odd: to infinity
  CHECK(float_to_half(-1e6f) == 0xFC00u);
  CHECK(float_to_half(0x1p-25f) == 0x0000u);                // halfway to the smallest subnormal: to even zero
  CHECK(float_to_half(0x1p-25f * 3.0f) == 0x0002u);         // 1.5 units: to even 2
  CHECK(float_to_half(0x1p-14f - 0x1p-26f) == 0x0400u);     // rounds up into the smallest normal
  CHECK(float_to_half(1.0f + 0x1p-11f) == 0x3C00u);         // halfway, 1.0 is even
  CHECK(float_to_half(1.0f + 3.0f * 0x1p-11f) == 0x3C02u);  // halfway, up to even
  CHECK(float_to_half(2.0f - 0x1p-12f) == 0x4000u);         // the carry moves into the exponent
  CHECK((float_to_half(std::numeric_limits<float>::quiet_NaN()) & 0x7E00u) == 0x7E00u);
#ifdef __FLT16_MAX__
  // Against the compiler's own float16 type, over float32 bit patterns of every exponent.
  Rng rng(11);
  for (int i = 0; i < 200000; ++i) {
    const auto x = static_cast<std::uint32_t>(rng.next_u64());
    const float f = std::bit_cast<float>(x);
    if (std::isnan(f)) continue;
    REQUIRE(float_to_half(f) == std::bit_cast<std::uint16_t>(static_cast<_Float16>(f)));
  }
  for (std::uint32_t h = 0; h < 0x10000u; ++h) {
    const auto bits = static_cast<std::uint16_t>(h);
    const float want = static_cast<float>(std::bit_cast<_Float16>(bits));
    if (std::isnan(want)) continue;
    REQUIRE(half_to_float(bits) == want);
  }
#endif
}

TEST_CASE("float16 matrix-vector products equal float64 ones over the same values") {
  Rng rng(3);
  const int saved = num_threads();
  // Shapes with row and column tails (the vector path takes 4 rows by 8 columns), and a large one
  // that is split over two threads (from 1 Mi elements).
  struct Case {
    std::int64_t rows, cols;
    bool bias, transpose;
    int threads;
  };
  for (const Case& c : {Case{13, 37, true, false, 1}, Case{64, 256, false, true, 1}, Case{7, 5, true, true, 1},
                        Case{1024, 1032, true, true, 2}, Case{258, 260, true, false, 2}}) {
    CAPTURE(c.rows);
    CAPTURE(c.cols);
    set_num_threads(c.threads);
    const Tensor src = test::randn(c.transpose ? Shape{c.cols, c.rows} : Shape{c.rows, c.cols}, rng, DType::f32);
    const HalfMatrix m(src, c.transpose, "test");
    REQUIRE(m.rows() == c.rows);
    REQUIRE(m.cols() == c.cols);
    // The copy is the source (or its transpose) rounded.
    const float* ps = src.data<float>();
    for (std::int64_t r = 0; r < c.rows; r += 5) {
      for (std::int64_t k = 0; k < c.cols; k += 3) {
        const float v = c.transpose ? ps[k * c.rows + r] : ps[r * c.cols + k];
        CHECK(m.at(r, k) == round_to_half(v));
      }
    }
    std::vector<float> x(static_cast<std::size_t>(c.cols)), bias(static_cast<std::size_t>(c.rows));
    for (auto& v : x) v = static_cast<float>(rng.normal());
    for (auto& v : bias) v = static_cast<float>(rng.normal());
    const std::vector<double> want = reference(m, x, c.bias ? bias.data() : nullptr);
    for (HalfKernel k : {HalfKernel::best, HalfKernel::portable, HalfKernel::avx2, HalfKernel::avx512}) {
      if (!half_kernel_available(k)) continue;
      CAPTURE(half_kernel_name(k));
      std::vector<float> y(static_cast<std::size_t>(c.rows), std::numeric_limits<float>::quiet_NaN());
      m.gemv(x.data(), c.bias ? bias.data() : nullptr, y.data(), k);
      double worst = 0;
      for (std::size_t i = 0; i < y.size(); ++i) {
        worst = std::max(worst, std::fabs(y[i] - want[i]) / (1.0 + std::fabs(want[i])));
      }
      CHECK(worst < 2e-5);  // float32 sums of up to 1032 terms
    }
  }
  set_num_threads(saved);
}

TEST_CASE("float16 kernels: the best available is chosen and an unavailable one is refused") {
  CHECK(half_kernel_available(HalfKernel::portable));
  const std::string best = half_kernel_name(HalfKernel::best);
  if (half_kernel_available(HalfKernel::avx512)) {
    CHECK(best == "avx512");
  } else if (half_kernel_available(HalfKernel::avx2)) {
    CHECK(best == "avx2");
  } else {
    CHECK(best == "portable");
  }
  Rng rng(5);
  const HalfMatrix m(test::randn({8, 16}, rng, DType::f32), false, "test");
  std::vector<float> x(16, 1.0f), y(8);
  for (HalfKernel k : {HalfKernel::avx2, HalfKernel::avx512}) {
    if (half_kernel_available(k)) continue;
    CHECK_THROWS_WITH_AS(m.gemv(x.data(), nullptr, y.data(), k), doctest::Contains("is not available"), Error);
  }
}

TEST_CASE("float16 products of tensors: every row of any leading shape, and a clear error") {
  Rng rng(7);
  const HalfMatrix m(test::randn({5, 24}, rng, DType::f32), false, "test");
  const Tensor x = test::randn({2, 3, 24}, rng, DType::f32);
  std::vector<float> bias(5);
  for (auto& v : bias) v = static_cast<float>(rng.normal());
  const Tensor y = m.apply(x, bias.data());
  REQUIRE(y.shape() == Shape{2, 3, 5});
  std::vector<float> row(5);
  for (std::int64_t r = 0; r < 6; ++r) {
    m.gemv(x.data<float>() + r * 24, bias.data(), row.data());
    for (std::int64_t j = 0; j < 5; ++j) CHECK(y.data<float>()[r * 5 + j] == row[static_cast<std::size_t>(j)]);
  }
  CHECK(m.apply(Tensor::zeros({0, 24}, DType::f32)).shape() == Shape{0, 5});
  CHECK_THROWS_WITH_AS(m.apply(Tensor::zeros({2, 23}, DType::f32)),
                       doctest::Contains("expected float32 rows of 24, got (2, 23) float32"), Error);
  CHECK_THROWS_WITH_AS(m.apply(Tensor::zeros({2, 24}, DType::f64)), doctest::Contains("got (2, 24) float64"), Error);
}
