#include "core/kernels/bfloat16.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <atomic>
#include <cstring>

#include "core/error.h"
#include "core/kernels/blas_kernels.h"

namespace kat {
namespace {

// oneDNN's C entry point (dnnl.h of oneDNN 2.x): row-major operands, status 0 on success.
using GemmBf16 = int (*)(char transa, char transb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                         const std::uint16_t* a, std::int64_t lda, const std::uint16_t* b, std::int64_t ldb, float beta,
                         float* c, std::int64_t ldc);
using SetThreads = void (*)(int);

constexpr const char* kLibrary = "libdnnl.so.2";

struct OneDnn {
  GemmBf16 gemm = nullptr;
  SetThreads omp_set_num_threads = nullptr;  // of the OpenMP runtime oneDNN was built with, if any
  std::string unavailable;                   // empty when gemm can run
};

// Opened once, at the first question; kept for the life of the process.
const OneDnn& onednn() {
  static const OneDnn lib = [] {
    OneDnn d;
    if (!cpu_has_avx512_bf16()) {
      d.unavailable = "this CPU has no AVX512_BF16 instructions (bfloat16 products need them)";
      return d;
    }
    ::dlerror();
    void* handle = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = ::dlerror();
      d.unavailable = fmt::format(
          "oneDNN's library {} cannot be loaded ({}); install Debian's package libdnnl2 "
          "(scripts/install-deps.sh does)",
          kLibrary, why != nullptr ? why : "unknown reason");
      return d;
    }
    d.gemm = reinterpret_cast<GemmBf16>(::dlsym(handle, "dnnl_gemm_bf16bf16f32"));
    if (d.gemm == nullptr) {
      d.unavailable = fmt::format("{} has no dnnl_gemm_bf16bf16f32", kLibrary);
      return d;
    }
    // Debian's oneDNN runs on GNU OpenMP: the team of a product is held to the calling thread.
    d.omp_set_num_threads = reinterpret_cast<SetThreads>(::dlsym(handle, "omp_set_num_threads"));
    return d;
  }();
  return lib;
}

std::atomic<MatmulPrecision> g_precision{MatmulPrecision::float32};

}  // namespace

std::string bfloat16_unavailable_reason() { return onednn().unavailable; }

void set_matmul_precision(MatmulPrecision p) {
  if (p == MatmulPrecision::bfloat16) {
    const std::string why = bfloat16_unavailable_reason();
    if (!why.empty()) throw Error("bfloat16 matrix products are not available: " + why);
  }
  g_precision.store(p, std::memory_order_relaxed);
}

MatmulPrecision matmul_precision() { return g_precision.load(std::memory_order_relaxed); }

std::uint16_t float_to_bfloat16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffU) > 0x7f800000U) return static_cast<std::uint16_t>((u >> 16) | 0x40U);  // quiet NaN
  u += 0x7fffU + ((u >> 16) & 1U);  // to nearest, ties to even; carries into the exponent as it should
  return static_cast<std::uint16_t>(u >> 16);
}

float bfloat16_to_float(std::uint16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

void to_bfloat16(const float* x, std::uint16_t* out, std::int64_t n) {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint32_t u;
    std::memcpy(&u, x + i, 4);
    const bool nan = (u & 0x7fffffffU) > 0x7f800000U;
    const std::uint32_t rounded = (u + 0x7fffU + ((u >> 16) & 1U)) >> 16;
    out[i] = static_cast<std::uint16_t>(nan ? ((u >> 16) | 0x40U) : rounded);
  }
}

void gemm_bf16(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
               const std::uint16_t* a, std::int64_t lda, const std::uint16_t* b, std::int64_t ldb, float beta, float* c,
               std::int64_t ldc) {
  const OneDnn& d = onednn();
  if (d.gemm == nullptr) throw Error("bfloat16 matrix products are not available: " + d.unavailable);
  // OpenMP's thread count is a per-thread setting: set once on each thread that calls.
  thread_local bool single = false;
  if (!single && d.omp_set_num_threads != nullptr) {
    d.omp_set_num_threads(1);
    single = true;
  }
  const int status = d.gemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (status != 0) {
    throw Error(fmt::format("dnnl_gemm_bf16bf16f32 ({} x {} x {}, lda {}, ldb {}, ldc {}) failed with status {}", m, n,
                            k, lda, ldb, ldc, status));
  }
}

}  // namespace kat
