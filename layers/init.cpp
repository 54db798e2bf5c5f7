#include "layers/init.h"

#include <fmt/format.h>

#include <cmath>

namespace kat::init {

void xavier_uniform(Tensor& w, Rng& rng, double gain) {
  if (w.dim() < 2) throw Error(fmt::format("xavier_uniform: needs a matrix, got shape {}", to_string(w.shape())));
  const double fan_in = static_cast<double>(w.size(0));
  const std::int64_t receptive = w.numel() / w.size(0);  // the product of the other axes, exact
  const double fan_out = static_cast<double>(receptive);
  const double a = gain * std::sqrt(6.0 / (fan_in + fan_out));
  fill_uniform(w, rng, -a, a);
}

void normal(Tensor& w, Rng& rng, double stddev, double mean) { fill_normal(w, rng, mean, stddev); }
void uniform(Tensor& w, Rng& rng, double low, double high) { fill_uniform(w, rng, low, high); }
void zeros(Tensor& w) { w.zero_(); }
void ones(Tensor& w) { w.fill_(1.0); }

}  // namespace kat::init
