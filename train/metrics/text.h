#pragma once
// Text as Python's str sees it, for the metrics that must agree with sacreBLEU (a Python program):
// code points, white space (str.isspace), str.split(), str.rstrip(), str.lower(), and the general
// categories the intl tokenizer reads. The Unicode data comes from unicode_tables.cpp.

#include <string>
#include <string_view>
#include <vector>

namespace kat::unicode {

// UTF-8 to code points. Any byte string decodes: a byte that does not begin a valid sequence
// (overlong forms, surrogates and values above U+10FFFF are invalid) becomes U+DC80..U+DCFF as in
// Python's "surrogateescape", so encode(decode(s)) == s and such bytes are never letters or spaces.
std::u32string decode(std::string_view text);
std::string encode(std::u32string_view text);

bool is_space(char32_t c);        // str.isspace
bool is_punctuation(char32_t c);  // general category P*
bool is_symbol(char32_t c);       // S*
bool is_number(char32_t c);       // N*

// str.lower(): full lowercase mapping, with U+03A3 becoming the final sigma U+03C2 at the end of a word.
std::u32string lower(std::u32string_view text);
std::string lower(std::string_view text);

// str.split(): the runs of non-space code points.
std::vector<std::u32string> split(std::u32string_view text);
std::vector<std::string> split(std::string_view text);

// str.rstrip(): without trailing white space.
std::string_view rstrip(std::string_view text);

}  // namespace kat::unicode
