#include "core/rng.h"

#include <cmath>

#include "core/kernels/elementwise.h"

namespace kat {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

template <typename Draw>
void fill_with(Tensor& t, Draw&& draw) {
  // Draw in row-major order into a contiguous float64 buffer, then convert into t's layout, so the
  // values depend only on the shape and the generator, never on the layout or the thread count.
  Tensor tmp = Tensor::empty(t.shape(), DType::f64);
  double* p = tmp.data<double>();
  for (std::int64_t i = 0; i < tmp.numel(); ++i) p[i] = draw();
  copy(tmp, t);
}

}  // namespace

Rng::Rng(std::uint64_t seed) {
  std::uint64_t x = seed;
  for (auto& w : s_) w = splitmix64(x);
}

std::uint64_t Rng::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  // 1 - uniform() lies in (0, 1], so the log is finite.
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::uint64_t Rng::below(std::uint64_t n) {
  if (n == 0) throw Error("Rng::below: n must be positive");
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x = next_u64();
  while (x >= limit) x = next_u64();
  return x % n;
}

Rng Rng::split() {
  std::uint64_t x = next_u64() ^ 0xD1B54A32D192ED03ULL;
  Rng child(0);
  for (auto& w : child.s_) w = splitmix64(x);
  return child;
}

void Rng::set_state(const State& s) {
  if (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0) {
    throw Error("Rng::set_state: the all-zero state is not a valid xoshiro256** state");
  }
  s_ = s;
}

void fill_uniform(Tensor& t, Rng& rng, double low, double high) {
  if (!(low <= high)) throw Error("fill_uniform: low must not exceed high");
  fill_with(t, [&] { return low + (high - low) * rng.uniform(); });
}

void fill_normal(Tensor& t, Rng& rng, double mean, double stddev) {
  if (!(stddev >= 0)) throw Error("fill_normal: stddev must be non-negative");
  fill_with(t, [&] { return mean + stddev * rng.normal(); });
}

double counter_uniform(std::uint64_t key, std::uint64_t counter) {
  std::uint64_t x = key ^ (counter * 0xD6E8FEB86659FD93ULL);
  const std::uint64_t h = splitmix64(x);
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

}  // namespace kat
