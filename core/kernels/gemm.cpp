#include "core/kernels/gemm.h"

#include <cblas.h>
#include <fmt/format.h>

#include <algorithm>
#include <type_traits>

#include "core/kernels/bfloat16.h"
#include "core/parallel.h"

namespace kat {
namespace {

// A matrix operand as BLAS sees it: a pointer, a transpose flag and a leading dimension.
struct BlasMatrix {
  bool trans = false;  // the operand as stored is the transpose of the logical matrix
  std::int64_t ld = 1;
};

// Chooses how BLAS reads the last two axes (rows, cols) of t, or returns false when neither axis has
// unit stride (the caller copies).
bool blas_layout(std::int64_t rows, std::int64_t cols, std::int64_t row_stride, std::int64_t col_stride,
                 BlasMatrix& m) {
  if (cols == 1 || col_stride == 1) {
    if (rows == 1 || row_stride >= std::max<std::int64_t>(cols, 1)) {
      m = {false, rows == 1 ? std::max<std::int64_t>(cols, 1) : row_stride};
      return true;
    }
  }
  if (rows == 1 || row_stride == 1) {
    if (cols == 1 || col_stride >= std::max<std::int64_t>(rows, 1)) {
      m = {true, cols == 1 ? std::max<std::int64_t>(rows, 1) : col_stride};
      return true;
    }
  }
  return false;
}

// Makes a tensor whose last two axes BLAS can read; copies only when it must.
Tensor blas_ready(const Tensor& t, BlasMatrix& m) {
  const std::int64_t d = t.dim();
  if (blas_layout(t.size(d - 2), t.size(d - 1), t.stride(d - 2), t.stride(d - 1), m)) return t;
  Tensor c = t.contiguous();
  blas_layout(c.size(d - 2), c.size(d - 1), c.stride(d - 2), c.stride(d - 1), m);
  return c;
}

template <typename T>
void gemv_call(bool trans, std::int64_t rows, std::int64_t cols, T alpha, const T* a, std::int64_t lda, const T* x,
               std::int64_t incx, T beta, T* y, std::int64_t incy) {
  const auto op = trans ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemv(CblasRowMajor, op, static_cast<int>(rows), static_cast<int>(cols), alpha, a, static_cast<int>(lda), x,
                static_cast<int>(incx), beta, y, static_cast<int>(incy));
  } else {
    cblas_dgemv(CblasRowMajor, op, static_cast<int>(rows), static_cast<int>(cols), alpha, a, static_cast<int>(lda), x,
                static_cast<int>(incx), beta, y, static_cast<int>(incy));
  }
}

template <typename T>
void gemm_call(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a, std::int64_t lda,
               const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  // A product with one row or one column is a matrix-vector product: GEMV reads the matrix once,
  // where GEMM would first pack (copy) all of it. Token-by-token decoding is made of these.
  if (m == 1) {
    // c (1 x n) = a (1 x k) op(b): c^T = op(b)^T a^T. The row of a lies with stride 1, or with stride
    // lda when a is stored transposed (k x 1).
    if (tb) {
      gemv_call<T>(false, n, k, alpha, b, ldb, a, ta ? lda : 1, beta, c, 1);  // b stored (n x k)
    } else {
      gemv_call<T>(true, k, n, alpha, b, ldb, a, ta ? lda : 1, beta, c, 1);  // b stored (k x n)
    }
    return;
  }
  if (n == 1) {
    // c (m x 1) = op(a) b: the column of b lies with stride ldb, or 1 when b is stored as a row.
    if (ta) {
      gemv_call<T>(true, k, m, alpha, a, lda, b, tb ? 1 : ldb, beta, c, ldc);  // a stored (k x m)
    } else {
      gemv_call<T>(false, m, k, alpha, a, lda, b, tb ? 1 : ldb, beta, c, ldc);  // a stored (m x k)
    }
    return;
  }
  const auto opa = ta ? CblasTrans : CblasNoTrans;
  const auto opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, opa, opb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
                static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, opa, opb, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
                static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
  }
}

std::string shapes_message(const char* op, const Tensor& a, const Tensor& b, bool ta, bool tb) {
  return fmt::format("{}: cannot multiply {}{} by {}{}", op, to_string(a.shape()), ta ? "^T" : "", to_string(b.shape()),
                     tb ? "^T" : "");
}

