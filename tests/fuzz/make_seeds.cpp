// Writes the binary seed inputs of the fuzz targets (tokenizer files and HDF5 datasets) into
// OUT_DIR/<target>/, as committed in tests/fuzz/seeds/:
//   kat_fuzz_seeds tests/fuzz/seeds
// kat writes both deterministically, so running it again rewrites the same bytes.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "core/error.h"
#include "data/char_tokenizer.h"
#include "data/dataset.h"
#include "data/spm_tokenizer.h"

namespace {

const std::vector<std::string> kEnglish = {
    "In the beginning, God created the heavens and the earth.",
    "The earth was formless and empty.",
    "God said, “Let there be light,” and there was light.",
};
const std::vector<std::string> kSpanish = {
    "EN el principio crió Dios los cielos y la tierra.",
    "Y la tierra estaba desordenada y vacía.",
    "Y dijo Dios: Sea la luz: y fué la luz.",
};

void write(const std::filesystem::path& path, const std::string& bytes) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  if (!out) throw kat::Error("cannot write " + path.string());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: kat_fuzz_seeds OUT_DIR\n";
    return 2;
  }
  const std::filesystem::path out = argv[1];
  try {
    std::vector<std::string> both = kEnglish;
    both.insert(both.end(), kSpanish.begin(), kSpanish.end());
    const auto bytes = kat::CharTokenizer::bytes();
    const auto chars = kat::CharTokenizer::train(both);
    const auto spm = kat::SpmTokenizer::train(both, {.model_type = "bpe", .vocab_size = 340, .threads = 1});
    // Tokenizer target, case 0: a tokenizer file after the case byte.
    write(out / "tokenizer" / "ok-parse-bytes", std::string(1, '\0') + kat::serialize_tokenizer(*bytes));
    write(out / "tokenizer" / "ok-parse-chars", std::string(1, '\0') + kat::serialize_tokenizer(*chars));
    write(out / "tokenizer" / "ok-parse-spm", std::string(1, '\0') + kat::serialize_tokenizer(*spm));
    // Dataset target: a language-model file (bytes) and a translation file (chars, two sides).
    std::filesystem::create_directories(out / "dataset");
    kat::TokenDataset lm{.path = "", .corpus = "seed", .split = "train", .sides = {}};
    lm.sides.push_back(kat::tokenize_lines("en", kEnglish, *bytes, "seed"));
    kat::write_token_dataset((out / "dataset" / "ok-lm.h5").string(), lm);
    kat::TokenDataset mt{.path = "", .corpus = "seed", .split = "valid", .sides = {}};
    mt.sides.push_back(kat::tokenize_lines("en", kEnglish, *chars, "seed"));
    mt.sides.push_back(kat::tokenize_lines("es", kSpanish, *chars, "seed"));
    kat::write_token_dataset((out / "dataset" / "ok-mt.h5").string(), mt);
    // A file cut short, as a copy interrupted half-way leaves it.
    std::ifstream whole(out / "dataset" / "ok-mt.h5", std::ios::binary);
    const std::string bytes_of_mt{std::istreambuf_iterator<char>(whole), std::istreambuf_iterator<char>()};
    write(out / "dataset" / "bad-truncated.h5", bytes_of_mt.substr(0, bytes_of_mt.size() / 2));
  } catch (const std::exception& e) {
    std::cerr << "kat_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
