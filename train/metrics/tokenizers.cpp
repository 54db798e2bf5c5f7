#include "train/metrics/tokenizers.h"

#include <fmt/format.h>

#include "core/error.h"
#include "train/metrics/text.h"

namespace kat {
namespace {

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The ASCII symbols 13a always splits off: { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
bool is_split_symbol(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) || (u >= 0x28 && u <= 0x2B) ||
         (u >= 0x3A && u <= 0x40) || u == '/';
}

// One pass of a two-character rule, scanning left to right without overlaps (as a regular
// expression substitution does): where match(a, b) holds, emit writes the pair with its spaces.
template <typename String, typename Match, typename Emit>
String pair_pass(const String& s, Match match, Emit emit) {
  String out;
  out.reserve(s.size() + s.size() / 4);
  std::size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && match(s[i], s[i + 1])) {
      emit(out, s[i], s[i + 1]);
      i += 2;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// The pair ab as "a b " (a space after each): for the rules that split off the second.
template <typename String>
void space_after_each(String& o, typename String::value_type a, typename String::value_type b) {
  o.push_back(a);
  o.push_back(' ');
  o.push_back(b);
  o.push_back(' ');
}

// The pair ab as " a b" (a space before each): for the rules that split off the first.
template <typename String>
void space_before_each(String& o, typename String::value_type a, typename String::value_type b) {
  o.push_back(' ');
  o.push_back(a);
  o.push_back(' ');
  o.push_back(b);
}

}  // namespace

std::string_view tokenizer_name(BleuTokenizer tokenizer) {
  switch (tokenizer) {
    case BleuTokenizer::k13a: return "13a";
    case BleuTokenizer::kIntl: return "intl";
    case BleuTokenizer::kChar: return "char";
    case BleuTokenizer::kNone: return "none";
  }
  return "?";
}

BleuTokenizer tokenizer_from_name(std::string_view name) {
  for (BleuTokenizer t : {BleuTokenizer::k13a, BleuTokenizer::kIntl, BleuTokenizer::kChar, BleuTokenizer::kNone}) {
    if (tokenizer_name(t) == name) return t;
  }
  throw Error(fmt::format("unknown BLEU tokenizer '{}' (choose 13a, intl, char or none)", name));
}

std::vector<std::string> tokenize_13a(std::string_view line) {
  std::string s(line);
  s = replace_all(s, "<skipped>", "");
  s = replace_all(s, "-\n", "");
  s = replace_all(s, "\n", " ");
  if (s.find('&') != std::string::npos) {
    s = replace_all(s, "&quot;", "\"");
    s = replace_all(s, "&amp;", "&");
    s = replace_all(s, "&lt;", "<");
    s = replace_all(s, "&gt;", ">");
  }
  s = " " + s + " ";
  // Symbols apart.
  std::string t;
  t.reserve(s.size() * 2);
  for (char c : s) {
    if (is_split_symbol(c)) {
      t.push_back(' ');
      t.push_back(c);
      t.push_back(' ');
    } else {
      t.push_back(c);
    }
  }
  // Only ASCII characters are compared, so the rules may scan bytes: a byte of a multi-byte
  // character is neither a digit nor '.', ',' or '-', as the character it belongs to.
  auto dot_comma = [](char c) { return c == '.' || c == ','; };
  // '.' or ',' after a non-digit.
  t = pair_pass(
      t, [&](char a, char b) { return !is_digit(a) && dot_comma(b); }, space_after_each<std::string>);
  // '.' or ',' before a non-digit.
  t = pair_pass(
      t, [&](char a, char b) { return dot_comma(a) && !is_digit(b); }, space_before_each<std::string>);
  // '-' after a digit.
  t = pair_pass(
      t, [](char a, char b) { return is_digit(a) && b == '-'; }, space_after_each<std::string>);
  return unicode::split(std::string_view(t));
}

std::vector<std::string> tokenize_intl(std::string_view line) {
  using unicode::is_number, unicode::is_punctuation;
  std::u32string s = unicode::decode(line);
  // Punctuation after a character that is not a number.
  s = pair_pass(
      s, [](char32_t a, char32_t b) { return !is_number(a) && is_punctuation(b); }, space_after_each<std::u32string>);
  // Punctuation before a character that is not a number.
  s = pair_pass(
      s, [](char32_t a, char32_t b) { return is_punctuation(a) && !is_number(b); }, space_before_each<std::u32string>);
  // Symbols apart.
  std::u32string t;
  t.reserve(s.size() * 2);
  for (char32_t c : s) {
    if (unicode::is_symbol(c)) {
      t.push_back(' ');
      t.push_back(c);
      t.push_back(' ');
    } else {
      t.push_back(c);
    }
  }
  std::vector<std::string> tokens;
  for (const std::u32string& w : unicode::split(std::u32string_view(t))) tokens.push_back(unicode::encode(w));
  return tokens;
}

std::vector<std::string> tokenize_char(std::string_view line) {
  std::vector<std::string> tokens;
  for (char32_t c : unicode::decode(line)) {
    if (!unicode::is_space(c)) tokens.push_back(unicode::encode(std::u32string_view(&c, 1)));
  }
  return tokens;
}

std::vector<std::string> tokenize_none(std::string_view line) { return unicode::split(line); }

std::vector<std::string> tokenize(std::string_view line, BleuTokenizer tokenizer) {
  switch (tokenizer) {
    case BleuTokenizer::k13a: return tokenize_13a(line);
    case BleuTokenizer::kIntl: return tokenize_intl(line);
    case BleuTokenizer::kChar: return tokenize_char(line);
    case BleuTokenizer::kNone: return tokenize_none(line);
  }
  return tokenize_13a(line);
}

}  // namespace kat
