#include "data/bible/verse_align.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace kat {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double log_add(double x, double y) {
  if (x == kNegInf) return y;
  if (y == kNegInf) return x;
  const double hi = std::max(x, y);
  return hi + std::log1p(std::exp(std::min(x, y) - hi));
}

struct Bead {
  int da;
  int db;
  double log_prior;
};

// Scores over a band of the (n + 1) x (m + 1) grid around the scaled diagonal.
class BandedGrid {
 public:
  BandedGrid(std::size_t n, std::size_t m, std::int64_t band) : n_(n), m_(m), band_(band) {
    width_ = static_cast<std::size_t>(2 * band_ + 1);
    cells_.assign((n_ + 1) * width_, kNegInf);
  }
  std::int64_t lo(std::size_t i) const { return std::max<std::int64_t>(0, center(i) - band_); }
  std::int64_t hi(std::size_t i) const {
    return std::min<std::int64_t>(static_cast<std::int64_t>(m_), center(i) + band_);
  }
  double get(std::int64_t i, std::int64_t j) const {
    if (i < 0 || j < 0 || i > static_cast<std::int64_t>(n_)) return kNegInf;
    const auto ui = static_cast<std::size_t>(i);
    if (j < lo(ui) || j > hi(ui)) return kNegInf;
    return cells_[ui * width_ + static_cast<std::size_t>(j - lo(ui))];
  }
  void set(std::size_t i, std::int64_t j, double v) { cells_[i * width_ + static_cast<std::size_t>(j - lo(i))] = v; }

 private:
  std::int64_t center(std::size_t i) const { return n_ == 0 ? 0 : static_cast<std::int64_t>((i * m_ + n_ / 2) / n_); }
  std::size_t n_, m_;
  std::int64_t band_;
  std::size_t width_;
  std::vector<double> cells_;
};

}  // namespace

LengthModel estimate_length_model(const std::vector<std::pair<std::int64_t, std::int64_t>>& same_key_lengths) {
  double total_a = 0.0, total_b = 0.0;
  for (const auto& [la, lb] : same_key_lengths) {
    if (la > 0 && lb > 0) total_a += static_cast<double>(la), total_b += static_cast<double>(lb);
  }
  if (total_a <= 0.0) throw Error("alignment: no pair of non-empty verses with the same key to estimate lengths from");
  LengthModel model;
  model.ratio = total_b / total_a;
  std::vector<double> deltas;
  for (const auto& [la, lb] : same_key_lengths) {
    if (la > 0 && lb > 0) {
      deltas.push_back((static_cast<double>(lb) - model.ratio * static_cast<double>(la)) /
                       std::sqrt(static_cast<double>(la)));
    }
  }
  const auto median = [](std::vector<double> v) {
    const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
    std::nth_element(v.begin(), mid, v.end());
    return *mid;
  };
  const double med = median(deltas);
  for (double& d : deltas) d = std::abs(d - med);
  const double sigma = 1.4826 * median(deltas);  // MAD -> standard deviation of a normal
  model.variance = std::max(2.0 * sigma * sigma, 0.5);
  return model;
}

double log_match_probability(std::int64_t la, std::int64_t lb, const LengthModel& model) {
  const double a = static_cast<double>(la), b = static_cast<double>(lb);
  const double mean = std::max((a + b / model.ratio) / 2.0, 1.0);
  const double delta = (b - model.ratio * a) / std::sqrt(mean * model.variance);
  const double p = std::erfc(std::abs(delta) / std::sqrt(2.0));  // 2 * (1 - Phi(|delta|))
  return std::log(std::max(p, 1e-300));
}

