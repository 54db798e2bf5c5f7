#include "train/run_folder/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>

#include "core/error.h"
#include "data/hdf5_file.h"

namespace kat {
namespace {

// What an HDF5 call failed at, with the library's innermost reason.
class H5Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

herr_t collect_error(unsigned /*n*/, const H5E_error2_t* err, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (err && err->desc && *err->desc) *out = err->desc;  // walking downward: the last is the innermost
  return 0;
}

std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason.empty() ? "unknown HDF5 error" : reason;
}

[[noreturn]] void fail(const std::string& what) { throw H5Failure(fmt::format("{} ({})", what, hdf5_reason())); }

// An HDF5 identifier closed by the function that matches its kind.
class Hid {
 public:
  Hid() = default;
  Hid(hid_t id, herr_t (*close)(hid_t), const std::string& what) : id_(id), close_(close) {
    if (id_ < 0) fail(what);
  }
  ~Hid() { reset(); }
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = -1;
    }
    return *this;
  }
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  hid_t get() const { return id_; }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

void check(herr_t status, const std::string& what) {
  if (status < 0) fail(what);
}

// "decoder.layers.0.weight" -> "decoder/layers/0/weight", and back.
std::string to_h5_path(std::string name) {
  std::replace(name.begin(), name.end(), '.', '/');
  return name;
}
std::string from_h5_path(std::string path) {
  std::replace(path.begin(), path.end(), '/', '.');
  return path;
}

hid_t memory_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i64: return H5T_NATIVE_INT64;
  }
  return H5T_NATIVE_FLOAT;
}

hid_t file_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_IEEE_F32LE;
    case DType::f64: return H5T_IEEE_F64LE;
    case DType::i64: return H5T_STD_I64LE;
  }
  return H5T_IEEE_F32LE;
}

// FNV-1a over a tensor's bytes: stored with every dataset (besides HDF5's Fletcher-32 on chunked
// ones), so damage to any dataset, a scalar included, is caught when it is read.
std::int64_t fnv1a(const Tensor& t) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto* p = static_cast<const unsigned char*>(t.raw_data());
  const std::size_t n = t.nbytes();
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return static_cast<std::int64_t>(h);
}

// The same over the string attributes a checkpoint restores: HDF5 keeps variable-length strings in
// a heap without checksums, so they get one of their own (an integer, in the checksummed header).
std::int64_t strings_checksum(const Checkpoint& c) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const std::string* s : {&c.config, &c.optimizer.kind, &c.schedule.type, &c.data_kind}) {
    for (unsigned char ch : *s) h = (h ^ ch) * 0x100000001b3ULL;
    h = (h ^ 0xffU) * 0x100000001b3ULL;  // a separator no UTF-8 text contains
  }
  for (unsigned char ch : c.distill_optimizer.kind) h = (h ^ ch) * 0x100000001b3ULL;  // "" in most runs
  return static_cast<std::int64_t>(h);
}

void set_attr(hid_t obj, const std::string& name, std::int64_t v);

// ---- writing ----

Hid group(hid_t parent, const std::string& name) {
  return Hid(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose,
             "cannot create group " + name);
}

void write_tensor(hid_t parent, const std::string& path, const Tensor& tensor) {
  const Tensor t = tensor.contiguous();
  std::vector<hsize_t> dims(t.shape().begin(), t.shape().end());
  Hid space = dims.empty() ? Hid(H5Screate(H5S_SCALAR), H5Sclose, "dataspace")
                           : Hid(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose,
                                 "dataspace of " + path);
  Hid lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose, "link properties");
  check(H5Pset_create_intermediate_group(lcpl.get(), 1), "intermediate groups");
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "dataset properties");
  if (!dims.empty() && t.numel() > 0) {
    // One chunk per tensor (halved along the leading axes while above 64 MiB), checksummed.
    std::vector<hsize_t> chunk = dims;
    const std::size_t limit = std::size_t{64} << 20;
    for (std::size_t axis = 0; axis < chunk.size(); ++axis) {
      while (chunk[axis] > 1) {
        std::size_t bytes = dtype_size(t.dtype());
        for (hsize_t c : chunk) bytes *= c;
        if (bytes <= limit) break;
        chunk[axis] = (chunk[axis] + 1) / 2;
      }
    }
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "chunking of " + path);
    check(H5Pset_fletcher32(dcpl.get()), "checksum of " + path);
  }
  Hid ds(H5Dcreate2(parent, path.c_str(), file_type(t.dtype()), space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
         H5Dclose, "cannot create dataset " + path);
  if (t.numel() > 0) {
    check(H5Dwrite(ds.get(), memory_type(t.dtype()), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()),
          "cannot write dataset " + path);
  }
  set_attr(ds.get(), "checksum", fnv1a(t));
}

