#pragma once
// Records of SWORD's `mod2imp` export: each record is a line "$$$<key>" followed by the entry's
// raw markup (OSIS for the Bibles kat reads) on the lines up to the next "$$$". Verse keys look
// like "Genesis 1:1" or "Song of Solomon 2:3"; other keys ("[ Module Heading ]", "Genesis 0:0"
// for a book's introduction, "Genesis 1:0" for a chapter's heading) are not verses.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kat {

struct ImpRecord {
  std::string key;    // without "$$$"
  std::string body;   // the entry's lines joined by '\n' (no trailing newline)
  std::int64_t line;  // 1-based line of the "$$$" header in the export
};

struct VerseKey {
  std::string book;
  int chapter = 0;
  int verse = 0;
  bool operator==(const VerseKey&) const = default;
};

// Parses a whole export. Throws kat::Error naming `source` and the line for text before the first
// record, invalid UTF-8, or an export without any record.
std::vector<ImpRecord> parse_imp(const std::string& text, const std::string& source);

// "Book C:V" with C >= 1 and V >= 1, else nullopt.
std::optional<VerseKey> parse_verse_key(std::string_view key);

}  // namespace kat
