#pragma once
// Suggestions for a mistyped name: the closest known one, when it is close enough to be a typo.

#include <cstddef>
#include <string>
#include <vector>

namespace kat {

// The Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(const std::string& a, const std::string& b);
// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace kat
