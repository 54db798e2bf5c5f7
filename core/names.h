#pragma once
// Names: suggestions for a mistyped one (the closest known name, when it is close enough to be a
// typo), and the names of an enum's values as configs write them.

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace kat {

// The Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(const std::string& a, const std::string& b);
// The candidate closest to `word` when it is close enough to be a likely typo, else "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

// The names of an enum's values as configuration files write them, in the order of the values
// (0, 1, ...): a specialization beside each enum declares `static constexpr const char* names[]`.
template <typename E>
struct EnumNames;

template <typename E>
const char* name(E value) {
  return EnumNames<E>::names[static_cast<std::size_t>(value)];
}

template <typename E, typename = void>
struct HasEnumNames : std::false_type {};
template <typename E>
struct HasEnumNames<E, std::void_t<decltype(EnumNames<E>::names)>> : std::true_type {};

}  // namespace kat

// fmt prints such an enum by its name ("task {}" -> "task lm").
template <typename E>
struct fmt::formatter<E, char, std::enable_if_t<kat::HasEnumNames<E>::value>> : fmt::formatter<std::string_view> {
  template <typename Context>
  auto format(E value, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(kat::name(value), ctx);
  }
};
