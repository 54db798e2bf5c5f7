#pragma once
// The random projections of FAVOR features (Choromanski et al. 2021, Section 2.4): m rows w_i of
// width D, drawn i.i.d. Gaussian, or as blocks of D mutually orthogonal rows (the Q factor of a
// Gaussian D x D matrix) rescaled to the norms Gaussian rows would have (chi with D degrees of
// freedom) or to sqrt(D). Orthogonal rows keep each w_i ~ N(0, I_D) marginally, so the features
// stay unbiased, and lower the estimator's variance (the paper's Theorem 2).

#include <cstdint>
#include <string>

#include "core/rng.h"
#include "core/tensor.h"

namespace kat {

enum class ProjectionNorms { chi, sqrt_d };

// Parses "chi" or "sqrt_d"; throws naming the value otherwise.
ProjectionNorms parse_projection_norms(const std::string& name);

// (m, d) float64 projection rows drawn from rng.
Tensor draw_projection(std::int64_t m, std::int64_t d, bool orthogonal, ProjectionNorms norms, Rng& rng);

}  // namespace kat
