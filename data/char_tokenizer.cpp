#include "data/char_tokenizer.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>

#include "core/error.h"
#include "data/special_tokens.h"
#include "data/utf8.h"

namespace kat {
namespace {

constexpr char32_t kUnkCodePoint = 0x2047;  // ⁇, what decode writes for unk

void check_utf8(std::string_view text, const char* op) {
  if (const auto bad = find_invalid_utf8(text)) {
    throw Error(std::string(op) + ": invalid UTF-8 at byte " + std::to_string(*bad + 1) + " of the text");
  }
}

std::string special_piece(std::int64_t id) {
  switch (id) {
    case kPadId: return std::string(kPadPiece);
    case kBosId: return std::string(kBosPiece);
    case kEosId: return std::string(kEosPiece);
    default: return std::string(kUnkPiece);
  }
}

}  // namespace

CharTokenizer::CharTokenizer(bool byte_level, std::vector<char32_t> code_points)
    : byte_level_(byte_level), code_points_(std::move(code_points)) {
  for (std::size_t i = 0; i < code_points_.size(); ++i) {
    ids_.emplace(code_points_[i], static_cast<std::int64_t>(i) + kNumSpecialTokens);
  }
}

std::unique_ptr<CharTokenizer> CharTokenizer::bytes() {
  return std::unique_ptr<CharTokenizer>(new CharTokenizer(true, {}));
}

std::unique_ptr<CharTokenizer> CharTokenizer::from_code_points(std::vector<char32_t> code_points) {
  std::vector<char32_t> sorted = code_points;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    throw Error("chars tokenizer: a code point appears twice in the vocabulary");
  }
  return std::unique_ptr<CharTokenizer>(new CharTokenizer(false, std::move(code_points)));
}

std::unique_ptr<CharTokenizer> CharTokenizer::train(const std::vector<std::string>& lines, std::int64_t min_count,
                                                    std::int64_t max_vocab) {
  std::map<char32_t, std::int64_t> counts;
  for (const std::string& line : lines) {
    check_utf8(line, "chars tokenizer: train");
    for (std::size_t pos = 0; pos < line.size();) ++counts[next_code_point(line, pos)];
  }
  std::vector<std::pair<char32_t, std::int64_t>> order(counts.begin(), counts.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<char32_t> code_points;
  for (const auto& [cp, count] : order) {
    if (count < min_count) break;
    if (max_vocab > 0 && static_cast<std::int64_t>(code_points.size()) + kNumSpecialTokens >= max_vocab) break;
    code_points.push_back(cp);
  }
  if (code_points.empty())
    throw Error("chars tokenizer: train: no character occurs " + std::to_string(min_count) + " times");
  return from_code_points(std::move(code_points));
}

std::unique_ptr<CharTokenizer> CharTokenizer::from_payload(const std::string& kind, const std::string& payload,
                                                           const std::string& source) {
  if (kind == "bytes") {
    if (!payload.empty()) throw Error(source + ":2: a bytes tokenizer has no payload");
    return bytes();
  }
  std::vector<char32_t> code_points;
  std::size_t start = 0;
  std::int64_t line_no = 1;
  while (start < payload.size()) {
    std::size_t end = payload.find('\n', start);
    if (end == std::string::npos) end = payload.size();
    ++line_no;
    const std::string_view line(payload.data() + start, end - start);
    unsigned value = 0;
    const bool prefixed = line.size() > 2 && line.substr(0, 2) == "U+";
    const auto [ptr, ec] = prefixed ? std::from_chars(line.data() + 2, line.data() + line.size(), value, 16)
                                    : std::from_chars(line.data(), line.data(), value, 16);
    if (!prefixed || ec != std::errc() || ptr != line.data() + line.size() || value > 0x10FFFF ||
        (value >= 0xD800 && value <= 0xDFFF)) {
      throw Error(source + ":" + std::to_string(line_no) + ": expected a code point such as 'U+00E1', got '" +
                  std::string(line) + "'");
    }
    code_points.push_back(static_cast<char32_t>(value));
    start = end + 1;
  }
  if (code_points.empty()) throw Error(source + ":2: a chars tokenizer needs at least one code point");
  try {
    return from_code_points(std::move(code_points));
  } catch (const Error& e) {
    throw Error(source + ": " + e.what());
  }
}

std::string CharTokenizer::describe() const {
  return byte_level_ ? "bytes (vocabulary 260)" : "chars (vocabulary " + std::to_string(vocab_size()) + ")";
}

std::int64_t CharTokenizer::vocab_size() const {
  return kNumSpecialTokens + (byte_level_ ? 256 : static_cast<std::int64_t>(code_points_.size()));
}

std::vector<std::int64_t> CharTokenizer::encode(std::string_view text) const {
  check_utf8(text, "chars tokenizer: encode");
  std::vector<std::int64_t> ids;
  ids.reserve(text.size());
  if (byte_level_) {
    for (const char c : text) ids.push_back(static_cast<unsigned char>(c) + kNumSpecialTokens);
    return ids;
  }
  for (std::size_t pos = 0; pos < text.size();) {
    const auto it = ids_.find(next_code_point(text, pos));
    ids.push_back(it == ids_.end() ? kUnkId : it->second);
  }
  return ids;
}

std::string CharTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::string out;
  for (const std::int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw Error("chars tokenizer: decode: id " + std::to_string(id) + " outside the vocabulary [0, " +
                  std::to_string(vocab_size()) + ")");
    }
    if (id == kUnkId) {
      append_utf8(out, kUnkCodePoint);
    } else if (id >= kNumSpecialTokens) {
      if (byte_level_) {
        out += static_cast<char>(id - kNumSpecialTokens);
      } else {
        append_utf8(out, code_points_[static_cast<std::size_t>(id - kNumSpecialTokens)]);
      }
    }
  }
  return out;
}

std::string CharTokenizer::piece(std::int64_t id) const {
  if (id < 0 || id >= vocab_size()) throw Error("chars tokenizer: piece: id " + std::to_string(id) + " out of range");
  if (id < kNumSpecialTokens) return special_piece(id);
  const std::int64_t k = id - kNumSpecialTokens;
  if (byte_level_) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned>(k));
    return buf;
  }
  std::string out;
  append_utf8(out, code_points_[static_cast<std::size_t>(k)]);
  return out;
}

std::string CharTokenizer::payload() const {
  if (byte_level_) return "";
  std::string out;
  for (const char32_t cp : code_points_) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X\n", static_cast<unsigned>(cp));
    out += buf;
  }
  return out;
}

}  // namespace kat
