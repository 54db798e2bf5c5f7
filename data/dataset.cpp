#include "data/dataset.h"

#include <hdf5.h>

#include <filesystem>
#include <functional>

#include "core/error.h"
#include "data/hdf5_file.h"
#include "data/text_io.h"

namespace kat {
namespace {

// Silences HDF5's own error printing while kat turns failures into kat::Error.
class QuietHdf5 {
 public:
  QuietHdf5() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietHdf5() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietHdf5(const QuietHdf5&) = delete;
  QuietHdf5& operator=(const QuietHdf5&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// An HDF5 identifier closed by its own close function.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

class Writer {
 public:
  Writer(const std::string& path, const std::string& tmp) : path_(path), file_(open(tmp), H5Fclose) {}

  hid_t file() const { return file_.get(); }

  void string_attribute(hid_t where, const char* name, const std::string& value) const {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), std::max<std::size_t>(value.size(), 1));
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(where, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    std::string padded = value.empty() ? std::string(1, '\0') : value;
    check(attr.ok() && H5Awrite(attr.get(), type.get(), padded.data()) >= 0, name);
  }

  void int_attribute(hid_t where, const char* name, std::int64_t value) const {
    Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    Handle attr(H5Acreate2(where, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    check(attr.ok() && H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) >= 0, name);
  }

  // A 1-D dataset; large ones are chunked and deflate-compressed when HDF5 has zlib.
  void array(hid_t where, const std::string& name, hid_t file_type, hid_t mem_type, const void* data,
             std::size_t n) const {
    const hsize_t dims[1] = {static_cast<hsize_t>(n)};
    Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
    Handle props(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
    H5Pset_obj_track_times(props.get(), false);  // no timestamps: two runs write the same bytes
    constexpr hsize_t kChunk = 1 << 16;
    if (n >= kChunk && H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
      const hsize_t chunk[1] = {kChunk};
      H5Pset_chunk(props.get(), 1, chunk);
      H5Pset_shuffle(props.get());
      H5Pset_deflate(props.get(), 4);
    }
    Handle set(H5Dcreate2(where, name.c_str(), file_type, space.get(), H5P_DEFAULT, props.get(), H5P_DEFAULT),
               H5Dclose);
    check(set.ok() && (n == 0 || H5Dwrite(set.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0), name);
  }

  void strings(hid_t where, const std::string& name, const std::vector<std::string>& values) const {
    Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const std::string& v : values) pointers.push_back(v.c_str());
    array(where, name, type.get(), type.get(), pointers.data(), pointers.size());
  }

  void check(bool ok, const std::string& what) const {
    if (!ok) throw Error(path_ + ": HDF5 write of '" + what + "' failed");
  }

 private:
  hid_t open(const std::string& tmp) const {
    // The HDF5 1.10 layout (superblock version 3) checksums all of the file's metadata, the index
    // of a chunked dataset's chunks included (the 1.8 layout's B-tree has none), so HDF5 refuses a
    // damaged file instead of parsing it (Reader::open insists on this layout).
    Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
    H5Pset_libver_bounds(access.get(), H5F_LIBVER_V110, H5F_LIBVER_V110);
    Handle create(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
    H5Pset_obj_track_times(create.get(), false);  // the root group's header would hold timestamps
    const hid_t id = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, create.get(), access.get());
    if (id < 0) throw Error(path_ + ": cannot create the HDF5 file " + tmp);
    return id;
  }
  std::string path_;
  Handle file_;
};

class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path), file_(open(path), H5Fclose) {}

  bool has(const std::string& name) const { return exists(H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT), name); }
  bool has_attribute(const char* name) const { return exists(H5Aexists(file_.get(), name), name); }

  std::string string_attribute(const char* name) const {
    Handle attr(H5Aopen(file_.get(), name, H5P_DEFAULT), H5Aclose);
    if (!attr.ok()) fail(std::string("missing attribute '") + name + "'");
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) {
      fail(std::string("attribute '") + name + "' is not a fixed-length string");
    }
    std::string value(H5Tget_size(type.get()), '\0');
    if (H5Aread(attr.get(), type.get(), value.data()) < 0) fail(std::string("cannot read attribute '") + name + "'");
    while (!value.empty() && value.back() == '\0') value.pop_back();
    return value;
  }

  std::int64_t int_attribute(const char* name) const {
    Handle attr(H5Aopen(file_.get(), name, H5P_DEFAULT), H5Aclose);
    if (!attr.ok()) fail(std::string("missing attribute '") + name + "'");
    Handle type(H5Aget_type(attr.get()), H5Tclose);
    std::int64_t value = 0;
    if (H5Tget_class(type.get()) != H5T_INTEGER || H5Aread(attr.get(), H5T_NATIVE_INT64, &value) < 0) {
      fail(std::string("attribute '") + name + "' is not an integer");
    }
    return value;
  }

