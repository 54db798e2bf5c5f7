#pragma once
// Language-model batch sources over one side of a tokenized dataset (see data/loaders.h for the
// two layouts: windows of the token stream, or one padded sentence a row).

#include <cstdint>
#include <vector>

#include "data/batch_builder.h"
#include "data/dataset.h"
#include "data/loaders.h"

namespace kat {

// The items of one side in file order as (input, target) rows: windows of the token stream (the
// last one possibly shorter) or sentences.
struct LmItems {
  std::vector<TokenRow> inputs, targets;
  std::int64_t size() const { return static_cast<std::int64_t>(inputs.size()); }
};
LmItems lm_items(const TokenizedSide& side, const LmBatchOptions& options);

// All items in order, batch_size a batch, the last batch possibly smaller.
std::vector<Batch> lm_batches_in_order(const LmItems& items, std::int64_t batch_size);

class LmSource : public BatchSource {
 public:
  LmSource(LmItems items, const std::string& path, const LmBatchOptions& options, std::uint64_t seed);

  Batch next() override;
  std::int64_t epoch() const override { return epoch_; }
  std::vector<std::int64_t> state() const override;
  void set_state(const std::vector<std::int64_t>& state) override;

  std::int64_t items() const { return items_.size(); }

 private:
  void start_epoch();

  std::string path_;
  LmBatchOptions options_;
  std::uint64_t seed_;
  LmItems items_;
  std::int64_t trainable_ = 0;       // items used in training: full windows only
  std::vector<std::int64_t> order_;  // this epoch's item order
  std::int64_t epoch_ = 0;
  std::int64_t cursor_ = 0;  // next position in order_
};

}  // namespace kat