Hid scalar_attribute(hid_t obj, const std::string& name, hid_t type) {
  Hid space(H5Screate(H5S_SCALAR), H5Sclose, "dataspace");
  return Hid(H5Acreate2(obj, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
             "cannot create attribute " + name);
}

void set_attr(hid_t obj, const std::string& name, std::int64_t v) {
  Hid a = scalar_attribute(obj, name, H5T_STD_I64LE);
  check(H5Awrite(a.get(), H5T_NATIVE_INT64, &v), "cannot write attribute " + name);
}

void set_attr(hid_t obj, const std::string& name, double v) {
  Hid a = scalar_attribute(obj, name, H5T_IEEE_F64LE);
  check(H5Awrite(a.get(), H5T_NATIVE_DOUBLE, &v), "cannot write attribute " + name);
}

// Strings are fixed-length (null-padded UTF-8): their bytes live in the object header, which the
// 1.8 format checksums. (Variable-length strings live in the global heap, which has no checksum and
// which HDF5 can loop on when it is damaged.)
Hid string_type(std::size_t size) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
  check(H5Tset_size(type.get(), std::max<std::size_t>(size, 1)), "string type");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "string type");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "string type");
  return type;
}

void set_attr(hid_t obj, const std::string& name, const std::string& v) {
  Hid type = string_type(v.size());
  Hid a = scalar_attribute(obj, name, type.get());
  std::string padded = v;
  padded.resize(std::max<std::size_t>(v.size(), 1), '\0');
  check(H5Awrite(a.get(), type.get(), padded.data()), "cannot write attribute " + name);
}

