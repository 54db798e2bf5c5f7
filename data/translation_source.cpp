#include "data/translation_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/error.h"
#include "data/shuffle.h"
#include "data/special_tokens.h"

namespace kat {

std::vector<TranslationPair> read_translation_pairs(const TokenDataset& data, const TranslationBatchOptions& options) {
  if (data.sides.size() < 2 && (options.src.empty() || options.tgt.empty())) {
    throw Error(data.path + ": a translation dataset needs two sides, this one has " +
                std::to_string(data.sides.size()) + " (an LM dataset?)");
  }
  const TokenizedSide& src = data.side(options.src.empty() ? data.sides[0].name : options.src);
  const TokenizedSide& tgt = data.side(options.tgt.empty() ? data.sides[1].name : options.tgt);
  if (&src == &tgt) throw Error(data.path + ": source and target are the same side " + src.name);
  std::vector<TranslationPair> pairs;
  pairs.reserve(static_cast<std::size_t>(src.sentences()));
  for (std::int64_t k = 0; k < src.sentences(); ++k) {
    TranslationPair p;
    for (const std::int32_t id : src.sentence(k)) p.src.push_back(id);
    p.src.push_back(kEosId);
    p.input.push_back(kBosId);
    for (const std::int32_t id : tgt.sentence(k)) p.input.push_back(id), p.target.push_back(id);
    p.target.push_back(kEosId);
    pairs.push_back(std::move(p));
  }
  return pairs;
}

std::vector<std::vector<std::int64_t>> group_by_budget(const std::vector<TranslationPair>& pairs,
                                                       const std::vector<std::int64_t>& order,
                                                       std::int64_t max_tokens) {
  std::vector<std::vector<std::int64_t>> batches;
  std::vector<std::int64_t> current;
  std::int64_t width = 0;
  for (const std::int64_t k : order) {
    const std::int64_t w = std::max(width, pairs[static_cast<std::size_t>(k)].width());
    if (!current.empty() && (static_cast<std::int64_t>(current.size()) + 1) * w > max_tokens) {
      batches.push_back(std::move(current));
      current.clear();
      width = 0;
    }
    current.push_back(k);
    width = std::max(width, pairs[static_cast<std::size_t>(k)].width());
  }
  if (!current.empty()) batches.push_back(std::move(current));
  return batches;
}

Batch translation_batch(const std::vector<TranslationPair>& pairs, const std::vector<std::int64_t>& members) {
  std::vector<TokenRow> src, in, out;
  for (const std::int64_t k : members) {
    const TranslationPair& p = pairs[static_cast<std::size_t>(k)];
    src.push_back(p.src);
    in.push_back(p.input);
    out.push_back(p.target);
  }
  Batch b = decoder_batch(in, out);
  b.src = pad_rows(src, b.src_lengths);
  return b;
}

TranslationSource::TranslationSource(const TokenDataset& data, const TranslationBatchOptions& options,
                                     std::uint64_t seed)
    : path_(data.path), options_(options), seed_(seed) {
  if (options.max_len < 2 || options.max_tokens < options.max_len || options.bucket_size < 1) {
    throw Error("translation batches: need max_len >= 2, max_tokens >= max_len and bucket_size >= 1 (got max_len " +
                std::to_string(options.max_len) + ", max_tokens " + std::to_string(options.max_tokens) +
                ", bucket_size " + std::to_string(options.bucket_size) + ")");
  }
  std::vector<TranslationPair> all = read_translation_pairs(data, options);
  for (TranslationPair& p : all) {
    if (p.width() > options.max_len) {
      ++skipped_;
    } else {
      pairs_.push_back(std::move(p));
    }
  }
  if (skipped_ > 0) {
    spdlog::info("{}: skipped {} of {} pairs longer than max_len {} tokens", path_, skipped_, all.size(),
                 options.max_len);
  }
  if (pairs_.empty()) throw Error(path_ + ": no pair within max_len " + std::to_string(options.max_len) + " tokens");
  plan_epoch();
}

void TranslationSource::plan_epoch() {
  Rng rng = epoch_rng(seed_, epoch_);
  std::vector<std::int64_t> order = permutation(static_cast<std::int64_t>(pairs_.size()), rng);
  // Sort by width inside each pool of bucket_size pairs, then cut into batches by the budget.
  const auto pool = static_cast<std::size_t>(options_.bucket_size);
  for (std::size_t start = 0; start < order.size(); start += pool) {
    const auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + pool));
    std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start), end, [&](std::int64_t a, std::int64_t b) {
      return pairs_[static_cast<std::size_t>(a)].width() < pairs_[static_cast<std::size_t>(b)].width();
    });
  }
  plan_ = group_by_budget(pairs_, order, options_.max_tokens);
  // Shuffle the batches, so that lengths do not rise and fall through the epoch.
  const std::vector<std::int64_t> batch_order = permutation(static_cast<std::int64_t>(plan_.size()), rng);
  std::vector<std::vector<std::int64_t>> shuffled;
  shuffled.reserve(plan_.size());
  for (const std::int64_t k : batch_order) shuffled.push_back(std::move(plan_[static_cast<std::size_t>(k)]));
  plan_ = std::move(shuffled);
  cursor_ = 0;
}

Batch TranslationSource::next() {
  if (cursor_ >= static_cast<std::int64_t>(plan_.size())) {
    ++epoch_;
    plan_epoch();
  }
  return translation_batch(pairs_, plan_[static_cast<std::size_t>(cursor_++)]);
}

std::vector<std::int64_t> TranslationSource::state() const {
  return {kTranslationStateTag,
          static_cast<std::int64_t>(seed_),
          static_cast<std::int64_t>(pairs_.size()),
          options_.max_tokens,
          options_.max_len,
          options_.bucket_size,
          epoch_,
          cursor_};
}

void TranslationSource::set_state(const std::vector<std::int64_t>& state) {
  if (state.size() != 8 || state[0] != kTranslationStateTag || state[1] != static_cast<std::int64_t>(seed_) ||
      state[2] != static_cast<std::int64_t>(pairs_.size()) || state[3] != options_.max_tokens ||
      state[4] != options_.max_len || state[5] != options_.bucket_size || state[6] < 0 || state[7] < 0) {
    throw Error(path_ +
                ": saved loader state does not belong to this dataset, seed and batch options "
                "(expected 8 integers: tag, seed " +
                std::to_string(static_cast<std::int64_t>(seed_)) + ", pairs " + std::to_string(pairs_.size()) +
                ", max_tokens " + std::to_string(options_.max_tokens) + ", max_len " +
                std::to_string(options_.max_len) + ", bucket_size " + std::to_string(options_.bucket_size) +
                ", epoch, position)");
  }
  epoch_ = state[6];
  plan_epoch();
  if (state[7] > static_cast<std::int64_t>(plan_.size())) throw Error(path_ + ": saved loader position past the epoch");
  cursor_ = state[7];
}

}  // namespace kat
