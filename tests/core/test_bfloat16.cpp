// bfloat16 matrix products (core/kernels/bfloat16.h): rounding, and kat::bmm in bfloat16 mode
// against a float64 reference over the same rounded operands.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "core/kernels/bfloat16.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"
#include "tests/test_util.h"

using namespace kat;
using kat::test::randn;

namespace {

std::uint32_t bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}

float rounded(float x) { return bfloat16_to_float(float_to_bfloat16(x)); }

// op(a) @ op(b) in float64 over the bfloat16 values of the operands, batch axes broadcast as bmm does
// (a and b contiguous, 3-D with equal or unit batch).
std::vector<double> reference(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  const std::int64_t m = ta ? a.size(-1) : a.size(-2), k = ta ? a.size(-2) : a.size(-1);
  const std::int64_t n = tb ? b.size(-2) : b.size(-1);
  const std::int64_t batch = std::max(a.size(0), b.size(0));
  auto widened = [](const Tensor& t) {
    std::vector<double> v(static_cast<std::size_t>(t.numel()));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = rounded(t.data<float>()[i]);
    return v;
  };
  const std::vector<double> va = widened(ac), vb = widened(bc);
  std::vector<double> c(static_cast<std::size_t>(batch * m * n));
  for (std::int64_t i = 0; i < batch; ++i) {
    const double* ai = va.data() + (a.size(0) == 1 ? 0 : i * m * k);
    const double* bi = vb.data() + (b.size(0) == 1 ? 0 : i * k * n);
    for (std::int64_t r = 0; r < m; ++r) {
      for (std::int64_t col = 0; col < n; ++col) {
        double s = 0.0;
        for (std::int64_t j = 0; j < k; ++j)
          s += (ta ? ai[j * m + r] : ai[r * k + j]) * (tb ? bi[col * k + j] : bi[j * n + col]);
        c[static_cast<std::size_t>((i * m + r) * n + col)] = s;
      }
    }
  }
  return c;
}

}  // namespace

TEST_CASE("bfloat16 rounding: to nearest even, float32's range, NaN kept") {
  CHECK(float_to_bfloat16(1.0f) == 0x3f80);
  CHECK(float_to_bfloat16(-2.0f) == 0xc000);
  // The spacing of bfloat16 at 1 is 2^-7: halfway cases go to the even neighbour.
  CHECK(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);
  CHECK(float_to_bfloat16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3f82);
  CHECK(float_to_bfloat16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3f81);
  CHECK(float_to_bfloat16(std::numeric_limits<float>::infinity()) == 0x7f80);
  CHECK(float_to_bfloat16(std::numeric_limits<float>::max()) == 0x7f80);  // beyond the largest bfloat16
  CHECK(std::isnan(rounded(std::numeric_limits<float>::quiet_NaN())));
  std::uint32_t snan_bits = 0x7f800001U;  // a signalling NaN whose payload lies in the dropped bits
  float snan;
  std::memcpy(&snan, &snan_bits, 4);
  CHECK(std::isnan(rounded(snan)));
  // Every bfloat16 value that is not NaN comes back exactly.
  for (std::uint32_t h = 0; h < 0x10000U; ++h) {
    const float x = bfloat16_to_float(static_cast<std::uint16_t>(h));
    if (std::isnan(x)) continue;
    REQUIRE(float_to_bfloat16(x) == h);
  }
  // The array conversion rounds each element as the scalar one, and within 2^-8 of its size.
  Rng rng(3);
  Tensor t = randn({4099}, rng, DType::f32);
  std::vector<float> x(t.data<float>(), t.data<float>() + t.numel());
  x[7] = std::numeric_limits<float>::quiet_NaN();
  x[8] = -std::numeric_limits<float>::infinity();
  x[9] = 0.0f;
  std::vector<std::uint16_t> h(x.size());
  to_bfloat16(x.data(), h.data(), static_cast<std::int64_t>(x.size()));
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::isnan(x[i])) {
      CHECK(std::isnan(bfloat16_to_float(h[i])));
      continue;
    }
    REQUIRE(h[i] == float_to_bfloat16(x[i]));
    if (std::isfinite(x[i])) CHECK(std::abs(bfloat16_to_float(h[i]) - x[i]) <= std::ldexp(std::abs(x[i]), -8));
  }
  CHECK((bits(bfloat16_to_float(0x8000)) == 0x80000000U));  // negative zero
}

