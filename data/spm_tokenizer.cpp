#include "data/spm_tokenizer.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <unordered_map>

#include "core/error.h"
#include "data/special_tokens.h"
#include "data/utf8.h"

namespace kat {
namespace {

// Feeds the training lines to SentencePiece without writing them to a file.
class LineIterator : public sentencepiece::SentenceIterator {
 public:
  explicit LineIterator(const std::vector<std::string>& lines) : lines_(lines) { skip_empty(); }
  bool done() const override { return i_ >= lines_.size(); }
  void Next() override {
    ++i_;
    skip_empty();
  }
  const std::string& value() const override { return lines_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  void skip_empty() {
    while (i_ < lines_.size() && lines_[i_].empty()) ++i_;
  }
  const std::vector<std::string>& lines_;
  std::size_t i_ = 0;
};

}  // namespace

SpmTokenizer::SpmTokenizer(std::string model, const std::string& source)
    : model_(std::move(model)), processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  const auto status = processor_->LoadFromSerializedProto(model_);
  if (!status.ok()) throw Error(source + ": not a SentencePiece model (" + status.ToString() + ")");
  const std::pair<std::int64_t, int> specials[] = {{kPadId, processor_->pad_id()},
                                                   {kBosId, processor_->bos_id()},
                                                   {kEosId, processor_->eos_id()},
                                                   {kUnkId, processor_->unk_id()}};
  for (const auto& [want, got] : specials) {
    if (want != got) {
      throw Error(source + ": SentencePiece model with special id " + std::to_string(got) + " where kat expects " +
                  std::to_string(want) + " (pad 0, bos 1, eos 2, unk 3); train it with `kat tokenizer train`");
    }
  }
}

SpmTokenizer::~SpmTokenizer() = default;

std::unique_ptr<SpmTokenizer> SpmTokenizer::train(const std::vector<std::string>& lines,
                                                  const SpmTrainOptions& options) {
  if (options.model_type != "unigram" && options.model_type != "bpe") {
    throw Error("spm tokenizer: model type '" + options.model_type + "' (expected unigram or bpe)");
  }
  if (options.vocab_size < 256 + kNumSpecialTokens + 1) {
    throw Error("spm tokenizer: vocabulary size " + std::to_string(options.vocab_size) +
                " too small: the 256 byte pieces and 4 specials need at least 261");
  }
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (const auto bad = find_invalid_utf8(lines[i])) {
      throw Error("spm tokenizer: training line " + std::to_string(i + 1) + ": invalid UTF-8 at byte " +
                  std::to_string(*bad + 1));
    }
  }
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", options.model_type},
      {"vocab_size", std::to_string(options.vocab_size)},
      {"pad_id", std::to_string(kPadId)},
      {"bos_id", std::to_string(kBosId)},
      {"eos_id", std::to_string(kEosId)},
      {"unk_id", std::to_string(kUnkId)},
      {"pad_piece", std::string(kPadPiece)},
      {"bos_piece", std::string(kBosPiece)},
      {"eos_piece", std::string(kEosPiece)},
      {"unk_piece", std::string(kUnkPiece)},
      {"byte_fallback", "true"},
      {"character_coverage", "1.0"},
      {"normalization_rule_name", "identity"},
      {"remove_extra_whitespaces", "false"},
      {"max_sentence_length", "65536"},
      {"input_sentence_size", "0"},
      {"shuffle_input_sentence", "false"},
      {"num_threads", std::to_string(std::max(1, options.threads))},
      {"minloglevel", "2"},
  };
  LineIterator it(lines);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &model);
  if (!status.ok()) throw Error("spm tokenizer: training failed: " + status.ToString());
  return std::unique_ptr<SpmTokenizer>(new SpmTokenizer(std::move(model), "spm tokenizer: trained model"));
}

std::unique_ptr<SpmTokenizer> SpmTokenizer::from_payload(const std::string& payload, const std::string& source) {
  return std::unique_ptr<SpmTokenizer>(new SpmTokenizer(payload, source));
}

std::string SpmTokenizer::describe() const { return "spm (vocabulary " + std::to_string(vocab_size()) + ")"; }

std::int64_t SpmTokenizer::vocab_size() const { return processor_->GetPieceSize(); }

std::vector<std::int64_t> SpmTokenizer::encode(std::string_view text) const {
  if (const auto bad = find_invalid_utf8(text)) {
    throw Error("spm tokenizer: encode: invalid UTF-8 at byte " + std::to_string(*bad + 1) + " of the text");
  }
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  if (!status.ok()) throw Error("spm tokenizer: encode: " + status.ToString());
  return {ids.begin(), ids.end()};
}

std::string SpmTokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::vector<int> kept;
  kept.reserve(ids.size());
  for (const std::int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) {
      throw Error("spm tokenizer: decode: id " + std::to_string(id) + " outside the vocabulary [0, " +
                  std::to_string(vocab_size()) + ")");
    }
    if (id != kPadId && id != kBosId && id != kEosId) kept.push_back(static_cast<int>(id));
  }
  std::string text;
  const auto status = processor_->Decode(kept, &text);
  if (!status.ok()) throw Error("spm tokenizer: decode: " + status.ToString());
  return text;
}

std::string SpmTokenizer::piece(std::int64_t id) const {
  if (id < 0 || id >= vocab_size()) throw Error("spm tokenizer: piece: id " + std::to_string(id) + " out of range");
  return processor_->IdToPiece(static_cast<int>(id));
}

}  // namespace kat
