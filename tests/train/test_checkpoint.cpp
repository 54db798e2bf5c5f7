// HDF5 checkpoints: a round trip of every part; missing, truncated, corrupted and foreign files give
// an error naming the file; the checkpoint folder keeps the last K, last.h5 and best.h5.
#include <doctest/doctest.h>
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "core/rng.h"
#include "tests/train/train_test_util.h"
#include "train/run_folder/checkpoint_store.h"

using namespace kat;
using kat::test::read_file;
using kat::test::ScratchDir;
using kat::test::write_file;

namespace {

Checkpoint sample_checkpoint(std::int64_t step) {
  Rng rng(static_cast<std::uint64_t>(step) + 7);
  Checkpoint c;
  Tensor w = Tensor::empty({3, 5});
  fill_normal(w, rng, 0.0, 1.0);
  Tensor d = Tensor::empty({4}, DType::f64);
  fill_normal(d, rng, 0.0, 1.0);
  c.model["decoder.layers.0.self_attn.q_proj.weight"] = w;
  c.model["decoder.layers.0.ffn.fc1.bias"] = d;
  c.model["decoder.layers.0.dropout.rng"] =
      Tensor::from_vector<std::int64_t>({-1, 2, std::numeric_limits<std::int64_t>::min(), 4});
  c.model["decoder.layers.1.self_attn.kernel.projection"] = Tensor::zeros({0, 4});  // an empty buffer
  c.model["decoder.scale"] = Tensor::scalar(2.5);
  c.optimizer.kind = "adamw";
  c.optimizer.steps = step;
  c.optimizer.slots["decoder.layers.0.self_attn.q_proj.weight.exp_avg"] = w.clone();
  c.optimizer.slots["decoder.layers.0.self_attn.q_proj.weight.exp_avg_sq"] = Tensor::full({3, 5}, 0.25);
  c.schedule = {"cosine", 1e-3, 100, 1000, 1e-5};
  c.data_kind = "synthetic";
  c.data_state = {1398361684, -5, 0, 123456789012345, 9};
  c.config = "task: \"lm\"\nmodel:\n  layers: 2\n";
  c.progress.step = step;
  c.progress.epoch = 3;
  c.progress.tokens = 123456;
  c.progress.wall_seconds = 12.5;
  c.progress.best_valid_loss = 1.25;
  c.progress.best_step = step - 1;
  c.progress.validations_since_best = 1;
  c.progress.bad_steps_in_row = 0;
  return c;
}

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == 0 || std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

bool same_tensors(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || !same_tensor(t, it->second)) return false;
  }
  return true;
}

bool same_checkpoint(const Checkpoint& a, const Checkpoint& b) {
  const TrainerProgress &p = a.progress, &q = b.progress;
  return same_tensors(a.model, b.model) && a.optimizer.kind == b.optimizer.kind &&
         a.optimizer.steps == b.optimizer.steps && same_tensors(a.optimizer.slots, b.optimizer.slots) &&
         a.schedule.type == b.schedule.type && a.schedule.lr == b.schedule.lr &&
         a.schedule.warmup == b.schedule.warmup && a.schedule.total_steps == b.schedule.total_steps &&
         a.schedule.min_lr == b.schedule.min_lr && a.data_kind == b.data_kind && a.data_state == b.data_state &&
         a.config == b.config && p.step == q.step && p.epoch == q.epoch && p.tokens == q.tokens &&
         p.wall_seconds == q.wall_seconds && p.best_valid_loss == q.best_valid_loss && p.best_step == q.best_step &&
         p.validations_since_best == q.validations_since_best && p.bad_steps_in_row == q.bad_steps_in_row;
}

void check_equal(const Checkpoint& a, const Checkpoint& b) {
  CHECK(same_tensors(a.model, b.model));
  CHECK(a.optimizer.kind == b.optimizer.kind);
  CHECK(a.optimizer.steps == b.optimizer.steps);
  CHECK(same_tensors(a.optimizer.slots, b.optimizer.slots));
  CHECK(a.schedule.type == b.schedule.type);
  CHECK(a.schedule.lr == b.schedule.lr);
  CHECK(a.schedule.warmup == b.schedule.warmup);
  CHECK(a.schedule.total_steps == b.schedule.total_steps);
  CHECK(a.schedule.min_lr == b.schedule.min_lr);
  CHECK(a.data_kind == b.data_kind);
  CHECK(a.data_state == b.data_state);
  CHECK(a.config == b.config);
  CHECK(a.progress.step == b.progress.step);
  CHECK(a.progress.epoch == b.progress.epoch);
  CHECK(a.progress.tokens == b.progress.tokens);
  CHECK(a.progress.wall_seconds == b.progress.wall_seconds);
  CHECK(a.progress.best_valid_loss == b.progress.best_valid_loss);
  CHECK(a.progress.best_step == b.progress.best_step);
  CHECK(a.progress.validations_since_best == b.progress.validations_since_best);
}

}  // namespace

