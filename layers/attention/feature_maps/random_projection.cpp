#include "layers/attention/feature_maps/random_projection.h"

#include <fmt/format.h>

#include <cmath>

#include "core/kernels/qr.h"

namespace kat {

ProjectionNorms parse_projection_norms(const std::string& name) {
  if (name == "chi") return ProjectionNorms::chi;
  if (name == "sqrt_d") return ProjectionNorms::sqrt_d;
  throw Error(fmt::format("unknown projection norms '{}' (known: chi, sqrt_d)", name));
}

Tensor draw_projection(std::int64_t m, std::int64_t d, bool orthogonal, ProjectionNorms norms, Rng& rng) {
  if (m <= 0 || d <= 0) throw Error(fmt::format("draw_projection: need m > 0 and d > 0, got m={} d={}", m, d));
  Tensor w = Tensor::empty({m, d}, DType::f64);
  double* pw = w.data<double>();
  if (!orthogonal) {
    for (std::int64_t i = 0; i < m * d; ++i) pw[i] = rng.normal();
    return w;
  }
  for (std::int64_t start = 0; start < m; start += d) {
    Tensor g = Tensor::empty({d, d}, DType::f64);
    double* pg = g.data<double>();
    for (std::int64_t i = 0; i < d * d; ++i) pg[i] = rng.normal();
    const Tensor q = qr_orthonormal(g);  // rows orthonormal
    const double* pq = q.data<double>();
    const std::int64_t rows = std::min(d, m - start);
    for (std::int64_t r = 0; r < rows; ++r) {
      double norm = std::sqrt(static_cast<double>(d));
      if (norms == ProjectionNorms::chi) {
        double s = 0;
        for (std::int64_t j = 0; j < d; ++j) {
          const double z = rng.normal();
          s += z * z;
        }
        norm = std::sqrt(s);
      }
      for (std::int64_t j = 0; j < d; ++j) pw[(start + r) * d + j] = norm * pq[r * d + j];
    }
  }
  return w;
}

}  // namespace kat
