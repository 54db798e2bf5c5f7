#include "data/tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/error.h"
#include "data/char_tokenizer.h"
#include "data/special_tokens.h"
#include "data/spm_tokenizer.h"
#include "data/text_io.h"
#include "data/utf8.h"

namespace kat {

std::string serialize_tokenizer(const Tokenizer& tokenizer) {
  return "kat-tokenizer " + std::to_string(kTokenizerFormatVersion) + " " + tokenizer.kind() + "\n" +
         tokenizer.payload();
}

std::unique_ptr<Tokenizer> parse_tokenizer(const std::string& bytes, const std::string& source) {
  const std::size_t eol = bytes.find('\n');
  const std::string_view header(bytes.data(), eol == std::string::npos ? bytes.size() : eol);
  const std::string where = source + ":1: ";
  constexpr std::string_view magic = "kat-tokenizer ";
  if (bytes.empty()) throw Error(source + ": empty file, expected a kat tokenizer");
  if (header.substr(0, magic.size()) != magic || eol == std::string::npos) {
    throw Error(where + "not a kat tokenizer (expected a first line 'kat-tokenizer " +
                std::to_string(kTokenizerFormatVersion) + " <kind>')");
  }
  const std::string_view rest = header.substr(magic.size());
  const std::size_t space = rest.find(' ');
  const std::string_view version_text = rest.substr(0, space);
  int version = -1;
  const auto [ptr, ec] = std::from_chars(version_text.data(), version_text.data() + version_text.size(), version);
  if (ec != std::errc() || ptr != version_text.data() + version_text.size()) {
    throw Error(where + "bad tokenizer format version '" + std::string(version_text) + "'");
  }
  if (version != kTokenizerFormatVersion) {
    throw Error(where + "tokenizer format version " + std::to_string(version) + ", this kat reads version " +
                std::to_string(kTokenizerFormatVersion) + " (re-create it with `kat tokenizer train`)");
  }
  const std::string kind = space == std::string_view::npos ? "" : std::string(rest.substr(space + 1));
  const std::string payload = bytes.substr(eol + 1);
  if (kind == "bytes" || kind == "chars") return CharTokenizer::from_payload(kind, payload, source);
  if (kind == "spm") return SpmTokenizer::from_payload(payload, source);
  throw Error(where + "unknown tokenizer kind '" + kind + "' (expected bytes, chars or spm)");
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) { return parse_tokenizer(read_file(path), path); }

void save_tokenizer(const Tokenizer& tokenizer, const std::string& path) {
  write_file_atomic(path, serialize_tokenizer(tokenizer));
}

std::vector<std::string> unknown_characters(const Tokenizer& tokenizer, std::string_view text) {
  std::vector<std::string> unknown;
  // The text as a whole first (this also refuses invalid UTF-8): most text has no unk at all, and a
  // byte-level tokenizer never gives one.
  const std::vector<std::int64_t> all = tokenizer.encode(text);
  if (std::find(all.begin(), all.end(), kUnkId) == all.end()) return unknown;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t start = pos;
    next_code_point(text, pos);
    const std::string c(text.substr(start, pos - start));
    if (std::find(unknown.begin(), unknown.end(), c) != unknown.end()) continue;
    const std::vector<std::int64_t> ids = tokenizer.encode(c);
    if (std::find(ids.begin(), ids.end(), kUnkId) != ids.end()) unknown.push_back(c);
  }
  return unknown;
}

std::string list_characters(const std::vector<std::string>& chars, std::size_t most) {
  std::string out;
  for (std::size_t i = 0; i < chars.size() && i < most; ++i) {
    const std::string& c = chars[i];
    // Control characters (a tab, a newline) by their code point, the others as themselves.
    const bool control = c.size() == 1 && (static_cast<unsigned char>(c[0]) < 0x20 || c[0] == 0x7F);
    const std::string shown = control ? fmt::format("U+{:04X}", static_cast<unsigned char>(c[0])) : "'" + c + "'";
    out += (i == 0 ? "" : ", ") + shown;
  }
  if (chars.size() > most) out += fmt::format(" and {} more", chars.size() - most);
  return out;
}

}  // namespace kat
