#pragma once
// Float16 copies of float32 matrices, for decoding one token at a time. A decoding step reads every
// weight matrix of the model once to multiply it by one row; that read, not the arithmetic, is
// its cost, and IEEE float16 halves it. The arithmetic stays float32: each weight is widened as it
// is read (sixteen at a time with AVX-512 where the CPU has it, eight with F16C where the build
// has AVX2; see HalfKernel), products and sums are float32.
// Rounding a weight to float16 changes it by at most 2^-11 of its magnitude (round to nearest
// even); the outputs of a product move by about 2e-4 of their size.

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace kat {

// The matrix-vector kernels: `portable` in plain C++, `avx2` (eight float16 weights widened per
// instruction with F16C, built when the instruction set flag has AVX2, F16C and FMA) and `avx512`
// (sixteen per instruction, built on x86-64 with GCC or Clang and chosen at run time when the CPU
// has AVX-512 F, BW and VL, whatever the flag). `best` is the fastest this build and CPU can run.
enum class HalfKernel { best, portable, avx2, avx512 };
// Whether this build and this CPU can run kernel k (`best` and `portable` always can).
bool half_kernel_available(HalfKernel k);
const char* half_kernel_name(HalfKernel k);  // "portable", "avx2" or "avx512"; `best` gives the one chosen

class HalfMatrix {
 public:
  HalfMatrix() = default;
  // A float16 copy of the 2-D float32 tensor m, or of its transpose. Throws when an element is not
  // finite or beyond float16's range (65504), naming `what`.
  HalfMatrix(const Tensor& m, bool transpose, const char* what);

  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  // Element (r, c), widened to float32.
  float at(std::int64_t r, std::int64_t c) const;

  // y (rows) = M x (cols) + bias (rows, or null). Rows are split over the threads when the matrix
  // is large enough to pay for it (kSplitVectorProductFrom), as float32 matrix-vector products are.
  // `kernel` chooses the code (tests compare them); one that is not available throws.
  void gemv(const float* x, const float* bias, float* y, HalfKernel kernel = HalfKernel::best) const;
  // Every row of x (a float32 tensor whose last dimension is cols) times the matrix: a tensor of x's
  // shape with rows as its last dimension. Each row reads the whole matrix, so this is meant for the
  // few rows of a decoding step.
  Tensor apply(const Tensor& x, const float* bias = nullptr) const;

 private:
  std::int64_t rows_ = 0, cols_ = 0;
  std::vector<std::uint16_t> bits_;  // row-major float16
};

// Forwards of at most this many rows (one token of up to four sequences: a decoding step, or a
// beam of four) read a layer's float16 copy when it has one; more rows go through float32 GEMM.
constexpr std::int64_t kHalfRowsAtMost = 4;

// IEEE float16 bits from float32, rounded to nearest even (beyond +-65504 to infinity, NaN to a
// quiet NaN), and back (exact).
std::uint16_t float_to_half(float x);
float half_to_float(std::uint16_t h);
// Float32 rounded to the nearest float16 and back (what HalfMatrix keeps of a value).
float round_to_half(float x);

}  // namespace kat
