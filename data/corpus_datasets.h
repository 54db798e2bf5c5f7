#pragma once
// Turning text corpora (one sentence a line) into tokenized HDF5 datasets (data/dataset.h), and
// the tokenizers that go with them.

#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/spm_tokenizer.h"

namespace kat {

struct TokenizerSpec {
  std::string kind = "chars";  // "bytes", "chars" or "spm"
  SpmTrainOptions spm;         // for "spm"
  std::int64_t max_chars = 0;  // for "chars": vocabulary cap (0 = every character seen)
};

// Trains a tokenizer of the given kind on the lines (bytes need none).
std::unique_ptr<Tokenizer> train_tokenizer(const TokenizerSpec& spec, const std::vector<std::string>& lines);

// One side of a dataset from a text file.
struct SideFile {
  std::string name;  // "en"
  std::string path;  // one sentence a line, UTF-8
  const Tokenizer* tokenizer = nullptr;
};

// Reads, tokenizes and writes the dataset of one corpus split. With two sides (translation) the
// files must have the same number of lines; the error names both files and their counts. Empty
// files and invalid UTF-8 are refused naming the file and line.
TokenDataset write_text_dataset(const std::string& out_path, const std::string& corpus, const std::string& split,
                                const std::vector<SideFile>& sides);

// For a folder written by `kat prepare bible` (data/bible_corpus.h): trains the tokenizer(s) and
// writes en.{split}.h5 (LM) and en-es.{split}.h5 (translation, source en). A joint tokenizer is
// saved as tokenizer.tok; separate ones as tokenizer.en.tok and tokenizer.es.tok (the LM uses the
// English one). `chars` vocabularies are built from every split (a closed character set, so
// evaluation text has no unk); `spm` models are trained on the train split only.
void write_bible_datasets(const std::string& dir, const TokenizerSpec& spec, bool separate_vocabularies);

}  // namespace kat
