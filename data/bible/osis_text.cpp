#include "data/bible/osis_text.h"

#include <algorithm>
#include <charconv>

#include "data/utf8.h"

namespace kat {
namespace {

struct Tag {
  std::string_view name;
  std::string_view attributes;
  bool end = false;           // </name>
  bool self_closing = false;  // <name ... />
  std::size_t next = 0;       // position after '>'
};

// Parses the tag starting at markup[pos] == '<'; false when there is no closing '>'.
bool parse_tag(std::string_view markup, std::size_t pos, Tag& tag) {
  const std::size_t close = markup.find('>', pos);
  if (close == std::string_view::npos) return false;
  std::string_view inner = markup.substr(pos + 1, close - pos - 1);
  tag = Tag{};
  tag.next = close + 1;
  if (!inner.empty() && inner.front() == '/') {
    tag.end = true;
    inner.remove_prefix(1);
  }
  if (!inner.empty() && inner.back() == '/') {
    tag.self_closing = true;
    inner.remove_suffix(1);
  }
  const std::size_t name_end = std::min(inner.find_first_of(" \t\n"), inner.size());
  tag.name = inner.substr(0, name_end);
  tag.attributes = inner.substr(name_end);
  return !tag.name.empty();
}

// The value of attribute `key` (key="value"), or empty.
std::string_view attribute(std::string_view attributes, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = attributes.find(key, pos)) != std::string_view::npos) {
    const bool starts_word = pos > 0 && (attributes[pos - 1] == ' ' || attributes[pos - 1] == '\t');
    const std::size_t eq = pos + key.size();
    if (starts_word && eq + 1 < attributes.size() && attributes[eq] == '=' && attributes[eq + 1] == '"') {
      const std::size_t end = attributes.find('"', eq + 2);
      if (end != std::string_view::npos) return attributes.substr(eq + 2, end - eq - 2);
    }
    pos = eq;
  }
  return {};
}

// Position after the end tag that closes the element whose start tag ended at `pos`.
std::size_t skip_element(std::string_view markup, std::size_t pos, std::string_view name) {
  int depth = 1;
  while (pos < markup.size()) {
    const std::size_t lt = markup.find('<', pos);
    if (lt == std::string_view::npos) break;
    Tag tag;
    if (!parse_tag(markup, lt, tag)) break;
    pos = tag.next;
    if (tag.name != name || tag.self_closing) continue;
    depth += tag.end ? -1 : 1;
    if (depth == 0) return pos;
  }
  return markup.size();
}

bool is_block(std::string_view name) {
  return name == "div" || name == "l" || name == "lg" || name == "lb" || name == "p" || name == "chapter" ||
         name == "item" || name == "list" || name == "milestone" || name == "verse";
}

bool is_word(std::string_view name) { return name == "w" || name == "transChange"; }

bool is_white_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool opens(char32_t c) {
  return c == '(' || c == '[' || c == '{' || c == U'“' || c == U'‘' || c == U'«' || c == U'¿' || c == U'¡' || c == U'—';
}

bool closes(char32_t c) {
  return c == ',' || c == '.' || c == ';' || c == ':' || c == '!' || c == '?' || c == ')' || c == ']' || c == '}' ||
         c == U'”' || c == U'’' || c == U'»' || c == U'—' || c == U'…' || c == '\'';
}

char32_t last_code_point(const std::string& s) {
  std::size_t start = s.size() - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  return next_code_point(s, start);
}

// Decodes the entity at text[pos] == '&'; returns false (and leaves pos) when it is not one.
bool decode_entity(std::string_view text, std::size_t& pos, std::string& out) {
  const std::size_t semi = text.find(';', pos);
  if (semi == std::string_view::npos || semi - pos > 10) return false;
  const std::string_view name = text.substr(pos + 1, semi - pos - 1);
  std::string decoded;
  if (name == "amp") {
    decoded = "&";
  } else if (name == "lt") {
    decoded = "<";
  } else if (name == "gt") {
    decoded = ">";
  } else if (name == "quot") {
    decoded = "\"";
  } else if (name == "apos") {
    decoded = "'";
  } else if (name == "nbsp") {
    decoded = " ";
  } else if (name.size() > 1 && name[0] == '#') {
    const bool hex = name[1] == 'x' || name[1] == 'X';
    const std::string_view digits = name.substr(hex ? 2 : 1);
    unsigned value = 0;
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || value == 0 || value > 0x10FFFF ||
        (value >= 0xD800 && value <= 0xDFFF)) {
      return false;
    }
    append_utf8(decoded, static_cast<char32_t>(value));
  } else {
    return false;
  }
  out += decoded;
  pos = semi + 1;
  return true;
}

class TextBuilder {
 public:
  void space() { pending_space_ = true, word_closed_ = false; }
  void note_removed() { note_gap_ = true; }
  void word_closed() { word_closed_ = true; }
  void word_opened() {
    if (word_closed_) pending_space_ = true;
    word_closed_ = false;
  }

  // Appends visible text, which may contain white space.
  void text(std::string_view chunk) {
    for (std::size_t pos = 0; pos < chunk.size();) {
      const char c = chunk[pos];
      if (is_white_space(c)) {
        space();
        ++pos;
        continue;
      }
      std::string piece;
      if (c == '&' && decode_entity(chunk, pos, piece)) {
        // An entity for white space (&nbsp;, &#10;, ...) is white space too: a verse stays on one line.
        if (piece.size() == 1 && is_white_space(piece[0])) {
          space();
          continue;
        }
      } else {
        const std::size_t start = pos;
        next_code_point(chunk, pos);
        piece.assign(chunk.substr(start, pos - start));
      }
      visible(piece);
    }
  }

  std::string finish() { return std::move(out_); }

 private:
  void visible(const std::string& piece) {
    if (!out_.empty()) {
      if (pending_space_) {
        out_ += ' ';
      } else if (note_gap_) {
        std::size_t p = 0;
        const char32_t next = next_code_point(piece, p);
        if (!opens(last_code_point(out_)) && !closes(next)) out_ += ' ';
      }
    }
    pending_space_ = note_gap_ = word_closed_ = false;
    out_ += piece;
  }

  std::string out_;
  bool pending_space_ = false;
  bool note_gap_ = false;
  bool word_closed_ = false;
};

}  // namespace

std::string osis_to_text(std::string_view markup) {
  TextBuilder b;
  std::size_t pos = 0;
  while (pos < markup.size()) {
    const std::size_t lt = markup.find('<', pos);
    b.text(markup.substr(pos, lt == std::string_view::npos ? std::string_view::npos : lt - pos));
    if (lt == std::string_view::npos) break;
    Tag tag;
    if (!parse_tag(markup, lt, tag)) {
      b.text(markup.substr(lt));
      break;
    }
    pos = tag.next;
    const std::string_view name = tag.name;
    if (name == "div" && attribute(tag.attributes, "type") == "book" && !attribute(tag.attributes, "eID").empty()) {
      break;  // the book ends here; what follows belongs to no verse
    }
    const bool psalm_title = name == "title" && attribute(tag.attributes, "type") == "psalm";
    if ((name == "note" || name == "speaker" || (name == "title" && !psalm_title)) && !tag.end && !tag.self_closing) {
      pos = skip_element(markup, pos, name);
      if (name == "note") {
        b.note_removed();
      } else {
        b.space();
      }
      continue;
    }
    if (psalm_title || is_block(name)) {
      b.space();
    } else if (is_word(name) && !tag.self_closing) {
      if (tag.end) {
        b.word_closed();
      } else {
        b.word_opened();
      }
    }
  }
  return b.finish();
}

}  // namespace kat