TEST_CASE("checkpoint: every part survives a write and a read, bit for bit") {
  ScratchDir dir("ckpt-roundtrip");
  const Checkpoint c = sample_checkpoint(40);
  const std::string path = dir.file("c.h5");
  write_checkpoint(path, c);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  const Checkpoint back = read_checkpoint(path);
  check_equal(c, back);
  CHECK(back.model.at("decoder.layers.0.dropout.rng").to_vector<std::int64_t>()[2] ==
        std::numeric_limits<std::int64_t>::min());

  // Infinity (no validation yet) is a value like any other.
  Checkpoint fresh = sample_checkpoint(1);
  fresh.progress.best_valid_loss = std::numeric_limits<double>::infinity();
  fresh.data_state.clear();
  write_checkpoint(path, fresh);  // replaces the old file
  const Checkpoint back2 = read_checkpoint(path);
  CHECK(std::isinf(back2.progress.best_valid_loss));
  CHECK(back2.data_state.empty());
  CHECK(back2.progress.step == 1);
}

TEST_CASE("checkpoint: missing, foreign and truncated files give an error naming the file") {
  ScratchDir dir("ckpt-bad");
  CHECK_THROWS_WITH_AS(read_checkpoint(dir.file("none.h5")), doctest::Contains("none.h5: no such file"), Error);

  const std::string text = write_file(dir.file("text.h5"), "task: lm\n");
  CHECK_THROWS_WITH_AS(read_checkpoint(text), doctest::Contains("text.h5: not a readable HDF5 file"), Error);

  // HDF5's default layout, without metadata checksums: refused before HDF5 parses any of it.
  const std::string unchecked = dir.file("unchecked.h5");
  const hid_t file = H5Fcreate(unchecked.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(file >= 0);
  H5Fclose(file);
  CHECK_THROWS_WITH_AS(read_checkpoint(unchecked),
                       doctest::Contains("unchecked.h5: not a kat checkpoint: HDF5 without metadata checksums "
                                         "(superblock version 0)"),
                       Error);

  const std::string good = dir.file("good.h5");
  write_checkpoint(good, sample_checkpoint(5));
  const std::string bytes = read_file(good);
  REQUIRE(bytes.size() > 4096);

  for (std::size_t keep : {std::size_t{0}, std::size_t{100}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    CAPTURE(keep);
    const std::string cut = write_file(dir.file("cut.h5"), bytes.substr(0, keep));
    CHECK_THROWS_WITH_AS(read_checkpoint(cut), doctest::Contains(("checkpoint " + cut + ": ").c_str()), Error);
  }
}

TEST_CASE("checkpoint: a flipped byte anywhere gives an error naming the file or the original contents") {
  // Each read either fails with an error naming the file or, when the byte was unused, returns the
  // original contents; it never crashes, hangs or returns other data. The reads run in a child
  // process, so a crash or a hang fails this test rather than ending the test program (and so the
  // memory the HDF5 library itself loses on some damaged files stays out of the leak checker).
  ScratchDir dir("ckpt-flip");
  const std::string good = dir.file("good.h5");
  write_checkpoint(good, sample_checkpoint(5));
  const std::string bytes = read_file(good);
  const Checkpoint original = read_checkpoint(good);
  struct Summary {
    int cases = 0, errors = 0, unnamed_errors = 0, other_data = 0;
  };
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    ::alarm(120);  // a hang ends the child with SIGALRM
    Summary s;
    const std::size_t stride = std::max<std::size_t>(1, bytes.size() / 401);  // at least 401 positions
    for (std::size_t pos = 0; pos < bytes.size(); pos += stride) {
      std::string damaged = bytes;
      damaged[pos] = static_cast<char>(damaged[pos] ^ 0x5a);
      const std::string path = write_file(dir.file("flip.h5"), damaged);
      ++s.cases;
      try {
        s.other_data += !same_checkpoint(original, read_checkpoint(path));
      } catch (const Error& e) {
        ++s.errors;
        s.unnamed_errors += std::string(e.what()).find("checkpoint " + path + ": ") != 0;
      }
    }
    const bool sent = ::write(fds[1], &s, sizeof s) == static_cast<ssize_t>(sizeof s);
    ::_exit(sent ? 0 : 3);
  }
  ::close(fds[1]);
  Summary s;
  const bool received = ::read(fds[0], &s, sizeof s) == static_cast<ssize_t>(sizeof s);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE_MESSAGE(WIFEXITED(status), "the reading process died of signal " << WTERMSIG(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(received);
  CHECK(s.cases > 400);
  CHECK(s.errors > 0);
  CHECK(s.unnamed_errors == 0);
  CHECK(s.other_data == 0);
}

TEST_CASE("checkpoint: damage inside a tensor's bytes is caught by its checksum") {
  ScratchDir dir("ckpt-checksum");
  Checkpoint marked = sample_checkpoint(5);
  Tensor big = Tensor::full({64, 64}, 1234.5);
  marked.model["decoder.layers.0.self_attn.q_proj.weight"] = big;
  const std::string mpath = dir.file("marked.h5");
  write_checkpoint(mpath, marked);
  std::string mbytes = read_file(mpath);
  float needle = 1234.5f;
  const auto at = mbytes.find(std::string(reinterpret_cast<const char*>(&needle), 4));
  REQUIRE(at != std::string::npos);
  mbytes[at + 4 * 100] ^= 0x01;  // a low mantissa bit of element 100
  write_file(mpath, mbytes);
  CHECK_THROWS_WITH_AS(read_checkpoint(mpath), doctest::Contains("checksum mismatch"), Error);
}

TEST_CASE("checkpoint: a damaged chunk size in HDF5's chunk index is refused before anything is read") {
  // The 1.8 layout indexes chunks with a version 1 B-tree ("TREE" nodes), which has no checksum;
  // the first key of a node holds its first chunk's stored size (after the signature, node type and
  // level, entry count and two sibling addresses). A size of ~4 GiB must not become an allocation.
  ScratchDir dir("ckpt-chunk-size");
  const std::string good = dir.file("good.h5");
  write_checkpoint(good, sample_checkpoint(5));
  std::string bytes = read_file(good);
  const std::size_t node = bytes.find("TREE");
  REQUIRE(node != std::string::npos);
  const std::size_t size_at = node + 4 + 1 + 1 + 2 + 8 + 8;
  bytes.replace(size_at, 4, "\xda\xff\xff\xff");
  const std::string damaged = write_file(dir.file("damaged.h5"), bytes);
  CHECK_THROWS_WITH_AS(read_checkpoint(damaged), doctest::Contains("4294967258 bytes stored where kat writes"), Error);
}

TEST_CASE("checkpoint: a failed write leaves no file behind") {
  CHECK_THROWS_WITH_AS(write_checkpoint("/no/such/folder/c.h5", sample_checkpoint(1)),
                       doctest::Contains("checkpoint /no/such/folder/c.h5: cannot write"), SystemError);
}

TEST_CASE("checkpoint: a write that fails for lack of room names the file and leaves the previous one intact") {
  // A file-size limit (RLIMIT_FSIZE, as `ulimit -f` sets) makes the write fail as a full disk does.
  // The limit holds for the whole process, so the write runs in a child; it reports the error.
  ScratchDir dir("ckpt-full");
  const std::string path = dir.file("last.h5");
  write_checkpoint(path, sample_checkpoint(5));
  const std::string before = read_file(path);
  Checkpoint big = sample_checkpoint(6);
  big.model["decoder.big"] = Tensor::full({256, 256}, 0.5);  // 256 KiB, beyond the limit
  const std::string message = kat::test::in_child([&] {
    std::signal(SIGXFSZ, SIG_IGN);  // as kat's main does: EFBIG instead of the signal
    const rlimit limit{64 * 1024, 64 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return std::string("setrlimit failed");
    try {
      write_checkpoint(path, big);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
  CHECK_MESSAGE(
      message.find("checkpoint " + path + ": cannot write: " + path + ".tmp: write failed: File too large") == 0,
      message);
  CHECK(read_file(path) == before);  // not a byte changed
  CHECK(read_checkpoint(path).progress.step == 5);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST_CASE("checkpoint folder: keeps the last K step files, last.h5 and best.h5") {
  ScratchDir dir("ckpt-store");
  CheckpointStore store(dir.file("checkpoints"), 2);
  store.save(sample_checkpoint(10), /*best=*/true);
  store.save(sample_checkpoint(20), false);
  store.save(sample_checkpoint(30), false);
  const auto files = store.step_files();
  REQUIRE(files.size() == 2);
  CHECK(files[0] == store.step_path(20));
  CHECK(files[1] == store.step_path(30));
  CHECK(read_checkpoint(store.last_path()).progress.step == 30);
  CHECK(read_checkpoint(store.best_path()).progress.step == 10);  // its step file is gone; best.h5 stays
  store.save(sample_checkpoint(40), true);
  CHECK(read_checkpoint(store.best_path()).progress.step == 40);
  CHECK(read_checkpoint(store.last_path()).progress.step == 40);
  for (const auto& entry : std::filesystem::directory_iterator(store.dir())) {
    CHECK(entry.path().extension() == ".h5");  // no temporary files left
  }
}