// Bob Jenkins' lookup3 hash (hashlittle, initial value 0): the checksum of HDF5's metadata.
std::uint32_t lookup3(const unsigned char* k, std::size_t n) {
  auto rot = [](std::uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  auto word = [](const unsigned char* p, std::size_t avail) {
    std::uint32_t w = 0;
    for (std::size_t i = 0; i < 4 && i < avail; ++i) w |= static_cast<std::uint32_t>(p[i]) << (8 * i);
    return w;
  };
  std::uint32_t a = 0xdeadbeefU + static_cast<std::uint32_t>(n), b = a, c = a;
  for (; n > 12; n -= 12, k += 12) {
    a += word(k, 4);
    b += word(k + 4, 4);
    c += word(k + 8, 4);
    a -= c, a ^= rot(c, 4), c += b;
    b -= a, b ^= rot(a, 6), a += c;
    c -= b, c ^= rot(b, 8), b += a;
    a -= c, a ^= rot(c, 16), c += b;
    b -= a, b ^= rot(a, 19), a += c;
    c -= b, c ^= rot(b, 4), b += a;
  }
  if (n == 0) return c;
  a += word(k, n);
  b += n > 4 ? word(k + 4, n - 4) : 0;
  c += n > 8 ? word(k + 8, n - 8) : 0;
  c ^= b, c -= rot(b, 14);
  a ^= c, a -= rot(c, 11);
  b ^= a, b -= rot(a, 25);
  c ^= b, c -= rot(b, 16);
  a ^= c, a -= rot(c, 4);
  b ^= a, b -= rot(a, 14);
  c ^= b, c -= rot(b, 24);
  return c;
}

// HDF5 1.10's H5Fget_file_image clears the superblock's status flags in the image of a file open
// for writing but keeps the checksum computed with them set, so the image fails its own check.
// The checksum is recomputed over the superblock as the file format specifies it (versions 2 and 3
// with 8-byte addresses: 44 bytes, then their lookup3 checksum, little-endian).
void fix_superblock_checksum(std::vector<unsigned char>& image) {
  constexpr std::size_t kSigned = 44;
  if (image.size() < kSigned + 4 || (image[8] != 2 && image[8] != 3) || image[9] != 8 || image[10] != 8) {
    throw H5Failure("the HDF5 library wrote a superblock other than version 2 or 3 with 8-byte addresses");
  }
  const std::uint32_t sum = lookup3(image.data(), kSigned);
  for (std::size_t i = 0; i < 4; ++i) image[kSigned + i] = static_cast<unsigned char>(sum >> (8 * i));
}

// The checkpoint as the bytes of an HDF5 file, built in memory (HDF5's core driver without a
// backing store): the library never touches the disk, so a failing disk cannot leave it holding
// a half-flushed file (HDF5 1.10 then crashes at exit closing it again).
std::vector<unsigned char> file_image(const std::string& name, const Checkpoint& c) {
  Hid fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose, "file access properties");
  // Object headers of the 1.8 format carry checksums; every HDF5 reader since 2008 reads them.
  check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_LATEST), "format bounds");
  check(H5Pset_fapl_core(fapl.get(), std::size_t{1} << 20, /*backing_store=*/0), "memory file driver");
  Hid file(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose, "cannot create the file");
  const hid_t root = file.get();
  set_attr(root, "format", std::string("kat-checkpoint"));
  set_attr(root, "format_version", kCheckpointFormatVersion);
  set_attr(root, "kat_version", std::string(KAT_VERSION));
  set_attr(root, "config", c.config);
  if (!c.blas_kernels.empty()) set_attr(root, "blas_kernels", c.blas_kernels);

  Hid trainer = group(root, "trainer");
  const TrainerProgress& p = c.progress;
  set_attr(trainer.get(), "step", p.step);
  set_attr(trainer.get(), "epoch", p.epoch);
  set_attr(trainer.get(), "tokens", p.tokens);
  set_attr(trainer.get(), "wall_seconds", p.wall_seconds);
  set_attr(trainer.get(), "train_seconds", p.train_seconds);
  set_attr(trainer.get(), "best_valid_loss", p.best_valid_loss);
  set_attr(trainer.get(), "best_step", p.best_step);
  set_attr(trainer.get(), "validations_since_best", p.validations_since_best);
  set_attr(trainer.get(), "bad_steps_in_row", p.bad_steps_in_row);

  Hid model = group(root, "model");
  for (const auto& [name, t] : c.model) write_tensor(model.get(), to_h5_path(name), t);

  Hid optim = group(root, "optimizer");
  set_attr(optim.get(), "kind", c.optimizer.kind);
  set_attr(optim.get(), "steps", c.optimizer.steps);
  Hid slots = group(optim.get(), "slots");
  for (const auto& [name, t] : c.optimizer.slots) write_tensor(slots.get(), to_h5_path(name), t);
  if (!c.distill_optimizer.kind.empty()) {
    Hid distill = group(root, "distill_optimizer");
    set_attr(distill.get(), "kind", c.distill_optimizer.kind);
    set_attr(distill.get(), "steps", c.distill_optimizer.steps);
    Hid distill_slots = group(distill.get(), "slots");
    for (const auto& [name, t] : c.distill_optimizer.slots) write_tensor(distill_slots.get(), to_h5_path(name), t);
  }

  Hid sched = group(root, "schedule");
  set_attr(sched.get(), "type", c.schedule.type);
  set_attr(sched.get(), "lr", c.schedule.lr);
  set_attr(sched.get(), "warmup", c.schedule.warmup);
  set_attr(sched.get(), "total_steps", c.schedule.total_steps);
  set_attr(sched.get(), "min_lr", c.schedule.min_lr);

  Hid data = group(root, "data");
  set_attr(data.get(), "kind", c.data_kind);
  write_tensor(data.get(), "train_state",
               Tensor::from_vector<std::int64_t>(c.data_state, {static_cast<std::int64_t>(c.data_state.size())}));

  set_attr(root, "strings_checksum", strings_checksum(c));
  set_attr(root, "complete", std::int64_t{1});
  check(H5Fflush(root, H5F_SCOPE_GLOBAL), "cannot flush the file");
  const ssize_t size = H5Fget_file_image(root, nullptr, 0);
  if (size <= 0) fail("cannot get the file image");
  std::vector<unsigned char> image(static_cast<std::size_t>(size));
  if (H5Fget_file_image(root, image.data(), image.size()) != size) fail("cannot get the file image");
  fix_superblock_checksum(image);
  return image;
}

