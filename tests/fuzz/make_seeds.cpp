// Writes the binary seed inputs of the fuzz targets (tokenizer files, HDF5 datasets, checkpoints) into
// OUT_DIR/<target>/, as committed in tests/fuzz/seeds/:
//   kat_fuzz_seeds tests/fuzz/seeds
// Tokenizer files and datasets come out byte for byte the same on every run; checkpoints hold HDF5
// timestamps.

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include "core/error.h"
#include "data/char_tokenizer.h"
#include "data/dataset.h"
#include "data/spm_tokenizer.h"
#include "train/run_folder/checkpoint.h"

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

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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
    // A side of more than 65536 tokens: chunked and compressed, with a chunk index.
    std::vector<std::string> many;
    for (int i = 0; i < 2400; ++i) many.push_back("verse " + std::to_string(i) + " of a corpus, long enough.");
    kat::TokenDataset big{.path = "", .corpus = "seed", .split = "train", .sides = {}};
    big.sides.push_back(kat::tokenize_lines("en", many, *bytes, "seed"));
    kat::write_token_dataset((out / "dataset" / "ok-chunked.h5").string(), big);
    // A file cut short, as a copy interrupted half-way leaves it.
    const std::string bytes_of_mt = read(out / "dataset" / "ok-mt.h5");
    write(out / "dataset" / "bad-truncated.h5", bytes_of_mt.substr(0, bytes_of_mt.size() / 2));
    // Checkpoint target: a small checkpoint with a tensor of each kind the trainer saves.
    kat::Checkpoint c;
    c.model["decoder.layers.0.attn.q_proj.weight"] =
        kat::Tensor::from_vector<float>({0.5f, -1.0f, 2.0f, 0.25f}, {2, 2});
    c.model["decoder.scale"] = kat::Tensor::scalar(2.5, kat::DType::f64);
    c.model["decoder.layers.0.dropout.rng"] = kat::Tensor::from_vector<std::int64_t>({1, -2, 3, 4});
    c.model["decoder.layers.0.attn.kernel.projection"] = kat::Tensor::zeros({0, 2});
    c.optimizer.kind = "adamw";
    c.optimizer.steps = 3;
    c.optimizer.slots["decoder.layers.0.attn.q_proj.weight.exp_avg"] = kat::Tensor::full({2, 2}, 0.125);
    c.schedule = {"cosine", 1e-3, 10, 100, 1e-5};
    c.data_kind = "synthetic";
    c.data_state = {7, 0, 3};
    c.config = "task: lm\nmodel:\n  layers: 1\n";
    c.progress.step = 3;
    c.progress.tokens = 96;
    std::filesystem::create_directories(out / "checkpoint");
    kat::write_checkpoint((out / "checkpoint" / "ok-small.h5").string(), c);
    kat::write_checkpoint((out / "checkpoint" / "ok-empty.h5").string(), kat::Checkpoint{});
    write(out / "checkpoint" / "bad-truncated.h5", read(out / "checkpoint" / "ok-small.h5").substr(0, 4096));
  } catch (const std::exception& e) {
    std::cerr << "kat_fuzz_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
