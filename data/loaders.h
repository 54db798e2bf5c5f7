#pragma once
// What the trainer calls to read a prepared dataset (data/dataset.h) as batches (data/batch.h).
//
// Training:    std::unique_ptr<BatchSource> src = open_lm_source(path, options, seed);
//              Batch b = src->next();                      // endless; reshuffles each epoch
//              checkpoint["data"] = src->state();          // a few integers
//              src->set_state(checkpoint["data"]);         // resume exactly mid-epoch
// Evaluation:  for (const Batch& b : lm_eval_batches(path, options)) ...
//              (fixed order, every token or sentence exactly once)
// Decoding:    DatasetInfo info = read_dataset_info(path);
//              info.side("es").tokenizer->decode(ids);
//
// Every batch holds int64 tensors of token ids with the fixed special ids of
// data/special_tokens.h (pad 0, bos 1, eos 2, unk 3).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/batch.h"
#include "data/special_tokens.h"
#include "data/tokenizer.h"

namespace kat {

struct LmBatchOptions {
  std::int64_t batch_size = 32;  // rows per batch (B)
  std::int64_t seq_len = 128;    // tokens per row (T)
  // false: windows of T tokens cut from the token stream (each sentence followed by eos); target
  //        is the input shifted by one token; every row full, no padding.
  // true:  one sentence a row: input = bos + ids, target = ids + eos, cut to T tokens, padded
  //        with pad_id to the longest row of the batch, lengths filled.
  bool sentence_level = false;
  std::string side;           // which side of the file to read; empty = the first
  std::int64_t prefetch = 0;  // batches prepared ahead by a background thread (0 = none)
};

struct TranslationBatchOptions {
  // Budget per batch: rows x max(padded source length, padded target length) <= max_tokens.
  std::int64_t max_tokens = 4096;
  // Training skips a pair whose source (ids + eos) or target (bos + ids) is longer than this; the
  // count is logged. Evaluation keeps every pair.
  std::int64_t max_len = 256;
  // Pairs pooled after the epoch's shuffle and sorted by length inside each pool, so that a batch
  // holds pairs of similar length (little padding) while batches still differ from epoch to epoch.
  std::int64_t bucket_size = 4096;
  std::string src;  // source side; empty = the file's first side
  std::string tgt;  // target side; empty = the file's second side
  std::int64_t prefetch = 0;
};

// Batches of a language-model dataset. Throws kat::Error naming the file when it cannot be read,
// or holds too few tokens for one batch.
std::unique_ptr<BatchSource> open_lm_source(const std::string& path, const LmBatchOptions& options, std::uint64_t seed);
// Evaluation batches in file order. Windows: the stream cut into consecutive windows, every
// target token predicted exactly once (the last window may be shorter: padded, lengths filled).
// Sentence level: every sentence once, in order.
std::vector<Batch> lm_eval_batches(const std::string& path, const LmBatchOptions& options);

// Batches of a translation dataset (src: ids + eos; input: bos + ids; target: ids + eos).
std::unique_ptr<BatchSource> open_translation_source(const std::string& path, const TranslationBatchOptions& options,
                                                     std::uint64_t seed);
// Every pair exactly once, in file order, grouped by the token budget.
std::vector<Batch> translation_eval_batches(const std::string& path, const TranslationBatchOptions& options);

// Wraps a source with a background thread that keeps `depth` batches ready. Its state() is the
// position after the last batch handed out, so resuming from it is exact.
std::unique_ptr<BatchSource> with_prefetch(std::unique_ptr<BatchSource> inner, std::size_t depth);

struct DatasetSideInfo {
  std::string name;
  std::int64_t sentences = 0;
  std::int64_t tokens = 0;  // without bos/eos
  std::int64_t vocab_size = 0;
  std::shared_ptr<const Tokenizer> tokenizer;  // to decode this side's ids
};

struct DatasetInfo {
  std::string path;
  std::string corpus;
  std::string split;
  std::vector<DatasetSideInfo> sides;  // translation: source first
  std::int64_t pad_id = kPadId;
  std::int64_t bos_id = kBosId;
  std::int64_t eos_id = kEosId;
  std::int64_t unk_id = kUnkId;

  const DatasetSideInfo& side(const std::string& name) const;  // empty = the first
};

// Metadata without reading the token ids.
DatasetInfo read_dataset_info(const std::string& path);

}  // namespace kat
