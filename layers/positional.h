#pragma once
// Positional encodings added to token embeddings: the fixed sinusoids of Vaswani et al. 2017
// (Section 3.5) or a learned table. Both take the first position's index, so incremental decoding
// can ask for one position at a time.

#include <vector>

#include "core/names.h"
#include "layers/module.h"

namespace kat {

enum class PositionalKind { sinusoidal, learned, none };
template <>
struct EnumNames<PositionalKind> {
  static constexpr const char* names[] = {"sinusoidal", "learned", "none"};
};

struct PositionalOptions {
  PositionalKind kind = PositionalKind::sinusoidal;
  std::int64_t dim = 0;
  std::int64_t max_len = 4096;  // learned: rows of the table; sinusoidal: no limit
};

class PositionalEncoding : public Module {
 public:
  PositionalEncoding(const PositionalOptions& options, Rng& rng);
  // x (B, N, dim) -> x + P[start : start + N]. A learned table shorter than start + N throws.
  Variable forward(const Variable& x, std::int64_t start = 0) const;

 private:
  Tensor sinusoids(std::int64_t start, std::int64_t n, DType dtype) const;

  PositionalOptions options_;
  Variable table_;                   // learned: (max_len, dim)
  std::vector<double> wavelengths_;  // 10000^(2i/d) for i = 0, 1, ..., the divisors of the sinusoids' angles
};

}  // namespace kat
