#pragma once
// The deterministic order of an epoch: a Fisher-Yates permutation drawn from a kat::Rng seeded by
// (seed, epoch) alone, so a source can rebuild any epoch's order from its saved position.

#include <cstdint>
#include <vector>

#include "core/rng.h"

namespace kat {

Rng epoch_rng(std::uint64_t seed, std::int64_t epoch);
std::vector<std::int64_t> permutation(std::int64_t n, Rng& rng);

// Tag of a saved BatchSource state: the first integer, so a state from another kind of source
// (or another version of its layout) is refused.
inline constexpr std::int64_t kLmWindowsStateTag = 0x6b61744c4d570001;    // "katLMW" v1
inline constexpr std::int64_t kLmSentencesStateTag = 0x6b61744c4d530001;  // "katLMS" v1
inline constexpr std::int64_t kTranslationStateTag = 0x6b61744d54000001;  // "katMT" v1

}  // namespace kat
