#pragma once
// UTF-8 checks and code point iteration, for tokenizers and for reading corpora.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kat {

// The byte offset of the first byte that does not start or continue a valid UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF are invalid), or nullopt.
std::optional<std::size_t> find_invalid_utf8(std::string_view text);

// Decodes the code point starting at text[pos] and advances pos past it. The text must be valid.
char32_t next_code_point(std::string_view text, std::size_t& pos);

// Appends the UTF-8 encoding of a valid code point.
void append_utf8(std::string& out, char32_t cp);

// Number of code points of valid UTF-8 text.
std::int64_t count_code_points(std::string_view text);

}  // namespace kat
