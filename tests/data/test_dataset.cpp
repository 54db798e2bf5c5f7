#include <doctest/doctest.h>
#include <hdf5.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "data/char_tokenizer.h"
#include "data/corpus_datasets.h"
#include "data/dataset.h"
#include "data/loaders.h"
#include "tests/data/data_test_util.h"

using namespace kat;
using kat::test::sample_lines;
using kat::test::ScratchDir;
using kat::test::slurp;

namespace {

std::string error_of(const auto& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// An HDF5 file with a root attribute format_version = `version` (and kat_format when asked), in
// the checksummed layout kat writes or in HDF5's default layout without checksums.
void write_foreign_hdf5(const std::string& path, bool kat_format, std::int64_t version, bool checksummed = true) {
  const hid_t access = H5Pcreate(H5P_FILE_ACCESS);
  if (checksummed) H5Pset_libver_bounds(access, H5F_LIBVER_V110, H5F_LIBVER_V110);
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access);
  H5Pclose(access);
  REQUIRE(file >= 0);
  const hid_t space = H5Screate(H5S_SCALAR);
  if (kat_format) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, 11);
    const hid_t attr = H5Acreate2(file, "kat_format", type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(attr, type, "kat-dataset");
    H5Aclose(attr);
    H5Tclose(type);
  }
  const hid_t attr = H5Acreate2(file, "format_version", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, H5T_NATIVE_INT64, &version);
  H5Aclose(attr);
  H5Sclose(space);
  H5Fclose(file);
}

}  // namespace

TEST_CASE("datasets: written and read back exactly, with the tokenizer embedded") {
  ScratchDir dir;
  const auto lines = sample_lines();
  std::vector<std::string> en(lines.begin(), lines.begin() + 5), es(lines.begin() + 5, lines.end());
  const auto tok = CharTokenizer::train(lines);
  const std::string path = dir.file("mt.h5");
  write_text_dataset(
      path, "sample", "valid",
      {{"en", dir.write("a.en", join_lines(en)), tok.get()}, {"es", dir.write("a.es", join_lines(es)), tok.get()}});
  const TokenDataset d = read_token_dataset(path);
  CHECK(d.corpus == "sample");
  CHECK(d.split == "valid");
  REQUIRE(d.sides.size() == 2);
  CHECK(d.side("es").name == "es");
  CHECK(d.side("").name == "en");
  CHECK(error_of([&] { d.side("fr"); }).find(path + ": no side 'fr' (the dataset has en, es)") != std::string::npos);
  const auto back = parse_tokenizer(d.sides[1].tokenizer, "embedded");
  for (std::size_t k = 0; k < es.size(); ++k) {
    const auto ids = d.sides[1].sentence(static_cast<std::int64_t>(k));
    CHECK(back->decode(std::vector<std::int64_t>(ids.begin(), ids.end())) == es[k]);
  }
  const DatasetInfo info = read_dataset_info(path);
  CHECK(info.sides.size() == 2);
  CHECK(info.side("en").sentences == 5);
  CHECK(info.side("en").vocab_size == tok->vocab_size());
  CHECK(info.side("en").tokens ==
        static_cast<std::int64_t>(tok->encode(en[0]).size() + tok->encode(en[1]).size() + tok->encode(en[2]).size() +
                                  tok->encode(en[3]).size() + tok->encode(en[4]).size()));
  CHECK(info.pad_id == 0);
  CHECK(info.eos_id == 2);
  CHECK(info.side("es").tokenizer->decode(tok->encode(es[2])) == es[2]);

  // Checksummed metadata (superblock 3) and no timestamps anywhere, so that two runs a second
  // apart write the same bytes.
  CHECK(slurp(path).substr(0, 9) == std::string("\x89HDF\r\n\x1a\n\x03", 9));
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  REQUIRE(file >= 0);
  for (const char* object : {"/", "/en", "/en/ids", "/es/vocab"}) {
    CAPTURE(object);
    H5O_info_t info{};
    REQUIRE(H5Oget_info_by_name2(file, object, &info, H5O_INFO_TIME, H5P_DEFAULT) >= 0);
    CHECK(info.ctime == 0);
    CHECK(info.mtime == 0);
  }
  H5Fclose(file);
}

