#include <spdlog/spdlog.h>

#include "core/error.h"
#include "data/dataset.h"
#include "data/loaders.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/temp_file.h"

namespace kat::fuzz {
namespace {

void check_batches(const std::vector<Batch>& batches, std::int64_t vocab) {
  for (const Batch& b : batches) {
    expect(b.input.shape() == b.target.shape() && b.input.dim() == 2, "batch input and target shapes differ");
    for (const Tensor* t : {&b.src, &b.input, &b.target}) {
      if (!t->defined()) continue;
      for (const std::int64_t id : t->to_vector<std::int64_t>()) {
        expect(id >= 0 && id < vocab, "batch holds id " + std::to_string(id) + " outside the vocabulary");
      }
    }
  }
}

void check_dataset(const TokenDataset& d) {
  expect(!d.sides.empty(), "dataset read without sides");
  for (const TokenizedSide& s : d.sides) {
    expect(!s.offsets.empty() && s.offsets.front() == 0, "offsets do not start at 0");
    expect(s.offsets.back() == static_cast<std::int64_t>(s.ids.size()), "offsets do not end at the ids' length");
    for (std::size_t k = 1; k < s.offsets.size(); ++k) expect(s.offsets[k - 1] <= s.offsets[k], "offsets decrease");
    for (const std::int32_t id : s.ids) expect(id >= 0 && id < s.vocab_size, "id outside the vocabulary");
    expect(s.sentences() == d.sides.front().sentences(), "sides differ in sentence count");
  }
}

// Runs a loader call; a kat::Error is a clear refusal (too few tokens for a batch, ...).
template <typename Fn>
void refused_or_done(Fn fn) {
  try {
    fn();
  } catch (const Error&) {
  }
}

}  // namespace

bool dataset_input(std::span<const std::uint8_t> data) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::warn);  // the loaders' counts, logged at info, on every input
    return true;
  }();
  (void)quiet;
  const TempFile file(as_text(data), ".h5");
  const std::string& path = file.path();
  bool info_ok = false;
  try {
    const DatasetInfo info = read_dataset_info(path);
    expect(!info.sides.empty(), "dataset info without sides");
    for (const DatasetSideInfo& s : info.sides) {
      expect(s.sentences >= 0 && s.tokens >= 0, "negative sentence or token count");
      expect(s.tokenizer && s.tokenizer->vocab_size() == s.vocab_size, "side tokenizer and vocabulary size differ");
    }
    info_ok = true;
  } catch (const Error&) {
  }
  TokenDataset d;
  try {
    d = read_token_dataset(path);
  } catch (const Error&) {
    return false;
  }
  expect(info_ok, "read_token_dataset accepted a file read_dataset_info refused");
  check_dataset(d);
  // The batch sources on small files only: their logic does not depend on the size, and a large
  // seed is there for HDF5's chunked, compressed layout, not to build thousands of batches.
  if (d.sides.front().tokens() > 8192) return true;
  const std::int64_t vocab = d.sides.front().vocab_size;
  for (const bool sentence_level : {false, true}) {
    LmBatchOptions options;
    options.batch_size = 2;
    options.seq_len = 4;
    options.sentence_level = sentence_level;
    refused_or_done([&] { check_batches(lm_eval_batches(path, options), vocab); });
    refused_or_done([&] {
      const auto source = open_lm_source(path, options, 7);
      check_batches({source->next(), source->next(), source->next()}, vocab);
      source->set_state(source->state());
    });
  }
  if (d.sides.size() >= 2) {
    std::int64_t both = 0;
    for (const TokenizedSide& s : d.sides) both = std::max(both, s.vocab_size);
    TranslationBatchOptions options;
    options.max_tokens = 64;
    options.max_len = 64;
    options.bucket_size = 8;
    refused_or_done([&] { check_batches(translation_eval_batches(path, options), both); });
    refused_or_done([&] {
      const auto source = open_translation_source(path, options, 7);
      check_batches({source->next(), source->next(), source->next()}, both);
      source->set_state(source->state());
    });
  }
  return true;
}

}  // namespace kat::fuzz
