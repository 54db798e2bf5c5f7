#pragma once
// Translation batches over two sides of a tokenized dataset, grouped by a token budget with
// length bucketing (see data/loaders.h).

#include <cstdint>
#include <vector>

#include "data/batch_builder.h"
#include "data/dataset.h"
#include "data/loaders.h"

namespace kat {

struct TranslationPair {
  TokenRow src;     // ids + eos
  TokenRow input;   // bos + ids
  TokenRow target;  // ids + eos
  std::int64_t width() const { return static_cast<std::int64_t>(std::max(src.size(), input.size())); }
};

// Groups consecutive pairs (by index into `pairs`, in the given order) into batches whose
// rows x longest row stays within max_tokens; a pair alone over the budget gets its own batch.
std::vector<std::vector<std::int64_t>> group_by_budget(const std::vector<TranslationPair>& pairs,
                                                       const std::vector<std::int64_t>& order, std::int64_t max_tokens);

Batch translation_batch(const std::vector<TranslationPair>& pairs, const std::vector<std::int64_t>& members);

class TranslationSource : public BatchSource {
 public:
  TranslationSource(const TokenDataset& data, const TranslationBatchOptions& options, std::uint64_t seed);

  Batch next() override;
  std::int64_t epoch() const override { return epoch_; }
  std::vector<std::int64_t> state() const override;
  void set_state(const std::vector<std::int64_t>& state) override;

  std::int64_t skipped() const { return skipped_; }

 private:
  void plan_epoch();

  std::string path_;
  TranslationBatchOptions options_;
  std::uint64_t seed_;
  std::vector<TranslationPair> pairs_;  // those within max_len
  std::int64_t skipped_ = 0;
  std::vector<std::vector<std::int64_t>> plan_;  // this epoch's batches
  std::int64_t epoch_ = 0;
  std::int64_t cursor_ = 0;  // next batch of plan_
};

// Source and target sides chosen by the options (empty names: the file's first and second).
std::vector<TranslationPair> read_translation_pairs(const TokenDataset& data, const TranslationBatchOptions& options);

}  // namespace kat
