#include "data/bible/drop_cap.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace kat {
namespace {

struct Letter {
  char32_t code;
  std::size_t bytes;  // its UTF-8 length
};

// The code point at `at` (UTF-8 of one to three bytes: the text is validated UTF-8).
Letter decode(const std::string& s, std::size_t at) {
  const auto b0 = static_cast<unsigned char>(s[at]);
  if (b0 < 0x80) return {b0, 1};
  if ((b0 & 0xE0) == 0xC0 && at + 1 < s.size()) {
    return {static_cast<char32_t>(((b0 & 0x1F) << 6) | (static_cast<unsigned char>(s[at + 1]) & 0x3F)), 2};
  }
  if ((b0 & 0xF0) == 0xE0 && at + 2 < s.size()) {
    return {static_cast<char32_t>(((b0 & 0x0F) << 12) | ((static_cast<unsigned char>(s[at + 1]) & 0x3F) << 6) |
                                  (static_cast<unsigned char>(s[at + 2]) & 0x3F)),
            3};
  }
  return {0xFFFD, 1};
}

void encode(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Upper and lower case of the letters covered: ASCII, Latin-1 (but the signs × and ÷), and Latin
// Extended-A, whose pairs are an upper case letter and the lower case one after it (even-odd in
// U+0100..0137 and U+014A..0177, odd-even in U+0139..0148 and U+0179..017E), besides İ, Ÿ
// (upper) and ı, ĸ, ŉ, ſ (lower, without a pair).
bool is_upper(char32_t c) {
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= 0xC0 && c <= 0xDE) return c != 0xD7;
  if (c == 0x130 || c == 0x178) return true;
  if (c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return false;
  if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177)) return c % 2 == 0;
  if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) return c % 2 == 1;
  return false;
}

bool is_lower(char32_t c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 0xDF && c <= 0xFF) return c != 0xF7;
  if (c >= 0x100 && c <= 0x17F) return !is_upper(c);
  return false;
}

std::optional<char32_t> to_lower(char32_t c) {
  if (c == 0x178) return 0xFF;
  if (c == 0x130) return std::nullopt;  // İ: no one-letter lower case
  if (!is_upper(c)) return std::nullopt;
  if (c <= 0xDE) return c + 32;  // ASCII and Latin-1
  return c + 1;                  // Latin Extended-A pairs
}

bool is_letter(char32_t c) { return is_upper(c) || is_lower(c); }

// The letters of the word starting at `at` (up to the first code point that is not a letter).
std::vector<Letter> word_at(const std::string& s, std::size_t at) {
  std::vector<Letter> w;
  while (at < s.size()) {
    const Letter l = decode(s, at);
    if (!is_letter(l.code)) break;
    w.push_back(l);
    at += l.bytes;
  }
  return w;
}

bool all_upper(const std::vector<Letter>& w) {
  for (const auto& l : w) {
    if (!is_upper(l.code)) return false;
  }
  return !w.empty();
}

}  // namespace

std::string restore_drop_cap(const std::string& verse) {
  // The first word: after any opening punctuation (a quotation mark, a parenthesis).
  std::size_t start = 0;
  while (start < verse.size() && !is_letter(decode(verse, start).code)) {
    const Letter l = decode(verse, start);
    if (l.code == ' ' || (l.code >= '0' && l.code <= '9')) return verse;  // no word first
    start += l.bytes;
  }
  const std::vector<Letter> first = word_at(verse, start);
  if (first.size() < 2 || !all_upper(first)) return verse;
  std::size_t end = start;
  for (const auto& l : first) end += l.bytes;
  // The next word: capitals running on are an inscription or a heading, kept as they are.
  std::size_t next = end;
  while (next < verse.size() && !is_letter(decode(verse, next).code)) next += decode(verse, next).bytes;
  const std::vector<Letter> second = word_at(verse, next);
  if (all_upper(second) && second.size() >= 2) return verse;
  std::string out = verse.substr(0, start);
  encode(first[0].code, out);
  for (std::size_t i = 1; i < first.size(); ++i) {
    const auto lower = to_lower(first[i].code);
    if (!lower) return verse;  // a letter without a lower case here: leave the word
    encode(*lower, out);
  }
  return out + verse.substr(end);
}

}  // namespace kat