void check_operands(const char* op, const Tensor& a, const Tensor& b, const Tensor& c) {
  if (!a.defined() || !b.defined() || !c.defined()) throw Error(fmt::format("{}: undefined tensor", op));
  if (a.dtype() != b.dtype() || a.dtype() != c.dtype()) {
    throw Error(fmt::format("{}: element types differ: {} @ {} into {}", op, dtype_name(a.dtype()),
                            dtype_name(b.dtype()), dtype_name(c.dtype())));
  }
  if (a.dim() < 2 || b.dim() < 2 || c.dim() < 2) {
    throw Error(fmt::format("{}: operands need at least 2 dimensions, got {}, {} and output {}", op,
                            to_string(a.shape()), to_string(b.shape()), to_string(c.shape())));
  }
  if (a.numel() == 0 || b.numel() == 0) {
    throw Error(fmt::format("{}: empty operand {} or {}", op, to_string(a.shape()), to_string(b.shape())));
  }
}

// Whether t's elements occupy exactly numel() consecutive elements of memory from its data pointer
// (strides >= 0, no gaps, no element twice): a contiguous tensor or a permutation of one.
bool dense(const Tensor& t) {
  std::int64_t span = 1;
  for (std::int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) == 0) return false;
    if (t.stride(d) < 0) return false;
    span += (t.size(d) - 1) * t.stride(d);
  }
  return span == t.numel();
}

// The numel() float32 values from t's data pointer rounded to bfloat16, in memory order (t dense),
// split over the threads when many. The copy lives in a tensor block (two bfloat16 values per
// float32 element), so that a steady-state training step takes it from the block cache.
Tensor bfloat16_copy(const Tensor& t, int threads) {
  const std::int64_t n = t.numel();
  Tensor out = Tensor::empty({(n + 1) / 2}, DType::f32);
  auto* h = static_cast<std::uint16_t*>(out.raw_data());
  const float* x = t.data<float>();
  constexpr std::int64_t grain = std::int64_t{1} << 16;
  if (threads == 1 || in_parallel_region() || n < 2 * grain) {
    to_bfloat16(x, h, n);
  } else {
    parallel_for(0, n, grain, [&](std::int64_t b, std::int64_t e) { to_bfloat16(x + b, h + b, e - b); });
  }
  return out;
}

}  // namespace

void gemv_row(const float* x, const float* w, std::int64_t k, std::int64_t n, float beta, float* y, bool w_transposed) {
  if (w_transposed) {
    gemv_call<float>(false, n, k, 1.0f, w, k, x, 1, beta, y, 1);
  } else {
    gemv_call<float>(true, k, n, 1.0f, w, n, x, 1, beta, y, 1);
  }
}

void blas_set_num_threads(int n) { openblas_set_num_threads(n); }
int blas_num_threads() { return openblas_get_num_threads(); }

void gemm(const Tensor& a, const Tensor& b, Tensor& c, bool trans_a, bool trans_b, double alpha, double beta) {
  check_operands("gemm", a, b, c);
  if (a.dim() != 2 || b.dim() != 2 || c.dim() != 2) {
    throw Error(fmt::format("gemm: expected 2-D operands, got {}, {} and output {}", to_string(a.shape()),
                            to_string(b.shape()), to_string(c.shape())));
  }
  bmm(a, b, c, trans_a, trans_b, alpha, beta);
}