TEST_CASE("bfloat16 products: bmm equals float64 over the rounded operands, and small or float64 products stay exact") {
  const std::string why = bfloat16_unavailable_reason();
  if (!why.empty()) {
    // Without the instructions or the library, asking for bfloat16 fails, saying why.
    MESSAGE("bfloat16 products unavailable here: " << why);
    CHECK_THROWS_WITH(set_matmul_precision(MatmulPrecision::bfloat16), doctest::Contains(why.c_str()));
    CHECK(matmul_precision() == MatmulPrecision::float32);
    return;
  }
  Rng rng(11);
  struct Case {
    std::int64_t batch_a, batch_b, m, n, k;
    bool ta, tb;
    int threads;
    int view;  // 0: operands as made; 1: a is a transposed view; 2: a is a slice (gaps between rows)
  };
  // Products of at least kBfloat16ProductsFrom multiply-adds: square and ragged, every transpose, a
  // broadcast batch, one product cut in blocks of rows or of columns over two threads, operands that
  // are views.
  const Case cases[] = {{1, 1, 256, 256, 256, false, false, 1, 0}, {1, 1, 300, 260, 232, true, false, 1, 0},
                        {1, 1, 257, 300, 240, false, true, 1, 0},  {1, 1, 270, 256, 250, true, true, 1, 0},
                        {2, 1, 256, 256, 256, false, true, 2, 0},  {1, 1, 512, 256, 256, false, false, 2, 0},
                        {1, 1, 200, 640, 140, true, false, 2, 0},  {2, 2, 256, 256, 256, false, false, 2, 0},
                        {1, 1, 256, 264, 256, false, false, 2, 1}, {1, 1, 256, 264, 256, false, true, 1, 2}};
  const int saved_threads = num_threads();
  for (const Case& c : cases) {
    CAPTURE(c.m);
    CAPTURE(c.n);
    CAPTURE(c.k);
    CAPTURE(c.ta);
    CAPTURE(c.tb);
    CAPTURE(c.view);
    set_num_threads(c.threads);
    const std::int64_t ra = c.ta ? c.k : c.m, ca = c.ta ? c.m : c.k;
    Tensor a = randn({c.batch_a, ra, ca}, rng, DType::f32);
    if (c.view == 1) a = randn({c.batch_a, ca, ra}, rng, DType::f32).transpose(1, 2);
    if (c.view == 2) a = randn({c.batch_a, ra, ca + 9}, rng, DType::f32).slice(2, 3, 3 + ca);
    const Tensor b = randn({c.batch_b, c.tb ? c.n : c.k, c.tb ? c.k : c.n}, rng, DType::f32);
    const std::int64_t batch = std::max(c.batch_a, c.batch_b);
    Tensor c32 = Tensor::zeros({batch, c.m, c.n}, DType::f32);
    Tensor c16 = Tensor::zeros({batch, c.m, c.n}, DType::f32);
    bmm(a, b, c32, c.ta, c.tb);
    {
      MatmulPrecisionScope scope(MatmulPrecision::bfloat16);
      CHECK(matmul_precision() == MatmulPrecision::bfloat16);
      bmm(a, b, c16, c.ta, c.tb);
    }
    CHECK(matmul_precision() == MatmulPrecision::float32);
    const std::vector<double> ref = reference(a, b, c.ta, c.tb);
    double worst = 0.0, moved = 0.0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      // float32 accumulation of k products of unit-variance terms: errors of order 1e-7 * k.
      worst = std::max(worst, std::abs(c16.data<float>()[i] - ref[i]));
      moved = std::max(moved, std::abs(static_cast<double>(c16.data<float>()[i]) - c32.data<float>()[i]));
    }
    CHECK(worst < 1e-5 * static_cast<double>(c.k));
    // The operands were rounded: the result is not the float32 product's.
    CHECK(moved > 1e-3);
  }
  set_num_threads(saved_threads);

  // A product below kBfloat16ProductsFrom, a matrix-vector product and a float64 product stay exact.
  MatmulPrecisionScope scope(MatmulPrecision::bfloat16);
  for (const auto& [m, n, k, dt] : {std::tuple{128, 128, 128, DType::f32}, std::tuple{1, 512, 512, DType::f32},
                                    std::tuple{256, 256, 256, DType::f64}}) {
    const Tensor a = randn({m, k}, rng, dt), b = randn({k, n}, rng, dt);
    Tensor plain = Tensor::zeros({m, n}, dt);
    {
      MatmulPrecisionScope off(MatmulPrecision::float32);
      gemm(a, b, plain);
    }
    Tensor mode = Tensor::zeros({m, n}, dt);
    gemm(a, b, mode);
    CHECK(std::memcmp(plain.raw_data(), mode.raw_data(), static_cast<std::size_t>(m * n) * dtype_size(dt)) == 0);
  }
}
