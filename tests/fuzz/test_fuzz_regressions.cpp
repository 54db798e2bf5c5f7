// Replays every seed and regression input of every fuzz target (tests/fuzz/seeds/<target>/ and
// tests/fuzz/regressions/<target>/) through the targets' bodies, so that what the fuzzers found
// stays fixed in the ordinary test suite. A seed named "ok-*" must be accepted, one named "bad-*"
// refused with a kat::Error; any other exception, a Failure included, fails the test.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <vector>

#include "tests/fuzz/fuzz_targets.h"

namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> inputs_of(const std::string& folder, const std::string& target) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(KAT_FUZZ_DIR) / folder / target;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().filename().string().front() != '.') files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

void replay(const std::string& target, bool (*input)(std::span<const std::uint8_t>)) {
  const std::vector<fs::path> seeds = inputs_of("seeds", target);
  CHECK_MESSAGE(seeds.size() >= 3, "too few seeds for ", target);
  std::vector<fs::path> all = seeds;
  for (const fs::path& p : inputs_of("regressions", target)) all.push_back(p);
  for (const fs::path& path : all) {
    INFO(path.string());
    const std::vector<std::uint8_t> bytes = read_bytes(path);
    bool accepted = false;
    CHECK_NOTHROW(accepted = input(bytes));
    const std::string name = path.filename().string();
    if (name.starts_with("ok-")) CHECK(accepted);
    if (name.starts_with("bad-")) CHECK_FALSE(accepted);
  }
}

}  // namespace

TEST_CASE("fuzz regressions: tokenizers") { replay("tokenizer", kat::fuzz::tokenizer_input); }
TEST_CASE("fuzz regressions: mod2imp records and OSIS text") { replay("records", kat::fuzz::records_input); }
TEST_CASE("fuzz regressions: BLEU and chrF") { replay("bleu", kat::fuzz::bleu_input); }
TEST_CASE("fuzz regressions: HDF5 datasets") { replay("dataset", kat::fuzz::dataset_input); }
TEST_CASE("fuzz regressions: experiment files") { replay("experiment", kat::fuzz::experiment_input); }
TEST_CASE("fuzz regressions: checkpoints") { replay("checkpoint", kat::fuzz::checkpoint_input); }
TEST_CASE("fuzz regressions: plot titles and run folder names") { replay("plot", kat::fuzz::plot_input); }
