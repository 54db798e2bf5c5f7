#include "data/lm_source.h"

#include <algorithm>

#include "core/error.h"
#include "data/shuffle.h"
#include "data/special_tokens.h"

namespace kat {

LmItems lm_items(const TokenizedSide& side, const LmBatchOptions& options) {
  if (options.batch_size < 1 || options.seq_len < 1) {
    throw Error("lm batches: batch_size " + std::to_string(options.batch_size) + " and seq_len " +
                std::to_string(options.seq_len) + " must be >= 1");
  }
  LmItems items;
  const auto T = static_cast<std::size_t>(options.seq_len);
  if (options.sentence_level) {
    for (std::int64_t k = 0; k < side.sentences(); ++k) {
      TokenRow input{kBosId};
      TokenRow target;
      for (const std::int32_t id : side.sentence(k)) input.push_back(id), target.push_back(id);
      target.push_back(kEosId);
      input.resize(std::min(input.size(), T));
      target.resize(input.size());
      items.inputs.push_back(std::move(input));
      items.targets.push_back(std::move(target));
    }
    return items;
  }
  // The stream: every sentence followed by eos; windows of T inputs, targets one token later.
  std::vector<std::int64_t> stream;
  stream.reserve(side.ids.size() + static_cast<std::size_t>(side.sentences()));
  for (std::int64_t k = 0; k < side.sentences(); ++k) {
    for (const std::int32_t id : side.sentence(k)) stream.push_back(id);
    stream.push_back(kEosId);
  }
  for (std::size_t start = 0; start + 1 < stream.size(); start += T) {
    const std::size_t len = std::min(T, stream.size() - 1 - start);
    const auto first = stream.begin() + static_cast<std::ptrdiff_t>(start);
    items.inputs.emplace_back(first, first + static_cast<std::ptrdiff_t>(len));
    items.targets.emplace_back(first + 1, first + 1 + static_cast<std::ptrdiff_t>(len));
  }
  return items;
}

std::vector<Batch> lm_batches_in_order(const LmItems& items, std::int64_t batch_size) {
  std::vector<Batch> batches;
  for (std::int64_t start = 0; start < items.size(); start += batch_size) {
    const std::int64_t end = std::min(items.size(), start + batch_size);
    const std::vector<TokenRow> in(items.inputs.begin() + start, items.inputs.begin() + end);
    const std::vector<TokenRow> out(items.targets.begin() + start, items.targets.begin() + end);
    batches.push_back(decoder_batch(in, out));
  }
  return batches;
}

LmSource::LmSource(LmItems items, const std::string& path, const LmBatchOptions& options, std::uint64_t seed)
    : path_(path), options_(options), seed_(seed), items_(std::move(items)) {
  // Training uses full windows only (a short last window is for evaluation).
  trainable_ = items_.size();
  if (!options.sentence_level && trainable_ > 0 &&
      static_cast<std::int64_t>(items_.inputs.back().size()) < options.seq_len) {
    --trainable_;
  }
  if (trainable_ < options.batch_size) {
    throw Error(path + ": " + std::to_string(trainable_) + (options.sentence_level ? " sentences" : " full windows") +
                ", fewer than batch_size " + std::to_string(options.batch_size) +
                (options.sentence_level ? "" : " (seq_len " + std::to_string(options.seq_len) + ")"));
  }
  start_epoch();
}

void LmSource::start_epoch() {
  Rng rng = epoch_rng(seed_, epoch_);
  order_ = permutation(trainable_, rng);
  cursor_ = 0;
}

Batch LmSource::next() {
  if (cursor_ + options_.batch_size > static_cast<std::int64_t>(order_.size())) {
    ++epoch_;
    start_epoch();
  }
  std::vector<TokenRow> in, out;
  for (std::int64_t i = 0; i < options_.batch_size; ++i) {
    const auto k = static_cast<std::size_t>(order_[static_cast<std::size_t>(cursor_ + i)]);
    in.push_back(items_.inputs[k]);
    out.push_back(items_.targets[k]);
  }
  cursor_ += options_.batch_size;
  return decoder_batch(in, out);
}

std::vector<std::int64_t> LmSource::state() const {
  return {options_.sentence_level ? kLmSentencesStateTag : kLmWindowsStateTag,
          static_cast<std::int64_t>(seed_),
          items(),
          options_.batch_size,
          options_.seq_len,
          epoch_,
          cursor_};
}

void LmSource::set_state(const std::vector<std::int64_t>& state) {
  const std::int64_t tag = options_.sentence_level ? kLmSentencesStateTag : kLmWindowsStateTag;
  if (state.size() != 7 || state[0] != tag || state[1] != static_cast<std::int64_t>(seed_) || state[2] != items() ||
      state[3] != options_.batch_size || state[4] != options_.seq_len || state[5] < 0 || state[6] < 0) {
    throw Error(path_ +
                ": saved loader state does not belong to this dataset, seed and batch options "
                "(expected 7 integers: tag, seed " +
                std::to_string(static_cast<std::int64_t>(seed_)) + ", items " + std::to_string(items()) +
                ", batch_size " + std::to_string(options_.batch_size) + ", seq_len " +
                std::to_string(options_.seq_len) + ", epoch, position)");
  }
  epoch_ = state[5];
  start_epoch();
  if (state[6] > static_cast<std::int64_t>(order_.size()))
    throw Error(path_ + ": saved loader position past the epoch");
  cursor_ = state[6];
}

}  // namespace kat
