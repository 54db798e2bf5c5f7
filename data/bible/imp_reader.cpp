#include "data/bible/imp_reader.h"

#include <charconv>

#include "core/error.h"
#include "data/utf8.h"

namespace kat {

std::vector<ImpRecord> parse_imp(const std::string& text, const std::string& source) {
  if (text.empty()) throw Error(source + ": empty export, expected mod2imp records ('$$$Book C:V' lines)");
  std::vector<ImpRecord> records;
  std::size_t start = 0;
  std::int64_t line_no = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (const auto bad = find_invalid_utf8(line)) {
      throw Error(source + ":" + std::to_string(line_no) + ": invalid UTF-8 at byte " + std::to_string(*bad + 1) +
                  " of the line");
    }
    if (line.substr(0, 3) == "$$$") {
      records.push_back({std::string(line.substr(3)), "", line_no});
      continue;
    }
    if (records.empty()) {
      if (line.empty()) continue;
      throw Error(source + ":" + std::to_string(line_no) +
                  ": text before the first record (expected a mod2imp export starting with '$$$')");
    }
    std::string& body = records.back().body;
    if (line.empty() && body.empty()) continue;
    if (!body.empty()) body += '\n';
    body += line;
  }
  if (records.empty()) throw Error(source + ": no records (expected mod2imp output with '$$$Book C:V' lines)");
  for (ImpRecord& r : records) {
    while (!r.body.empty() && r.body.back() == '\n') r.body.pop_back();
  }
  return records;
}

std::optional<VerseKey> parse_verse_key(std::string_view key) {
  const std::size_t space = key.rfind(' ');
  if (space == std::string_view::npos || space == 0) return std::nullopt;
  const std::string_view ref = key.substr(space + 1);
  const std::size_t colon = ref.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  VerseKey k;
  k.book = std::string(key.substr(0, space));
  const auto parse = [](std::string_view s, int& out) {
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size() && !s.empty();
  };
  if (!parse(ref.substr(0, colon), k.chapter) || !parse(ref.substr(colon + 1), k.verse)) return std::nullopt;
  if (k.chapter < 1 || k.verse < 1) return std::nullopt;
  return k;
}

}  // namespace kat