void bmm(const Tensor& a, const Tensor& b, Tensor& c, bool trans_a, bool trans_b, double alpha, double beta) {
  check_operands("bmm", a, b, c);
  const std::int64_t m = trans_a ? a.size(-1) : a.size(-2);
  const std::int64_t k = trans_a ? a.size(-2) : a.size(-1);
  const std::int64_t kb = trans_b ? b.size(-1) : b.size(-2);
  const std::int64_t n = trans_b ? b.size(-2) : b.size(-1);
  if (k != kb) throw Error(shapes_message("bmm", a, b, trans_a, trans_b));
  if (c.size(-2) != m || c.size(-1) != n) {
    throw Error(fmt::format("{}: output has shape {}, expected (..., {}, {})",
                            shapes_message("bmm", a, b, trans_a, trans_b), to_string(c.shape()), m, n));
  }
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape batch(c.shape().begin(), c.shape().end() - 2);
  if (broadcast_shapes(broadcast_shapes(batch_a, batch_b, "bmm"), batch, "bmm") != batch) {
    throw Error(fmt::format("bmm: batch axes of {} and {} do not broadcast to the output's {}", to_string(a.shape()),
                            to_string(b.shape()), to_string(c.shape())));
  }
  if (c.stride(-1) != 1 || (m > 1 && c.stride(-2) < n)) {
    throw Error(fmt::format("bmm: output of shape {} needs unit stride on its last axis", to_string(c.shape())));
  }

  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  const bool vector_product = m == 1 || n == 1;
  // bfloat16 mode (core/kernels/bfloat16.h): the operands of a large float32 product are rounded
  // once, whole, into copies of the same layout that the products below read in place of the
  // originals.
  const bool bf16 = c.dtype() == DType::f32 && matmul_precision() == MatmulPrecision::bfloat16 && !vector_product &&
                    flops / 2.0 >= kBfloat16ProductsFrom;
  BlasMatrix la, lb;
  Tensor ar = blas_ready(a, la);
  Tensor br = blas_ready(b, lb);
  if (bf16) {
    // The rounded copy keeps the operand's layout when its elements fill their span of memory
    // (a contiguous tensor or a transposed view of one); anything else is made contiguous first.
    if (!dense(ar)) ar = blas_ready(ar.contiguous(), la);
    if (!dense(br)) br = blas_ready(br.contiguous(), lb);
  }
  const std::int64_t ldc = m == 1 ? std::max<std::int64_t>(n, 1) : c.stride(-2);
  const std::int64_t nbatch = numel(batch);
  // Element offsets of each batch item, through broadcast strides.
  const Strides sa = broadcast_strides(batch_a, Strides(ar.strides().begin(), ar.strides().end() - 2), batch);
  const Strides sb = broadcast_strides(batch_b, Strides(br.strides().begin(), br.strides().end() - 2), batch);
  const Strides sc(c.strides().begin(), c.strides().end() - 2);
  auto offsets = [&](std::int64_t i, std::int64_t& oa, std::int64_t& ob, std::int64_t& oc) {
    oa = ob = oc = 0;
    for (std::int64_t d = static_cast<std::int64_t>(batch.size()) - 1; d >= 0; --d) {
      const std::int64_t idx = i % batch[d];
      i /= batch[d];
      oa += idx * sa[d];
      ob += idx * sb[d];
      oc += idx * sc[d];
    }
  };
  // The logical op(a) is (m, k): BLAS transposes a when exactly one of the flag and the storage does.
  const bool ta = trans_a != la.trans;
  const bool tb = trans_b != lb.trans;
  const int threads = num_threads();

  // Runs every product of the batch with `call` (a gemm_call), on operands pa and pb laid out as
  // ar and br are.
  auto products = [&](const auto* pa, const auto* pb, auto* pc, auto alpha_t, auto beta_t, auto&& call) {
    auto one = [&](std::int64_t i) {
      std::int64_t oa, ob, oc;
      offsets(i, oa, ob, oc);
      call(ta, tb, m, n, k, alpha_t, pa + oa, la.ld, pb + ob, lb.ld, beta_t, pc + oc, ldc);
    };
    // Threading policy (core/parallel.h): OpenBLAS runs on the calling thread only; oneTBB splits
    // the work. A batch of products runs its items in parallel; a single large product is cut
    // into blocks of rows (or of columns, when it has few rows), one per thread.
    // A product of one row or column (GEMV) is bound by reading its matrix, not by arithmetic: it is
    // split once the matrix has 64 Ki elements (256 KB of float32, some 9 us on one core). Whether
    // two threads pay for a token depends on the machine: on an AMD EPYC the reference model's
    // decoding took 0.38-0.41 ms per token on two threads against 0.25-0.36 on one (bench/RESULTS.md
    // section 13), on an Intel Xeon 0.33-0.41 against 0.49 (section 24). `kat generate` measures
    // both and decodes on the faster (layers/decoding/threads.h).
    const double size = static_cast<double>(nbatch) *
                        (vector_product ? static_cast<double>(k) * static_cast<double>(std::max(m, n)) : flops);
    const double serial_below = vector_product ? static_cast<double>(kSplitVectorProductFrom) : 2.0 * 96 * 96 * 96;
    if (threads == 1 || in_parallel_region() || size < serial_below) {
      for (std::int64_t i = 0; i < nbatch; ++i) one(i);
    } else if (nbatch >= threads) {
      parallel_for(0, nbatch, 1, [&](std::int64_t b0, std::int64_t e0) {
        for (std::int64_t i = b0; i < e0; ++i) one(i);
      });
    } else if (nbatch == 1 && ((m == 1 && !tb && k >= 2 * threads) || (m > 1 && n > 1 && k >= 4 * std::max(m, n)))) {
      // Along the inner dimension: each thread takes a block of it into its own partial product,
      // and the partials are added. For one row times a matrix stored (k, n), as a decoding step's
      // products are, a block is whole rows of the matrix (contiguous memory); split by columns,
      // each thread would read a part of every row (measured 1.1-1.4x slower on two threads for
      // 256 x 1,024 and 1,024 x 256 matrices). For a long inner dimension (a weight's gradient
      // x^T g over thousands of rows), split by rows every thread would pack all of the other
      // operand (measured 1.07-1.25x slower for 256 x 256 and 256 x 1,024 over 4,096 rows).
      // The first block goes straight into c (with beta); the others into partials then added.
      using C = std::remove_pointer_t<decltype(pc)>;
      const std::int64_t parts = threads;
      Tensor scratch = Tensor::empty({parts - 1, m, n}, c.dtype());
      C* partial = static_cast<C*>(scratch.raw_data());
      parallel_for(0, parts, 1, [&](std::int64_t p0, std::int64_t p1) {
        for (std::int64_t part = p0; part < p1; ++part) {
          const std::int64_t lo = k * part / parts, hi = k * (part + 1) / parts;
          C* out = part == 0 ? pc : partial + (part - 1) * m * n;
          call(ta, tb, m, n, hi - lo, alpha_t, pa + (ta ? lo * la.ld : lo), la.ld, pb + (tb ? lo : lo * lb.ld), lb.ld,
               part == 0 ? beta_t : C(0), out, part == 0 ? ldc : n);
        }
      });
      parallel_for(0, m, std::max<std::int64_t>(1, 16384 / n), [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r) {
          C* row = pc + r * ldc;
          for (std::int64_t part = 1; part < parts; ++part) {
            const C* add = partial + ((part - 1) * m + r) * n;
#pragma omp simd
            for (std::int64_t j = 0; j < n; ++j) row[j] += add[j];
          }
        }
      });
    } else {
      // Fewer items than threads: each item's rows (or columns) in `parts` blocks.
      const bool by_rows = m >= n;
      const std::int64_t extent = by_rows ? m : n;
      const std::int64_t parts = std::min<std::int64_t>(extent, (threads + nbatch - 1) / nbatch);
      parallel_for(0, nbatch * parts, 1, [&](std::int64_t b0, std::int64_t e0) {
        for (std::int64_t job = b0; job < e0; ++job) {
          const std::int64_t i = job / parts, part = job % parts;
          const std::int64_t lo = extent * part / parts, hi = extent * (part + 1) / parts;
          if (hi <= lo) continue;
          std::int64_t oa, ob, oc;
          offsets(i, oa, ob, oc);
          if (by_rows) {  // rows lo..hi of op(a) and of c
            call(ta, tb, hi - lo, n, k, alpha_t, pa + oa + (ta ? lo : lo * la.ld), la.ld, pb + ob, lb.ld, beta_t,
                 pc + oc + lo * ldc, ldc);
          } else {  // columns lo..hi of op(b) and of c
            call(ta, tb, m, hi - lo, k, alpha_t, pa + oa, la.ld, pb + ob + (tb ? lo * lb.ld : lo), lb.ld, beta_t,
                 pc + oc + lo, ldc);
          }
        }
      });
    }
  };

  if (bf16) {
    const Tensor a16 = bfloat16_copy(ar, threads);
    const Tensor b16 = bfloat16_copy(br, threads);
    products(static_cast<const std::uint16_t*>(a16.raw_data()), static_cast<const std::uint16_t*>(b16.raw_data()),
             c.data<float>(), static_cast<float>(alpha), static_cast<float>(beta),
             [](auto... args) { gemm_bf16(args...); });
    return;
  }
  dispatch_float(c.dtype(), "bmm", [&](auto tag) {
    using T = decltype(tag);
    products(ar.data<T>(), br.data<T>(), c.data<T>(), static_cast<T>(alpha), static_cast<T>(beta),
             [](auto... args) { gemm_call<T>(args...); });
  });
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) throw Error("matmul: undefined tensor");
  if (a.dim() < 2 || b.dim() < 2) {
    throw Error(fmt::format("matmul: operands need at least 2 dimensions, got {} and {}", to_string(a.shape()),
                            to_string(b.shape())));
  }
  if (a.size(-1) != b.size(-2)) throw Error(shapes_message("matmul", a, b, false, false));
  if (b.dim() == 2) {
    // Fold a's leading axes into rows: one GEMM.
    Shape out_shape = a.shape();
    out_shape.back() = b.size(1);
    Tensor a2 = a.reshape({-1, a.size(-1)});
    Tensor out = Tensor::empty(out_shape, a.dtype());
    Tensor o2 = out.view({a2.size(0), b.size(1)});
    gemm(a2, b, o2);
    return out;
  }
  Shape batch = broadcast_shapes(Shape(a.shape().begin(), a.shape().end() - 2),
                                 Shape(b.shape().begin(), b.shape().end() - 2), "matmul");
  batch.push_back(a.size(-2));
  batch.push_back(b.size(-1));
  Tensor out = Tensor::empty(batch, a.dtype());
  bmm(a, b, out);
  return out;
}

}  // namespace kat
