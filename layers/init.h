#pragma once
// Parameter initializers. Each fills a tensor in place from the generator it is given.

#include "core/rng.h"
#include "core/tensor.h"

namespace kat::init {

// U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio 2010). For a 2-D
// (in, out) weight fan_in = rows and fan_out = columns.
void xavier_uniform(Tensor& w, Rng& rng, double gain = 1.0);
void normal(Tensor& w, Rng& rng, double stddev, double mean = 0.0);
void uniform(Tensor& w, Rng& rng, double low, double high);
void zeros(Tensor& w);
void ones(Tensor& w);

}  // namespace kat::init
