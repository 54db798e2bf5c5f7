#include "core/error.h"
#include "data/bible/imp_reader.h"
#include "data/bible/osis_text.h"
#include "data/utf8.h"
#include "tests/fuzz/fuzz_targets.h"

namespace kat::fuzz {
namespace {

// What osis_to_text promises for valid UTF-8 markup: valid UTF-8 on one line, white space
// collapsed to single spaces, no space at either end.
void check_clean_text(std::string_view markup) {
  const std::string text = osis_to_text(markup);
  if (find_invalid_utf8(markup)) return;  // invalid markup: only no crash
  expect(!find_invalid_utf8(text), "osis_to_text wrote invalid UTF-8");
  expect(text.find_first_of("\n\r\t") == std::string::npos, "osis_to_text left a line break or tab: '" + text + "'");
  expect(text.find("  ") == std::string::npos, "osis_to_text left a double space: '" + text + "'");
  expect(text.empty() || (text.front() != ' ' && text.back() != ' '), "osis_to_text left a space at an end");
}

}  // namespace

bool records_input(std::span<const std::uint8_t> data) {
  const std::string text(as_text(data));
  check_clean_text(text);
  if (const auto key = parse_verse_key(text)) {
    expect(!key->book.empty() && key->chapter >= 1 && key->verse >= 1, "parse_verse_key accepted '" + text + "'");
  }
  std::vector<ImpRecord> records;
  try {
    records = parse_imp(text, "fuzz.imp");
  } catch (const Error&) {
    return false;
  }
  expect(!records.empty(), "parse_imp returned no records");
  std::int64_t line = 0;
  for (const ImpRecord& r : records) {
    expect(r.line > line, "parse_imp: record lines not increasing");
    line = r.line;
    expect(r.key.find('\n') == std::string::npos, "parse_imp: a key spans lines");
    expect(!find_invalid_utf8(r.key) && !find_invalid_utf8(r.body), "parse_imp passed invalid UTF-8 on");
    expect(r.body.empty() || r.body.back() != '\n', "parse_imp: body ends with a newline");
    if (const auto key = parse_verse_key(r.key)) {
      expect(!key->book.empty() && key->chapter >= 1 && key->verse >= 1, "parse_verse_key accepted '" + r.key + "'");
    }
    check_clean_text(r.body);
  }
  return true;
}

}  // namespace kat::fuzz