  // Reads a 1-D dataset of integers into `out` (converted to T's type).
  template <typename T>
  void array(const std::string& name, hid_t mem_type, std::vector<T>& out) const {
    Handle set(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!set.ok()) fail("missing " + name);
    Handle space(H5Dget_space(set.get()), H5Sclose);
    if (H5Sget_simple_extent_ndims(space.get()) != 1) fail(name + " is not one-dimensional");
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space.get(), &n, nullptr);
    out.resize(static_cast<std::size_t>(n));
    if (n > 0 && H5Dread(set.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0) {
      fail("cannot read " + name + " (truncated or corrupt file)");
    }
  }

  std::int64_t length(const std::string& name) const {
    Handle set(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    if (!set.ok()) fail("missing " + name);
    Handle space(H5Dget_space(set.get()), H5Sclose);
    hsize_t n = 0;
    if (H5Sget_simple_extent_ndims(space.get()) != 1) fail(name + " is not one-dimensional");
    H5Sget_simple_extent_dims(space.get(), &n, nullptr);
    return static_cast<std::int64_t>(n);
  }

  // The answer of H5Lexists or H5Aexists: yes, no, or (negative) the metadata could not be read,
  // as when a checksum does not match.
  bool exists(htri_t answer, const std::string& name) const {
    if (answer < 0) fail("cannot read the metadata of '" + name + "'");
    return answer > 0;
  }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ": " + what + " (not a dataset written by `kat prepare`, or a damaged one)");
  }

 private:
  hid_t open(const std::string& path) const {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw Error(path + ": no such dataset file");
    if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(path + ": not an HDF5 file (another format, or truncated)");
    // Metadata without checksums is not parsed at all (data/hdf5_file.h).
    const int superblock = hdf5_superblock_version(path);
    if (superblock < 3) {
      throw Error(path + ": an HDF5 layout without checksums on all metadata (" +
                  (superblock < 0 ? std::string("superblock after a user block")
                                  : "superblock version " + std::to_string(superblock)) +
                  "; kat writes version 3), not a dataset of this kat; prepare it again with `kat prepare`");
    }
    const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) throw Error(path + ": cannot open as HDF5 (truncated or corrupt file)");
    return id;
  }
  std::string path_;
  Handle file_;
};

std::vector<std::string> split_names(const std::string& sides) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (start <= sides.size()) {
    const std::size_t comma = std::min(sides.find(',', start), sides.size());
    names.push_back(sides.substr(start, comma - start));
    start = comma + 1;
  }
  return names;
}

}  // namespace

const TokenizedSide& TokenDataset::side(const std::string& name) const {
  if (sides.empty()) throw Error(path + ": dataset without sides");
  if (name.empty()) return sides.front();
  for (const TokenizedSide& s : sides) {
    if (s.name == name) return s;
  }
  std::string have;
  for (const TokenizedSide& s : sides) have += (have.empty() ? "" : ", ") + s.name;
  throw Error(path + ": no side '" + name + "' (the dataset has " + have + ")");
}

TokenizedSide tokenize_lines(const std::string& name, const std::vector<std::string>& lines, const Tokenizer& tokenizer,
                             const std::string& source) {
  TokenizedSide side;
  side.name = name;
  side.tokenizer = serialize_tokenizer(tokenizer);
  side.vocab_size = tokenizer.vocab_size();
  side.offsets.reserve(lines.size() + 1);
  side.offsets.push_back(0);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::int64_t> ids;
    try {
      ids = tokenizer.encode(lines[i]);
    } catch (const Error& e) {
      throw Error(source + ":" + std::to_string(i + 1) + ": " + e.what());
    }
    for (const std::int64_t id : ids) side.ids.push_back(static_cast<std::int32_t>(id));
    side.offsets.push_back(static_cast<std::int64_t>(side.ids.size()));
  }
  return side;
}