AlignmentResult align_by_length(const AlignmentSide& a, const AlignmentSide& b, const LengthModel& model,
                                const AlignmentOptions& options) {
  if (a.lengths.size() != a.keys.size() || b.lengths.size() != b.keys.size()) {
    throw Error("alignment: lengths and keys differ in size");
  }
  AlignmentResult result;
  const std::size_t n = a.lengths.size(), m = b.lengths.size();
  if (n == 0 || m == 0) return result;
  const std::int64_t band =
      std::max<std::int64_t>(options.band, std::abs(static_cast<std::int64_t>(n) - static_cast<std::int64_t>(m)) + 4);
  const Bead beads[] = {{1, 1, std::log(options.prior_1_1)}, {1, 0, std::log(options.prior_1_0)},
                        {0, 1, std::log(options.prior_1_0)}, {2, 1, std::log(options.prior_2_1)},
                        {1, 2, std::log(options.prior_2_1)}, {2, 2, std::log(options.prior_2_2)}};

  // Log score of the bead (da, db) that ends at cell (i, j).
  const auto score = [&](std::int64_t i, std::int64_t j, const Bead& bead) {
    double s = bead.log_prior;
    if (bead.da > 0 && bead.db > 0) {
      std::int64_t la = 0, lb = 0;
      for (std::int64_t k = i - bead.da; k < i; ++k) la += a.lengths[static_cast<std::size_t>(k)];
      for (std::int64_t k = j - bead.db; k < j; ++k) lb += b.lengths[static_cast<std::size_t>(k)];
      s += log_match_probability(la, lb, model);
    }
    if (bead.da == 1 && bead.db == 1 &&
        a.keys[static_cast<std::size_t>(i - 1)] != b.keys[static_cast<std::size_t>(j - 1)]) {
      s -= options.key_mismatch_penalty;
    }
    return s;
  };

  BandedGrid forward(n, m, band), backward(n, m, band);
  for (std::size_t i = 0; i <= n; ++i) {
    for (std::int64_t j = forward.lo(i); j <= forward.hi(i); ++j) {
      const auto si = static_cast<std::int64_t>(i);
      if (i == 0 && j == 0) {
        forward.set(i, j, 0.0);
        continue;
      }
      double acc = kNegInf;
      for (const Bead& bead : beads) {
        const double prev = forward.get(si - bead.da, j - bead.db);
        if (prev != kNegInf) acc = log_add(acc, prev + score(si, j, bead));
      }
      forward.set(i, j, acc);
    }
  }
  const double total = forward.get(static_cast<std::int64_t>(n), static_cast<std::int64_t>(m));
  if (total == kNegInf) throw Error("alignment: no path through the band; widen AlignmentOptions::band");
  for (std::size_t ui = n + 1; ui-- > 0;) {
    const auto i = static_cast<std::int64_t>(ui);
    for (std::int64_t j = backward.hi(ui); j >= backward.lo(ui); --j) {
      if (ui == n && j == static_cast<std::int64_t>(m)) {
        backward.set(ui, j, 0.0);
        continue;
      }
      double acc = kNegInf;
      for (const Bead& bead : beads) {
        if (i + bead.da > static_cast<std::int64_t>(n) || j + bead.db > static_cast<std::int64_t>(m)) continue;
        const double next = backward.get(i + bead.da, j + bead.db);
        if (next != kNegInf) acc = log_add(acc, next + score(i + bead.da, j + bead.db, bead));
      }
      backward.set(ui, j, acc);
    }
  }

  for (std::size_t ui = 1; ui <= n; ++ui) {
    const auto i = static_cast<std::int64_t>(ui);
    for (std::int64_t j = std::max<std::int64_t>(1, forward.lo(ui)); j <= forward.hi(ui); ++j) {
      const double prev = forward.get(i - 1, j - 1);
      const double next = backward.get(i, j);
      if (prev == kNegInf || next == kNegInf) continue;
      const double posterior = std::exp(prev + score(i, j, beads[0]) + next - total);
      if (posterior < options.min_posterior) continue;
      const double match =
          std::exp(log_match_probability(a.lengths[ui - 1], b.lengths[static_cast<std::size_t>(j - 1)], model));
      if (match < options.min_match_probability) {
        ++result.length_mismatch;
        continue;
      }
      result.pairs.push_back({ui - 1, static_cast<std::size_t>(j - 1), posterior, match});
    }
  }
  return result;
}

}  // namespace kat
