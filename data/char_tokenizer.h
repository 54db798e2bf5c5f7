#pragma once
// Character-level tokenizers. `bytes`: one id per byte (id = byte + 4), a fixed vocabulary of 260
// that encodes anything. `chars`: one id per Unicode code point, from a vocabulary built on a
// corpus and stored in the tokenizer file as one code point a line ("U+00E1"); a code point outside
// it encodes as unk.

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/tokenizer.h"

namespace kat {

class CharTokenizer : public Tokenizer {
 public:
  static std::unique_ptr<CharTokenizer> bytes();
  // Every code point that occurs at least min_count times in the lines, most frequent first (ties
  // by code point, so the result depends only on the text); at most max_vocab ids in all
  // (specials included) when max_vocab > 0. Throws kat::Error on invalid UTF-8.
  static std::unique_ptr<CharTokenizer> train(const std::vector<std::string>& lines, std::int64_t min_count = 1,
                                              std::int64_t max_vocab = 0);
  static std::unique_ptr<CharTokenizer> from_code_points(std::vector<char32_t> code_points);
  static std::unique_ptr<CharTokenizer> from_payload(const std::string& kind, const std::string& payload,
                                                     const std::string& source);

  std::string kind() const override { return byte_level_ ? "bytes" : "chars"; }
  std::string describe() const override;
  std::int64_t vocab_size() const override;
  std::vector<std::int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<std::int64_t>& ids) const override;
  std::string piece(std::int64_t id) const override;
  std::string payload() const override;

  const std::vector<char32_t>& code_points() const { return code_points_; }

 private:
  CharTokenizer(bool byte_level, std::vector<char32_t> code_points);

  bool byte_level_;
  std::vector<char32_t> code_points_;  // chars: id - 4 -> code point
  std::unordered_map<char32_t, std::int64_t> ids_;
};

}  // namespace kat