// ---- reading ----

bool has_attr(hid_t obj, const std::string& name) { return H5Aexists(obj, name.c_str()) > 0; }

Hid open_attr(hid_t obj, const std::string& name) {
  if (H5Aexists(obj, name.c_str()) <= 0) throw H5Failure("missing attribute '" + name + "'");
  return Hid(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose, "cannot open attribute " + name);
}

std::int64_t get_int(hid_t obj, const std::string& name) {
  Hid a = open_attr(obj, name);
  std::int64_t v = 0;
  check(H5Aread(a.get(), H5T_NATIVE_INT64, &v), "cannot read attribute " + name);
  return v;
}

double get_double(hid_t obj, const std::string& name) {
  Hid a = open_attr(obj, name);
  double v = 0;
  check(H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v), "cannot read attribute " + name);
  return v;
}

std::string get_string(hid_t obj, const std::string& name) {
  Hid a = open_attr(obj, name);
  Hid stored(H5Aget_type(a.get()), H5Tclose, "type of attribute " + name);
  if (H5Tget_class(stored.get()) != H5T_STRING || H5Tis_variable_str(stored.get()) != 0) {
    throw H5Failure("attribute '" + name + "' is not a fixed-length string");
  }
  const std::size_t size = H5Tget_size(stored.get());
  if (size == 0 || size > (std::size_t{1} << 26)) throw H5Failure("attribute '" + name + "' has a bad size");
  Hid type = string_type(size);
  std::string out(size, '\0');
  check(H5Aread(a.get(), type.get(), out.data()), "cannot read attribute " + name);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Hid open_group(hid_t parent, const std::string& name) {
  if (H5Lexists(parent, name.c_str(), H5P_DEFAULT) <= 0) throw H5Failure("missing group '" + name + "'");
  return Hid(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose, "cannot open group " + name);
}

// The chunk index of the 1.8 layout (a version 1 B-tree) has no checksum, and HDF5 allocates what
// it says a chunk holds before reading it: a damaged size asks for gigabytes. So the bytes stored
// must be those kat wrote: each chunk whole (edge chunks too) plus its Fletcher-32 checksum, or the
// tensor's bytes for a contiguous dataset.
void check_storage(hid_t ds, const Tensor& t, const std::string& path) {
  Hid dcpl(H5Dget_create_plist(ds), H5Pclose, "creation properties of " + path);
  std::uint64_t expected = t.nbytes();
  if (H5Pget_layout(dcpl.get()) == H5D_CHUNKED) {
    const int rank = static_cast<int>(t.dim());
    std::vector<hsize_t> chunk(static_cast<std::size_t>(rank));
    if (H5Pget_chunk(dcpl.get(), rank, chunk.data()) != rank) fail("chunk shape of " + path);
    std::uint64_t chunks = 1, chunk_bytes = dtype_size(t.dtype());
    for (int axis = 0; axis < rank; ++axis) {
      const auto c = chunk[static_cast<std::size_t>(axis)];
      if (c == 0) throw H5Failure("dataset " + path + ": chunk of size 0");
      chunks *= (static_cast<std::uint64_t>(t.size(axis)) + c - 1) / c;
      chunk_bytes *= c;
    }
    expected = chunks * (chunk_bytes + 4);
  }
  const hsize_t stored = H5Dget_storage_size(ds);
  if (stored != expected) {
    throw H5Failure(
        fmt::format("dataset {}: {} bytes stored where kat writes {} (damaged file)", path, stored, expected));
  }
}

Tensor read_tensor(hid_t parent, const std::string& path) {
  Hid ds(H5Dopen2(parent, path.c_str(), H5P_DEFAULT), H5Dclose, "cannot open dataset " + path);
  Hid space(H5Dget_space(ds.get()), H5Sclose, "dataspace of " + path);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0 || rank > 16) fail("bad rank of " + path);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "dims of " + path);
  Hid type(H5Dget_type(ds.get()), H5Tclose, "type of " + path);
  const H5T_class_t cls = H5Tget_class(type.get());
  const std::size_t size = H5Tget_size(type.get());
  DType dtype;
  if (cls == H5T_FLOAT && size == 4) {
    dtype = DType::f32;
  } else if (cls == H5T_FLOAT && size == 8) {
    dtype = DType::f64;
  } else if (cls == H5T_INTEGER && size == 8) {
    dtype = DType::i64;
  } else {
    throw H5Failure(fmt::format("dataset {} has an element type kat does not use", path));
  }
  Shape shape(dims.begin(), dims.end());
  Tensor t = Tensor::empty(shape, dtype);
  if (t.numel() > 0) {
    check_storage(ds.get(), t, path);
    check(H5Dread(ds.get(), memory_type(dtype), H5S_ALL, H5S_ALL, H5P_DEFAULT, t.raw_data()),
          "cannot read dataset " + path + ": checksum mismatch or damaged file");
  }
  if (get_int(ds.get(), "checksum") != fnv1a(t)) throw H5Failure("dataset " + path + ": checksum mismatch");
  return t;
}

