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

// The start of the next word at or after `at` (the end of the text when there is none).
std::size_t next_word(const std::string& s, std::size_t at) {
  while (at < s.size() && !is_letter(decode(s, at).code)) at += decode(s, at).bytes;
  return at;
}

std::size_t length_of(const std::vector<Letter>& w) {
  std::size_t n = 0;
  for (const auto& l : w) n += l.bytes;
  return n;
}

// The word with its letters from `from` on in lower case; nullopt when one has no lower case here.
std::optional<std::string> lowered(const std::vector<Letter>& w, std::size_t from) {
  std::string out;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (i < from) {
      encode(w[i].code, out);
      continue;
    }
    const auto lower = to_lower(w[i].code);
    if (!lower) return std::nullopt;
    encode(*lower, out);
  }
  return out;
}

}  // namespace

void WordForms::add_verse(const std::string& verse) {
  std::size_t at = next_word(verse, 0);
  bool first = true;
  while (at < verse.size()) {
    const std::vector<Letter> w = word_at(verse, at);
    const std::size_t n = length_of(w);
    if (!first) ++counts_[verse.substr(at, n)];
    first = false;
    at = next_word(verse, at + n);
  }
}

std::int64_t WordForms::count(const std::string& form) const {
  const auto it = counts_.find(form);
  return it == counts_.end() ? 0 : it->second;
}

std::string restore_drop_cap(const std::string& verse, const WordForms& forms) {
  // The first word: after any opening punctuation (a quotation mark, a parenthesis).
  std::size_t start = 0;
  while (start < verse.size() && !is_letter(decode(verse, start).code)) {
    const Letter l = decode(verse, start);
    if (l.code == ' ' || (l.code >= '0' && l.code <= '9')) return verse;  // no word first
    start += l.bytes;
  }
  // The words in capitals at the start: one or two, then one that is not (capitals running on are
  // an inscription or a heading, kept as they are).
  struct Word {
    std::size_t at;
    std::vector<Letter> letters;
  };
  std::vector<Word> run;
  std::size_t at = start;
  while (at < verse.size()) {
    std::vector<Letter> w = word_at(verse, at);
    if (!all_upper(w)) break;
    if (run.size() == 2) return verse;
    run.push_back({at, std::move(w)});
    at = next_word(verse, at + length_of(run.back().letters));
  }
  if (at >= verse.size()) return verse;  // nothing but capitals: not a drop capital
  bool long_word = false;
  for (const Word& w : run) long_word |= w.letters.size() >= 2;
  if (!long_word) return verse;
  std::string out = verse.substr(0, start);
  std::size_t copied = start;
  for (std::size_t k = 0; k < run.size(); ++k) {
    const Word& w = run[k];
    out += verse.substr(copied, w.at - copied);
    const auto title = lowered(w.letters, 1);
    if (!title) return verse;  // a letter without a lower case here: leave the verse
    std::string word = *title;
    if (k > 0) {
      // A later word in the case the rest of the text writes it in most often.
      const auto lower = lowered(w.letters, 0);
      if (!lower) return verse;
      if (forms.count(*lower) >= forms.count(*title)) word = *lower;
    }
    out += word;
    copied = w.at + length_of(w.letters);
  }
  return out + verse.substr(copied);
}

}  // namespace kat
