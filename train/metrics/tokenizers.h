#pragma once
// The tokenizers BLEU can split a line with, as sacreBLEU's tokenizers of the same names (Post 2018).
// Each returns the tokens, never empty and without white space, so an n-gram joins them with ' '.

#include <string>
#include <string_view>
#include <vector>

namespace kat {

enum class BleuTokenizer {
  k13a,   // mteval-v13a, the default of sacreBLEU and of WMT
  kIntl,  // mteval-v14's international tokenization: every Unicode punctuation mark and symbol apart
  kChar,  // every code point a token
  kNone,  // split on white space only
};

// "13a", "intl", "char", "none".
std::string_view tokenizer_name(BleuTokenizer tokenizer);
// The tokenizer of that name; throws kat::Error naming the choices for any other.
BleuTokenizer tokenizer_from_name(std::string_view name);

// mteval-v13a tokenization: unescapes four XML entities, splits off ASCII punctuation and symbols
// (but not '.' or ',' between digits, nor '-' except after a digit), and splits on white space.
std::vector<std::string> tokenize_13a(std::string_view line);
// mteval-v14 international tokenization: a punctuation mark (Unicode categories P*) apart when a
// character other than a number (N*) is next to it, so "3.14" stays whole, and so does "1990." at
// the end of a line, as in mteval-v14; symbols (S*) always apart; then split on white space.
std::vector<std::string> tokenize_intl(std::string_view line);
// The code points of the line that are not white space.
std::vector<std::string> tokenize_char(std::string_view line);
// The line split on white space.
std::vector<std::string> tokenize_none(std::string_view line);

std::vector<std::string> tokenize(std::string_view line, BleuTokenizer tokenizer);

}  // namespace kat