void write_token_dataset(const std::string& path, const TokenDataset& dataset) {
  if (dataset.sides.empty()) throw Error(path + ": a dataset needs at least one side");
  std::string names;
  for (const TokenizedSide& s : dataset.sides) {
    if (s.name.empty() || s.name.find_first_of(",/") != std::string::npos) {
      throw Error(path + ": side name '" + s.name + "' (expected a name such as 'en', without ',' or '/')");
    }
    if (s.sentences() != dataset.sides.front().sentences()) {
      throw Error(path + ": side " + s.name + " has " + std::to_string(s.sentences()) + " sentences, side " +
                  dataset.sides.front().name + " has " + std::to_string(dataset.sides.front().sentences()));
    }
    names += (names.empty() ? "" : ",") + s.name;
  }
  QuietHdf5 quiet;
  const std::string tmp = temporary_path_for(path);
  try {
    {
      Writer w(path, tmp);
      w.string_attribute(w.file(), "kat_format", "kat-dataset");
      w.int_attribute(w.file(), "format_version", kDatasetFormatVersion);
      w.string_attribute(w.file(), "corpus", dataset.corpus);
      w.string_attribute(w.file(), "split", dataset.split);
      w.string_attribute(w.file(), "sides", names);
      for (const TokenizedSide& s : dataset.sides) {
        Handle group_props(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
        H5Pset_obj_track_times(group_props.get(), false);
        Handle group(H5Gcreate2(w.file(), s.name.c_str(), H5P_DEFAULT, group_props.get(), H5P_DEFAULT), H5Gclose);
        w.check(group.ok(), s.name);
        w.array(group.get(), "ids", H5T_STD_I32LE, H5T_NATIVE_INT32, s.ids.data(), s.ids.size());
        w.array(group.get(), "offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, s.offsets.data(), s.offsets.size());
        w.array(group.get(), "tokenizer", H5T_STD_U8LE, H5T_NATIVE_UINT8, s.tokenizer.data(), s.tokenizer.size());
        const auto tokenizer = parse_tokenizer(s.tokenizer, path + ":/" + s.name + "/tokenizer");
        std::vector<std::string> vocab;
        for (std::int64_t id = 0; id < tokenizer->vocab_size(); ++id) vocab.push_back(tokenizer->piece(id));
        w.strings(group.get(), "vocab", vocab);
      }
      w.check(H5Fflush(w.file(), H5F_SCOPE_GLOBAL) >= 0, "flush");
    }
    commit_temporary(tmp, path);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
}

TokenDataset read_token_dataset(const std::string& path, bool with_ids) {
  QuietHdf5 quiet;
  Reader r(path);
  if (!r.has_attribute("kat_format") || r.string_attribute("kat_format") != "kat-dataset") {
    throw Error(path + ": not a kat dataset (no kat_format = \"kat-dataset\" attribute); write one with `kat prepare`");
  }
  const std::int64_t version = r.int_attribute("format_version");
  if (version != kDatasetFormatVersion) {
    throw Error(path + ": dataset format version " + std::to_string(version) + ", this kat reads version " +
                std::to_string(kDatasetFormatVersion) + " (prepare it again with `kat prepare`)");
  }
  TokenDataset d;
  d.path = path;
  d.corpus = r.string_attribute("corpus");
  d.split = r.string_attribute("split");
  for (const std::string& name : split_names(r.string_attribute("sides"))) {
    if (name.empty() || !r.has(name)) r.fail("missing group /" + name);
    TokenizedSide s;
    s.name = name;
    const std::string g = "/" + name + "/";
    r.array(g + "offsets", H5T_NATIVE_INT64, s.offsets);
    std::vector<std::uint8_t> bytes;
    r.array(g + "tokenizer", H5T_NATIVE_UINT8, bytes);
    s.tokenizer.assign(bytes.begin(), bytes.end());
    const auto tokenizer = parse_tokenizer(s.tokenizer, path + ":" + g + "tokenizer");
    s.vocab_size = tokenizer->vocab_size();
    const std::int64_t n_ids = r.length(g + "ids");
    if (s.offsets.empty() || s.offsets.front() != 0 || s.offsets.back() != n_ids) {
      r.fail(g + "offsets do not span " + g + "ids");
    }
    for (std::size_t k = 1; k < s.offsets.size(); ++k) {
      if (s.offsets[k] < s.offsets[k - 1]) r.fail(g + "offsets decrease at entry " + std::to_string(k));
    }
    if (with_ids) {
      r.array(g + "ids", H5T_NATIVE_INT32, s.ids);
      for (const std::int32_t id : s.ids) {
        if (id < 0 || id >= s.vocab_size) {
          r.fail(g + "ids holds id " + std::to_string(id) + " outside the vocabulary of " +
                 std::to_string(s.vocab_size));
        }
      }
    }
    if (!d.sides.empty() && s.sentences() != d.sides.front().sentences()) {
      r.fail("sides " + d.sides.front().name + " and " + name + " differ in sentence count");
    }
    d.sides.push_back(std::move(s));
  }
  return d;
}

}  // namespace kat