struct VisitState {
  std::vector<std::string> datasets;
};

herr_t visit_link(hid_t group_id, const char* name, const H5L_info_t* info, void* data) {
  if (info->type != H5L_TYPE_HARD) return 0;
  const hid_t obj = H5Oopen(group_id, name, H5P_DEFAULT);
  if (obj < 0) return -1;
  const bool dataset = H5Iget_type(obj) == H5I_DATASET;
  H5Oclose(obj);
  if (dataset) static_cast<VisitState*>(data)->datasets.emplace_back(name);
  return 0;
}

std::map<std::string, Tensor> read_tree(hid_t parent, const std::string& name) {
  Hid g = open_group(parent, name);
  VisitState state;
  check(H5Lvisit(g.get(), H5_INDEX_NAME, H5_ITER_INC, visit_link, &state), "cannot list group " + name);
  std::map<std::string, Tensor> out;
  for (const auto& path : state.datasets) out[from_h5_path(path)] = read_tensor(g.get(), path);
  return out;
}

Checkpoint read_file(const std::string& path) {
  // Metadata without checksums is not parsed at all: HDF5 1.10 can read out of bounds on a damaged
  // one (data/hdf5_file.h). kat writes checkpoints in the checksummed layout only.
  const int superblock = hdf5_superblock_version(path);
  if (superblock < 0)
    throw H5Failure("not a readable HDF5 file: truncated or corrupted (no HDF5 superblock at its start)");
  if (superblock < 2) {
    throw H5Failure(fmt::format(
        "not a kat checkpoint: HDF5 without metadata checksums (superblock version {}), which kat never writes",
        superblock));
  }
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose,
           "not a readable HDF5 file: truncated or corrupted");
  const hid_t root = file.get();
  if (!has_attr(root, "format") || get_string(root, "format") != "kat-checkpoint") {
    throw H5Failure("not a kat checkpoint (no format = \"kat-checkpoint\" attribute)");
  }
  const std::int64_t version = get_int(root, "format_version");
  if (version != kCheckpointFormatVersion) {
    throw H5Failure(fmt::format("format version {}, but this kat reads version {}", version, kCheckpointFormatVersion));
  }
  if (!has_attr(root, "complete") || get_int(root, "complete") != 1) {
    throw H5Failure("incomplete checkpoint (the writer stopped before finishing)");
  }
  Checkpoint c;
  c.config = get_string(root, "config");
  if (has_attr(root, "blas_kernels")) c.blas_kernels = get_string(root, "blas_kernels");

  Hid trainer = open_group(root, "trainer");
  TrainerProgress& p = c.progress;
  p.step = get_int(trainer.get(), "step");
  p.epoch = get_int(trainer.get(), "epoch");
  p.tokens = get_int(trainer.get(), "tokens");
  p.wall_seconds = get_double(trainer.get(), "wall_seconds");
  p.train_seconds =
      has_attr(trainer.get(), "train_seconds") ? get_double(trainer.get(), "train_seconds") : p.wall_seconds;
  p.best_valid_loss = get_double(trainer.get(), "best_valid_loss");
  p.best_step = get_int(trainer.get(), "best_step");
  p.validations_since_best = get_int(trainer.get(), "validations_since_best");
  p.bad_steps_in_row = get_int(trainer.get(), "bad_steps_in_row");
  if (p.step < 0) throw H5Failure(fmt::format("negative step {}", p.step));

  c.model = read_tree(root, "model");

  Hid optim = open_group(root, "optimizer");
  c.optimizer.kind = get_string(optim.get(), "kind");
  c.optimizer.steps = get_int(optim.get(), "steps");
  c.optimizer.slots = read_tree(optim.get(), "slots");
  if (H5Lexists(root, "distill_optimizer", H5P_DEFAULT) > 0) {
    Hid distill = open_group(root, "distill_optimizer");
    c.distill_optimizer.kind = get_string(distill.get(), "kind");
    c.distill_optimizer.steps = get_int(distill.get(), "steps");
    c.distill_optimizer.slots = read_tree(distill.get(), "slots");
  }

  Hid sched = open_group(root, "schedule");
  c.schedule.type = get_string(sched.get(), "type");
  c.schedule.lr = get_double(sched.get(), "lr");
  c.schedule.warmup = get_int(sched.get(), "warmup");
  c.schedule.total_steps = get_int(sched.get(), "total_steps");
  c.schedule.min_lr = get_double(sched.get(), "min_lr");

  Hid data = open_group(root, "data");
  c.data_kind = get_string(data.get(), "kind");
  if (get_int(root, "strings_checksum") != strings_checksum(c)) {
    throw H5Failure("the string attributes (config, optimizer kind, schedule type, data kind) fail their checksum");
  }
  const Tensor state = read_tensor(data.get(), "train_state");
  if (state.dtype() != DType::i64 || state.dim() != 1) throw H5Failure("data/train_state is not a 1-D int64 dataset");
  c.data_state = state.to_vector<std::int64_t>();
  return c;
}

}  // namespace

