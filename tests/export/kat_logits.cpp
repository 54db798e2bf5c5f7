// kat_logits RUN_DIR CHECKPOINT INPUT OUTPUT: the logits a trained run gives for the token ids in
// INPUT, written to OUTPUT as a NumPy .npy file (float32, little-endian, shape (B, T, vocab)).
// The export test (run_export_test.py) compares them with those of the PyTorch model that
// scripts/export_torch.py made from the same checkpoint.
//
// INPUT is text, one row of ids a line, each line starting with its key:
//   src: 4 5 6 2           translation: the source rows (all of one length, padded with 0)
//   src_lengths: 4 3       optional: each source row's real length
//   tgt: 1 4 5 6           the decoder input rows (a language model's ids)
//   tgt_lengths: 4 2       optional: each decoder row's real length
// Blank lines and lines starting with '#' are skipped.

#include <fmt/format.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "train/evaluate.h"

namespace {

using Rows = std::vector<std::vector<std::int64_t>>;

std::map<std::string, Rows> read_input(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw kat::Error(fmt::format("{}: cannot open", path));
  std::map<std::string, Rows> rows;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) throw kat::Error(fmt::format("{}:{}: expected 'key: ids...'", path, number));
    std::istringstream values(line.substr(colon + 1));
    std::vector<std::int64_t> row;
    for (std::int64_t v = 0; values >> v;) row.push_back(v);
    if (!values.eof()) throw kat::Error(fmt::format("{}:{}: not an integer list", path, number));
    rows[line.substr(0, colon)].push_back(row);
  }
  return rows;
}

// Rows of one length as an int64 (B, T) tensor; undefined when there are none.
kat::Tensor id_tensor(const Rows& rows, const std::string& what) {
  if (rows.empty()) return kat::Tensor();
  std::vector<std::int64_t> flat;
  for (const auto& r : rows) {
    if (r.size() != rows[0].size() || r.empty()) {
      throw kat::Error(fmt::format("{}: rows must be non-empty and of one length (pad them)", what));
    }
    flat.insert(flat.end(), r.begin(), r.end());
  }
  return kat::Tensor::from_vector(flat,
                                  {static_cast<std::int64_t>(rows.size()), static_cast<std::int64_t>(rows[0].size())});
}

std::vector<std::int64_t> lengths(const std::map<std::string, Rows>& input, const std::string& key) {
  const auto it = input.find(key);
  if (it == input.end()) return {};
  if (it->second.size() != 1) throw kat::Error(fmt::format("{}: give one line of lengths", key));
  return it->second[0];
}

// NumPy's .npy format, version 1.0: magic, header length, a Python dict literal padded with spaces
// to a multiple of 64 bytes and ending in a newline, then the raw data.
void write_npy(const std::string& path, const kat::Tensor& t) {
  std::string shape;
  for (std::int64_t i = 0; i < t.dim(); ++i) shape += fmt::format("{}, ", t.size(i));
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", shape);
  const std::size_t preamble = 10;
  header.append(63 - (preamble + header.size()) % 64, ' ');
  header += '\n';
  const std::vector<float> values = t.to_vector<float>();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const auto n = static_cast<std::uint16_t>(header.size());
  const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
  const char length[2] = {static_cast<char>(n & 0xff), static_cast<char>(n >> 8)};
  out.write(magic, sizeof magic);
  out.write(length, sizeof length);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!out) throw kat::Error(fmt::format("{}: cannot write", path));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: kat_logits RUN_DIR best|last|FILE INPUT OUTPUT.npy\n");
    return 2;
  }
  try {
    kat::LoadedRun run = kat::load_run(argv[1], argv[2]);
    const auto input = read_input(argv[3]);
    kat::Batch batch;
    const auto rows = [&](const std::string& key) { return input.count(key) ? input.at(key) : Rows(); };
    batch.input = id_tensor(rows("tgt"), "tgt");
    batch.lengths = lengths(input, "tgt_lengths");
    if (!batch.input.defined()) throw kat::Error(fmt::format("{}: no 'tgt:' rows", argv[3]));
    if (run.experiment.task == kat::Task::translation) {
      batch.src = id_tensor(rows("src"), "src");
      batch.src_lengths = lengths(input, "src_lengths");
      if (!batch.src.defined()) throw kat::Error(fmt::format("{}: a translation model needs 'src:' rows", argv[3]));
    }
    batch.sentences = batch.input.size(0);
    kat::NoGradGuard no_grad;
    write_npy(argv[4], run.model->logits(batch).data().contiguous());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kat_logits: %s\n", e.what());
    return 1;
  }
  return 0;
}
