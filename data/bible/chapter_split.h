#pragma once
// Which split a chapter belongs to: a stable hash of "Book C" (FNV-1a, then a SplitMix64 finaliser
// for well-mixed low digits) taken modulo 1000: below 900 train, below 950 valid, else test. The
// rule depends only on the name, so every run, machine and corpus puts a chapter in the same split.

#include <cstdint>
#include <string>
#include <string_view>

namespace kat {

enum class Split { train, valid, test };

inline constexpr Split kSplits[] = {Split::train, Split::valid, Split::test};

std::string_view split_name(Split split);
std::uint64_t stable_hash(std::string_view text);
Split split_of_chapter(const std::string& book, int chapter);

}  // namespace kat
