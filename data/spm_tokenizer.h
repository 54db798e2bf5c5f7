#pragma once
// Subword tokenizer over SentencePiece (Kudo and Richardson 2018): BPE or unigram models trained
// here, with kat's fixed special ids, no text normalisation and byte fallback, so that
// decode(encode(text)) == text for any single-spaced text without leading or trailing spaces.

#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace kat {

struct SpmTrainOptions {
  std::string model_type = "unigram";  // "unigram" or "bpe"
  std::int64_t vocab_size = 8000;      // specials and the 256 byte-fallback pieces included
  int threads = 1;                     // trainer threads
};

class SpmTokenizer : public Tokenizer {
 public:
  // Trains on the lines (empty lines are ignored). Throws kat::Error on bad options or when
  // SentencePiece refuses (e.g. a vocabulary larger than the text allows).
  static std::unique_ptr<SpmTokenizer> train(const std::vector<std::string>& lines, const SpmTrainOptions& options);
  static std::unique_ptr<SpmTokenizer> from_payload(const std::string& payload, const std::string& source);
  ~SpmTokenizer() override;

  std::string kind() const override { return "spm"; }
  std::string describe() const override;
  std::int64_t vocab_size() const override;
  std::vector<std::int64_t> encode(std::string_view text) const override;
  std::string decode(const std::vector<std::int64_t>& ids) const override;
  std::string piece(std::int64_t id) const override;
  std::string payload() const override { return model_; }

 private:
  SpmTokenizer(std::string model, const std::string& source);

  std::string model_;  // the serialized SentencePiece ModelProto
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

}  // namespace kat
