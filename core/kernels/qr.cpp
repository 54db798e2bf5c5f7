#include "core/kernels/qr.h"

#include <fmt/format.h>

#include <vector>

// LAPACK's Fortran entry points, exported by OpenBLAS (Debian ships no LAPACKE header with it).
extern "C" {
void dgeqrf_(const int* m, const int* n, double* a, const int* lda, double* tau, double* work, const int* lwork,
             int* info);
void dorgqr_(const int* m, const int* n, const int* k, double* a, const int* lda, const double* tau, double* work,
             const int* lwork, int* info);
}

namespace kat {

Tensor qr_orthonormal(const Tensor& a) {
  if (!a.defined() || a.dim() != 2 || a.size(0) != a.size(1) || a.size(0) == 0 || a.dtype() != DType::f64) {
    throw Error(fmt::format("qr_orthonormal: expected a non-empty square float64 matrix, got {} {}",
                            a.defined() ? dtype_name(a.dtype()) : "undefined",
                            a.defined() ? to_string(a.shape()) : ""));
  }
  const int n = static_cast<int>(a.size(0));
  // LAPACK is column-major: factor the transpose of the row-major matrix, a^T = Q' R', so that
  // a = R'^T Q'^T; the rows of Q'^T are then orthonormal. Either factor's Q is a random rotation
  // when a is Gaussian; we return Q'^T (row-major), whose rows are the projections.
  const Tensor ac = a.contiguous();
  std::vector<double> m(ac.data<double>(), ac.data<double>() + static_cast<std::size_t>(n) * n);
  std::vector<double> tau(n), r_diag(n);
  int info = 0, lwork = -1;
  double query = 0;
  dgeqrf_(&n, &n, m.data(), &n, tau.data(), &query, &lwork, &info);
  lwork = static_cast<int>(query);
  std::vector<double> work(std::max(lwork, n));
  lwork = static_cast<int>(work.size());
  dgeqrf_(&n, &n, m.data(), &n, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw Error(fmt::format("qr_orthonormal: dgeqrf failed (info {}) on a {} matrix", info, n));
  for (int i = 0; i < n; ++i) r_diag[i] = m[static_cast<std::size_t>(i) * n + i];
  dorgqr_(&n, &n, &n, m.data(), &n, tau.data(), work.data(), &lwork, &info);
  if (info != 0) throw Error(fmt::format("qr_orthonormal: dorgqr failed (info {}) on a {} matrix", info, n));
  // Column j of Q' (column-major: m[j*n .. j*n+n)) is row j of the result; flip it where R'
  // has a negative diagonal.
  Tensor q = Tensor::empty({n, n}, DType::f64);
  double* out = q.data<double>();
  for (int j = 0; j < n; ++j) {
    const double sign = r_diag[j] < 0 ? -1.0 : 1.0;
    for (int i = 0; i < n; ++i)
      out[static_cast<std::size_t>(j) * n + i] = sign * m[static_cast<std::size_t>(j) * n + i];
  }
  return q;
}

}  // namespace kat
