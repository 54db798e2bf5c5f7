#pragma once
// Rng: an explicit, seeded random number generator (xoshiro256**, seeded through SplitMix64).
// Nothing in kat draws from a hidden global generator: every random op takes an Rng&. A
// generator can be split into an independent stream, and its state saved and restored exactly.

#include <array>
#include <cstdint>

#include "core/tensor.h"

namespace kat {

class Rng {
 public:
  using State = std::array<std::uint64_t, 4>;

  explicit Rng(std::uint64_t seed = 0);

  std::uint64_t next_u64();
  double uniform();                      // [0, 1), 53 random bits
  double normal();                       // standard normal (Box-Muller)
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n), n > 0, without modulo bias

  // A new generator whose stream is independent of this one's; advances this generator.
  Rng split();

  State state() const { return s_; }
  void set_state(const State& s);

 private:
  State s_{};
};

// In-place fills of a float tensor (any layout) drawn from rng.
void fill_uniform(Tensor& t, Rng& rng, double low, double high);
void fill_normal(Tensor& t, Rng& rng, double mean, double stddev);

// A stateless hash of (key, counter) to a uniform double in [0, 1). Kernels that need one random
// number per element (dropout) draw one key from an Rng and hash the element index, so the
// result does not depend on how the work is split between threads.
double counter_uniform(std::uint64_t key, std::uint64_t counter);

}  // namespace kat
