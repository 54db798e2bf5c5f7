#include "train/metrics/text.h"

#include <algorithm>
#include <span>

#include "train/metrics/unicode_tables.h"

namespace kat::unicode {
namespace {

constexpr char32_t kEscapeBase = 0xDC00;  // + byte, for a byte that is not valid UTF-8
constexpr char32_t kCapitalSigma = 0x3A3, kSmallSigma = 0x3C3, kFinalSigma = 0x3C2;

bool continuation(unsigned char c, unsigned char lo = 0x80, unsigned char hi = 0xBF) { return c >= lo && c <= hi; }

// Decodes the code point at text[pos] and moves pos past it (past one byte for an invalid one).
char32_t next(std::string_view text, std::size_t& pos) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[pos + k]); };
  const std::size_t left = text.size() - pos;
  const unsigned char c = byte(0);
  if (c < 0x80) {
    ++pos;
    return c;
  }
  if (c >= 0xC2 && c <= 0xDF && left >= 2 && continuation(byte(1))) {
    const char32_t cp = ((char32_t{c} & 0x1F) << 6) | (byte(1) & 0x3F);
    pos += 2;
    return cp;
  }
  if (c >= 0xE0 && c <= 0xEF && left >= 3) {
    // E0 needs A0..BF after it (no overlong form), ED needs 80..9F (no surrogate).
    const unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    if (continuation(byte(1), lo, hi) && continuation(byte(2))) {
      const char32_t cp = ((char32_t{c} & 0x0F) << 12) | ((char32_t{byte(1)} & 0x3F) << 6) | (byte(2) & 0x3F);
      pos += 3;
      return cp;
    }
  }
  if (c >= 0xF0 && c <= 0xF4 && left >= 4) {
    // F0 needs 90..BF after it (no overlong form), F4 needs 80..8F (nothing above U+10FFFF).
    const unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    if (continuation(byte(1), lo, hi) && continuation(byte(2)) && continuation(byte(3))) {
      const char32_t cp = ((char32_t{c} & 0x07) << 18) | ((char32_t{byte(1)} & 0x3F) << 12) |
                          ((char32_t{byte(2)} & 0x3F) << 6) | (byte(3) & 0x3F);
      pos += 4;
      return cp;
    }
  }
  ++pos;
  return kEscapeBase + c;
}

bool in(std::span<const CodePointRange> ranges, char32_t c) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), c,
                             [](char32_t x, const CodePointRange& r) { return x < r.first; });
  return it != ranges.begin() && c <= std::prev(it)->last;
}

// The lowercase of one code point other than U+03A3, appended to out.
void append_lower(char32_t c, std::u32string& out) {
  auto it = std::upper_bound(kLowercase.begin(), kLowercase.end(), c,
                             [](char32_t x, const LowercaseRange& r) { return x < r.first; });
  if (it != kLowercase.begin()) {
    const LowercaseRange& r = *std::prev(it);
    if (c <= r.last && (c - r.first) % r.stride == 0) {
      out.push_back(static_cast<char32_t>(static_cast<std::int64_t>(c) + r.delta));
      return;
    }
  }
  for (const LowercasePair& p : kLowercaseTwo) {
    if (p.from == c) {
      out.push_back(p.to[0]);
      out.push_back(p.to[1]);
      return;
    }
  }
  out.push_back(c);
}

// Python's final-sigma condition for the capital sigma at text[i]: a cased code point before it
// and none after it, skipping case-ignorable code points both ways.
bool final_sigma(std::u32string_view text, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && in(kCaseIgnorable, text[j - 1])) --j;
  if (j == 0 || !in(kCased, text[j - 1])) return false;
  std::size_t k = i + 1;
  while (k < text.size() && in(kCaseIgnorable, text[k])) ++k;
  return k == text.size() || !in(kCased, text[k]);
}

}  // namespace

std::u32string decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) out.push_back(next(text, pos));
  return out;
}

std::string encode(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c >= kEscapeBase + 0x80 && c <= kEscapeBase + 0xFF) {
      out.push_back(static_cast<char>(c - kEscapeBase));
    } else if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

bool is_space(char32_t c) { return in(kSpace, c); }
bool is_punctuation(char32_t c) { return in(kPunctuation, c); }
bool is_symbol(char32_t c) { return in(kSymbol, c); }
bool is_number(char32_t c) { return in(kNumber, c); }

std::u32string lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == kCapitalSigma) {
      out.push_back(final_sigma(text, i) ? kFinalSigma : kSmallSigma);
    } else {
      append_lower(text[i], out);
    }
  }
  return out;
}

std::string lower(std::string_view text) { return encode(lower(decode(text))); }

std::vector<std::u32string> split(std::u32string_view text) {
  std::vector<std::u32string> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> words;
  for (const std::u32string& w : split(decode(text))) words.push_back(encode(w));
  return words;
}

std::string_view rstrip(std::string_view text) {
  std::size_t end = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    if (!is_space(next(text, pos))) end = pos;
  }
  return text.substr(0, end);
}

}  // namespace kat::unicode