void write_checkpoint(const Dir& dir, const std::string& name, const Checkpoint& c) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported through exceptions
  std::vector<unsigned char> image;
  try {
    image = file_image(name + ".tmp", c);
  } catch (const std::exception& e) {
    throw SystemError(fmt::format("checkpoint {}: cannot build the file: {}", dir.file(name), e.what()));
  }
  try {
    dir.write_atomic(name, std::string_view(reinterpret_cast<const char*>(image.data()), image.size()));
  } catch (const SystemError& e) {
    throw SystemError(fmt::format("checkpoint {}: cannot write: {}", dir.file(name), e.what()));
  }
}

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  const std::filesystem::path p(path);
  const std::string folder = p.parent_path().empty() ? "." : p.parent_path().string();
  std::optional<Dir> dir;
  try {
    dir.emplace(Dir::open(folder, false));
  } catch (const SystemError& e) {
    throw SystemError(fmt::format("checkpoint {}: cannot write: {}", path, e.what()));
  }
  write_checkpoint(*dir, p.filename().string(), c);
}

Checkpoint read_checkpoint(const std::string& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(fmt::format("checkpoint {}: no such file", path));
  try {
    return read_file(path);
  } catch (const H5Failure& e) {
    throw Error(fmt::format("checkpoint {}: {}", path, e.what()));
  }
}

}  // namespace kat
