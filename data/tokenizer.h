#pragma once
// Tokenizer: text <-> token ids. Every tokenizer reserves ids 0-3 for pad, bos, eos and unk
// (data/special_tokens.h); encode() adds none of them, the batching code does.
//
// A tokenizer is stored as one file (and embedded as the same bytes in datasets): a first line
//   kat-tokenizer <format version> <kind>
// followed by the kind's payload (a code point list for `chars`, nothing for `bytes`, the
// SentencePiece model for `spm`). Loading a file of another format version is an error.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kat {

inline constexpr int kTokenizerFormatVersion = 1;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // "bytes", "chars" or "spm" (the kind in the file header).
  virtual std::string kind() const = 0;
  // A short description for logs: kind, model type, vocabulary size.
  virtual std::string describe() const = 0;
  virtual std::int64_t vocab_size() const = 0;

  // Ids of valid UTF-8 text, without bos/eos. Throws kat::Error on invalid UTF-8.
  virtual std::vector<std::int64_t> encode(std::string_view text) const = 0;
  // Text of ids; pad, bos and eos are skipped, unk becomes U+2047 (⁇). Throws on an id outside
  // the vocabulary.
  virtual std::string decode(const std::vector<std::int64_t>& ids) const = 0;
  // The vocabulary entry of an id, for listings ("<pad>", "a", "▁the", "<0x0A>").
  virtual std::string piece(std::int64_t id) const = 0;

  // The payload that follows the header line in the tokenizer file.
  virtual std::string payload() const = 0;
};

// The distinct characters of valid UTF-8 text that the tokenizer encodes as unk (each character
// encoded on its own), in order of first appearance: what a prompt or an input line holds that the
// model never saw. Empty when the text encodes without unk (always for a byte-level tokenizer).
// Throws kat::Error on invalid UTF-8.
std::vector<std::string> unknown_characters(const Tokenizer& tokenizer, std::string_view text);

// "'☃', 'ü', U+0009": the first `most` of the characters, quoted (control characters by their code
// point), then "and N more".
std::string list_characters(const std::vector<std::string>& chars, std::size_t most = 10);

// The whole file content: header line and payload.
std::string serialize_tokenizer(const Tokenizer& tokenizer);
// Parses file content; `source` (a path, or "data.h5:/en/tokenizer") names it in errors.
std::unique_ptr<Tokenizer> parse_tokenizer(const std::string& bytes, const std::string& source);

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);
void save_tokenizer(const Tokenizer& tokenizer, const std::string& path);  // atomic

}  // namespace kat
