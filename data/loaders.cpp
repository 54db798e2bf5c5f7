#include "data/loaders.h"

#include "core/error.h"
#include "data/dataset.h"
#include "data/lm_source.h"
#include "data/translation_source.h"

namespace kat {
namespace {

std::unique_ptr<BatchSource> maybe_prefetch(std::unique_ptr<BatchSource> source, std::int64_t depth) {
  if (depth < 0) throw Error("prefetch: depth " + std::to_string(depth) + " must be >= 0");
  return depth > 0 ? with_prefetch(std::move(source), static_cast<std::size_t>(depth)) : std::move(source);
}

}  // namespace

std::unique_ptr<BatchSource> open_lm_source(const std::string& path, const LmBatchOptions& options,
                                            std::uint64_t seed) {
  const TokenDataset data = read_token_dataset(path);
  auto source = std::make_unique<LmSource>(lm_items(data.side(options.side), options), path, options, seed);
  return maybe_prefetch(std::move(source), options.prefetch);
}

std::vector<Batch> lm_eval_batches(const std::string& path, const LmBatchOptions& options) {
  const TokenDataset data = read_token_dataset(path);
  return lm_batches_in_order(lm_items(data.side(options.side), options), options.batch_size);
}

std::unique_ptr<BatchSource> open_translation_source(const std::string& path, const TranslationBatchOptions& options,
                                                     std::uint64_t seed) {
  const TokenDataset data = read_token_dataset(path);
  auto source = std::make_unique<TranslationSource>(data, options, seed);
  return maybe_prefetch(std::move(source), options.prefetch);
}

std::vector<Batch> translation_eval_batches(const std::string& path, const TranslationBatchOptions& options) {
  if (options.max_tokens < 1) throw Error("translation batches: max_tokens must be >= 1");
  const TokenDataset data = read_token_dataset(path);
  const std::vector<TranslationPair> pairs = read_translation_pairs(data, options);
  std::vector<std::int64_t> order(pairs.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = static_cast<std::int64_t>(k);
  std::vector<Batch> batches;
  for (const auto& members : group_by_budget(pairs, order, options.max_tokens)) {
    batches.push_back(translation_batch(pairs, members));
  }
  return batches;
}

const DatasetSideInfo& DatasetInfo::side(const std::string& name) const {
  if (sides.empty()) throw Error(path + ": dataset without sides");
  if (name.empty()) return sides.front();
  for (const DatasetSideInfo& s : sides) {
    if (s.name == name) return s;
  }
  throw Error(path + ": no side '" + name + "'");
}

DatasetInfo read_dataset_info(const std::string& path) {
  const TokenDataset data = read_token_dataset(path, false);
  DatasetInfo info;
  info.path = path;
  info.corpus = data.corpus;
  info.split = data.split;
  for (const TokenizedSide& s : data.sides) {
    DatasetSideInfo side;
    side.name = s.name;
    side.sentences = s.sentences();
    side.tokens = s.tokens();
    side.vocab_size = s.vocab_size;
    side.tokenizer = parse_tokenizer(s.tokenizer, path + ":/" + s.name + "/tokenizer");
    info.sides.push_back(std::move(side));
  }
  return info;
}

}  // namespace kat