TEST_CASE("datasets: bad text input names the file and the line") {
  ScratchDir dir;
  const auto tok = CharTokenizer::bytes();
  const std::string a = dir.write("a.en", "one\ntwo\nthree\n");
  const std::string b = dir.write("b.es", "uno\ndos\n");
  CHECK(error_of([&] {
          write_text_dataset(dir.file("x.h5"), "c", "train", {{"en", a, tok.get()}, {"es", b, tok.get()}});
        }).find(b + ": 2 lines, but " + a + " has 3") != std::string::npos);
  const std::string empty = dir.write("empty.en", "");
  CHECK(error_of([&] {
          write_text_dataset(dir.file("x.h5"), "c", "train", {{"en", empty, tok.get()}});
        }).find(empty + ": empty file") != std::string::npos);
  const std::string bad = dir.write("bad.en", "fine\nbroken \xF0\x9F\n");
  CHECK(error_of([&] {
          write_text_dataset(dir.file("x.h5"), "c", "train", {{"en", bad, tok.get()}});
        }).find(bad + ":2: invalid UTF-8") != std::string::npos);
  CHECK(error_of([&] {
          write_text_dataset(dir.file("x.h5"), "c", "train", {{"en", dir.file("nope.en"), tok.get()}});
        }).find("nope.en: cannot open") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("x.h5")));  // nothing written half
}

TEST_CASE("datasets: missing, foreign, truncated and other-version files are refused naming the file") {
  ScratchDir dir;
  CHECK(error_of([&] { read_token_dataset(dir.file("none.h5")); }).find("none.h5: no such dataset file") !=
        std::string::npos);
  const std::string text = dir.write("text.h5", "not hdf5 at all\n");
  CHECK(error_of([&] { read_token_dataset(text); }).find(text + ": not an HDF5 file") != std::string::npos);
  const std::string foreign = dir.file("foreign.h5");
  write_foreign_hdf5(foreign, false, 1);
  CHECK(error_of([&] { read_token_dataset(foreign); }).find(foreign + ": not a kat dataset") != std::string::npos);
  const std::string future = dir.file("future.h5");
  write_foreign_hdf5(future, true, 2);
  CHECK(error_of([&] {
          read_dataset_info(future);
        }).find(future + ": dataset format version 2, this kat reads version 1") != std::string::npos);
  const std::string hollow = dir.file("hollow.h5");
  write_foreign_hdf5(hollow, true, 1);
  CHECK(error_of([&] { read_token_dataset(hollow); }).find(hollow + ": missing attribute 'corpus'") !=
        std::string::npos);

  // HDF5's default layout has no metadata checksums: refused before HDF5 parses it.
  const std::string unchecked = dir.file("unchecked.h5");
  write_foreign_hdf5(unchecked, true, 1, false);
  CHECK(error_of([&] {
          read_token_dataset(unchecked);
        }).find(unchecked + ": an HDF5 layout without checksums on all metadata (superblock version 0; kat") !=
        std::string::npos);

  // A real dataset cut short.
  std::vector<std::string> lines;
  for (int i = 0; i < 3000; ++i) lines.push_back("line " + std::to_string(i) + " of a corpus long enough");
  const auto tok = CharTokenizer::train(lines);
  const std::string good = dir.file("good.h5");
  write_text_dataset(good, "c", "train", {{"en", dir.write("l.txt", join_lines(lines)), tok.get()}});
  CHECK(read_token_dataset(good).sides[0].sentences() == 3000);
  const std::string bytes = slurp(good);
  const std::string cut = dir.write("cut.h5", bytes.substr(0, bytes.size() / 2));
  const std::string msg = error_of([&] { read_token_dataset(cut); });
  CHECK(msg.find(cut + ": ") == 0);

  // One byte of the root group's header changed (in the attribute name kat_format): the metadata
  // checksum no longer matches and HDF5 refuses to read it.
  std::string damaged_bytes = bytes;
  const std::size_t at = damaged_bytes.find("kat_format");
  REQUIRE(at != std::string::npos);
  damaged_bytes[at] = 'K';
  const std::string damaged = dir.write("damaged.h5", damaged_bytes);
  CHECK(error_of([&] { read_token_dataset(damaged); }).find(damaged + ": cannot read the metadata of 'kat_format'") !=
        std::string::npos);

  // The ids of this file are chunked; the index of their chunks (a fixed array data block, "FADB",
  // holding each chunk's address and stored size) is checksummed too.
  std::string index_bytes = bytes;
  const std::size_t block = index_bytes.find("FADB");
  REQUIRE(block != std::string::npos);
  index_bytes[block + 4 + 1 + 1 + 8 + 8] ^= 0x40;  // the first chunk's stored size
  const std::string bad_index = dir.write("bad-index.h5", index_bytes);
  CHECK(error_of([&] { read_token_dataset(bad_index); }).find(bad_index + ": cannot read /en/ids") !=
        std::string::npos);
}
