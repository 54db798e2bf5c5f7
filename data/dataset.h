#pragma once
// Tokenized datasets: one HDF5 file per corpus and split, so training reads token ids, not text.
//
// Layout (format version 1):
//   /                attributes kat_format = "kat-dataset", format_version = 1, corpus, split,
//                    sides = "en" or "en,es" (source side first for translation)
//   /<side>/ids        int32  (total tokens)     every sentence's ids, concatenated, no bos/eos
//   /<side>/offsets    int64  (sentences + 1)    sentence k is ids[offsets[k] : offsets[k + 1]]
//   /<side>/tokenizer  uint8  (bytes)            the tokenizer file (data/tokenizer.h), embedded
//   /<side>/vocab      string (vocabulary size)  each id's piece, for inspection with h5dump
// Written in the HDF5 1.10 file layout (superblock version 3), where all metadata carries checksums.
// A file that is not HDF5, lacks those checksums (HDF5's default layout), is truncated or damaged,
// lacks these entries or has another format version is refused with an error naming the file.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace kat {

inline constexpr std::int64_t kDatasetFormatVersion = 1;

struct TokenizedSide {
  std::string name;                   // a language code such as "en"
  std::vector<std::int32_t> ids;      // empty when read without ids
  std::vector<std::int64_t> offsets;  // sentences + 1 entries, offsets[0] = 0
  std::string tokenizer;              // the tokenizer file's bytes
  std::int64_t vocab_size = 0;

  std::int64_t sentences() const { return static_cast<std::int64_t>(offsets.size()) - 1; }
  std::int64_t tokens() const { return offsets.empty() ? 0 : offsets.back(); }
  std::span<const std::int32_t> sentence(std::int64_t k) const {
    return {ids.data() + offsets[static_cast<std::size_t>(k)],
            static_cast<std::size_t>(offsets[static_cast<std::size_t>(k) + 1] - offsets[static_cast<std::size_t>(k)])};
  }
};

struct TokenDataset {
  std::string path;  // where it was read from (for messages)
  std::string corpus;
  std::string split;
  std::vector<TokenizedSide> sides;

  // The side with this name; an empty name is the first side. Throws naming the file.
  const TokenizedSide& side(const std::string& name) const;
};

// Encodes each line with the tokenizer. Throws kat::Error naming `source` and the line when a
// line is not valid UTF-8.
TokenizedSide tokenize_lines(const std::string& name, const std::vector<std::string>& lines, const Tokenizer& tokenizer,
                             const std::string& source);

// Writes the dataset to a temporary file and renames it to `path`. Sides of a translation corpus
// must hold the same number of sentences.
void write_token_dataset(const std::string& path, const TokenDataset& dataset);

// Reads a dataset; with_ids = false reads everything but the ids (metadata only).
TokenDataset read_token_dataset(const std::string& path, bool with_ids = true);

}  // namespace kat
