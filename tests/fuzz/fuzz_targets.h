#pragma once
// The fuzz targets' bodies, shared by the libFuzzer programs (fuzz_<target>.cpp, built with
// KAT_FUZZ=ON) and by test_fuzz_regressions, which replays every seed and regression input of
// tests/fuzz/{seeds,regressions}/<target>/ with the ordinary compiler.
//
// Each function takes arbitrary bytes. It returns true when kat accepted the input and false when
// kat refused it with a kat::Error (a clear refusal is a correct answer to bad input). Anything
// else is a bug: a crash, a sanitizer report, another exception escaping, or a Failure thrown
// because a result breaks what the code promises (a round trip, a range, an invariant).

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace kat::fuzz {

// A broken promise found by a target; never caught by the targets.
class Failure : public std::logic_error {
 public:
  explicit Failure(const std::string& what) : std::logic_error("fuzz: " + what) {}
};

inline void expect(bool ok, const std::string& what) {
  if (!ok) throw Failure(what);
}

inline std::string_view as_text(std::span<const std::uint8_t> data) {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

// data/tokenizer.h: the first byte chooses the case, the rest is its input.
//   0: parse a tokenizer file (bytes, chars or spm) and use what it parses to;
//   1-4: encode the rest as text with the bytes tokenizer, a small chars one and small SentencePiece
//   unigram and BPE ones, and decode it back (invalid UTF-8 must be refused with kat::Error,
//   valid text must round-trip);
//   5-8: decode the rest read as 16-bit ids with the same four tokenizers.
bool tokenizer_input(std::span<const std::uint8_t> data);

// data/imp_reader.h and data/osis_text.h: the bytes as a mod2imp export (each record's key and
// OSIS body cleaned as `kat prepare` does), and as one verse's OSIS markup.
bool records_input(std::span<const std::uint8_t> data);

// train/metrics/bleu.h: the bytes through tokenize_13a, and their lines as alternating hypothesis
// and reference lines through corpus_bleu and corpus_chrf.
bool bleu_input(std::span<const std::uint8_t> data);

// data/dataset.h and data/loaders.h: the bytes written to a temporary file and read as a tokenized
// HDF5 dataset (metadata, ids, evaluation batches and training sources).
bool dataset_input(std::span<const std::uint8_t> data);

// train/experiment_config.h: the bytes up to the first NUL as an experiment file, the lines after
// it as --set overrides; an accepted experiment must reload from its resolved YAML unchanged.
bool experiment_input(std::span<const std::uint8_t> data);

// train/checkpoint.h: the bytes written to a temporary file and read as a checkpoint; an accepted
// checkpoint must survive a write and a read unchanged.
bool checkpoint_input(std::span<const std::uint8_t> data);

// train/plot.h: the bytes up to the first NUL as a figure title, the parts between the next NULs as
// run folder names; the gnuplot script drawn for them must not differ outside its single-quoted
// string literals from the script for blank strings, and no literal may hold a control byte: no
// title or folder name can hand gnuplot a command.
bool plot_input(std::span<const std::uint8_t> data);

}  // namespace kat::fuzz
