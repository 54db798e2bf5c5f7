#pragma once
// Matrix products with bfloat16 operands and float32 accumulation, for mixed-precision training
// (train.precision: bf16).
//
// bfloat16 keeps float32's 8-bit exponent and 7 of its 23 mantissa bits: a value rounded to it
// moves by at most 2^-8 of its magnitude (round to nearest even), and its range is float32's, so
// no loss scaling is needed. Where the CPU has AVX512_BF16 a bfloat16 product does twice the
// multiply-adds of a float32 one per instruction and reads half the bytes.
//
// While the process-wide precision is bfloat16 (set_matmul_precision), every float32 matrix
// product of kat::gemm / bmm / matmul of at least kBfloat16ProductsFrom multiply-adds and more than
// one row and column rounds its two operands to bfloat16 and accumulates in float32 into a float32
// result; matrix-vector products, float64 products (gradient checks) and everything else stay as
// they are. The model's weights, gradients, optimizer state and reductions stay float32: only the
// copies handed to the product are rounded.
//
// The products run through oneDNN's dnnl_gemm_bf16bf16f32 (Debian's libdnnl2), opened at the first
// use: Debian's OpenBLAS 0.3.21 is built without its bfloat16 GEMM (cblas.h declares
// cblas_sbgemm, the library has no such symbol). Each product runs on the calling thread with
// oneDNN's OpenMP team held to one thread; oneTBB splits the work as it does for OpenBLAS
// (core/parallel.h), so the two never nest.

#include <cstdint>
#include <string>

namespace kat {

enum class MatmulPrecision { float32, bfloat16 };

// Float32 products of fewer multiply-adds than this stay float32 in bfloat16 mode: rounding their
// operands and oneDNN's call cost more than the faster product saves. With 32^3 the reference LM's
// per-head attention products (256 x 64 x 256) went bfloat16 too and its softmax attention's
// backward took 120 ms a step instead of 56 (Intel Xeon, Sapphire Rapids, 2 threads).
inline constexpr double kBfloat16ProductsFrom = 256.0 * 256.0 * 256.0;

// Empty when bfloat16 products can run here; otherwise why not, in one sentence (the CPU lacks
// AVX512_BF16; oneDNN's library libdnnl.so.2 cannot be loaded).
std::string bfloat16_unavailable_reason();

// Sets the precision of float32 matrix products for the whole process. bfloat16 throws kat::Error
// with the reason above when it cannot run.
void set_matmul_precision(MatmulPrecision p);
MatmulPrecision matmul_precision();

// Sets a precision for the life of the scope and restores the previous one.
class MatmulPrecisionScope {
 public:
  explicit MatmulPrecisionScope(MatmulPrecision p) : previous_(matmul_precision()) { set_matmul_precision(p); }
  ~MatmulPrecisionScope() { set_matmul_precision(previous_); }
  MatmulPrecisionScope(const MatmulPrecisionScope&) = delete;
  MatmulPrecisionScope& operator=(const MatmulPrecisionScope&) = delete;

 private:
  MatmulPrecision previous_;
};

// bfloat16 bits of a float32, rounded to nearest even (NaN stays a quiet NaN; values beyond
// bfloat16's largest finite one round to infinity as float32's own would), and back (exact).
std::uint16_t float_to_bfloat16(float x);
float bfloat16_to_float(std::uint16_t h);
// n float32 values to bfloat16, rounded as float_to_bfloat16.
void to_bfloat16(const float* x, std::uint16_t* out, std::int64_t n);

// c (m x n, row-major, leading dimension ldc) = alpha * op(a) op(b) + beta * c with bfloat16
// operands stored row-major (op transposes when its flag is set) and float32 accumulation, on the
// calling thread. Needs bfloat16 available (throws kat::Error with the reason otherwise).
void gemm_bf16(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
               const std::uint16_t* a, std::int64_t lda, const std::uint16_t* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc);

}  // namespace kat
