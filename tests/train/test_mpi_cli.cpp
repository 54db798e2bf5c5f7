// `mpiexec -n 2 kat train` end to end, as a user runs it (docs/distributed.md): the same parameters
// as `kat train` in one process, a rank killed with SIGKILL ends the whole run at once and leaves a
// checkpoint that resumes, an error on one rank ends every rank, and SIGUSR1 to the launcher stops
// the run cleanly. Registered only when MPI was found; the launcher comes from CMake's FindMPI.

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/train/train_test_util.h"
#include "train/run_folder/checkpoint.h"

extern char** environ;

using namespace kat;
using kat::test::read_file;
using kat::test::ScratchDir;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// The environment of the launched commands. Open MPI asks for consent before running as root
// (harmless otherwise). In a sanitizer build, leak checking is off in the MPI processes: Open MPI's
// components, closed by MPI_Finalize, leave allocations LeakSanitizer cannot name or suppress (see
// tests/CMakeLists.txt); this program's own leak check is not affected (LeakSanitizer read its
// options at start-up).
const bool g_environment = [] {
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
  if (kSanitized) ::setenv("LSAN_OPTIONS", "detect_leaks=0", 1);
  return true;
}();

// A launched command in a process group of its own, its output in a file.
class Job {
 public:
  Job(const std::vector<std::string>& args, const std::string& log) : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    started_ = ::posix_spawnp(&pid_, argv[0], &actions, &attr, argv.data(), environ) == 0;
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  ~Job() {
    if (started_ && !ended_) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
    }
  }
  Job(const Job&) = delete;
  Job& operator=(const Job&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return started_; }
  // Waits up to `seconds`; false on a timeout, after which the whole group is killed.
  bool wait(double seconds) {
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (!ended_) {
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        ended_ = true;
        break;
      }
      if (Clock::now() > deadline) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &status_, 0);
        ended_ = true;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }
  int exit_code() const { return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_); }
  std::string output() const { return read_file(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool started_ = false;
  bool ended_ = false;
};

// The processes below `root` whose environment names them MPI rank `rank`.
std::vector<pid_t> ranks_below(pid_t root, int rank) {
  std::vector<pid_t> all = {root}, found;
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string text((std::istreambuf_iterator<char>(stat)), {});
      const auto close = text.rfind(')');
      if (close == std::string::npos) continue;
      char state = 0;
      int ppid = 0;
      if (std::sscanf(text.c_str() + close + 1, " %c %d", &state, &ppid) != 2 || ppid != all[i]) continue;
      const pid_t child = std::stoi(name);
      all.push_back(child);
      const std::string env = read_file("/proc/" + name + "/environ");
      for (std::size_t at = 0; at < env.size(); at = env.find('\0', at) + 1) {
        const std::string var = env.substr(at, env.find('\0', at) - at);
        if (var == "OMPI_COMM_WORLD_RANK=" + std::to_string(rank) || var == "PMI_RANK=" + std::to_string(rank)) {
          found.push_back(child);
        }
        if (env.find('\0', at) == std::string::npos) break;
      }
    }
  }
  return found;
}

std::vector<std::string> launcher(int processes) {
  std::vector<std::string> a = {KAT_MPIEXEC, KAT_MPIEXEC_NUMPROC_FLAG, std::to_string(processes)};
  if (KAT_OPEN_MPI) a.push_back("--oversubscribe");
  return a;
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// `kat train CONFIG` with the sets every test uses: one thread per process, small buckets.
std::vector<std::string> kat_train(const std::string& config, const std::string& dir,
                                   const std::vector<std::string>& sets) {
  std::vector<std::string> a = {KAT_BINARY,
                                "train",
                                std::string(KAT_SOURCE_DIR) + "/configs/" + config,
                                "--set",
                                "train.threads=1",
                                "--set",
                                "train.bucket_mb=0.01",
                                "--set",
                                "output.dir=" + dir};
  for (const auto& s : sets) {
    a.push_back("--set");
    a.push_back(s);
  }
  return a;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The largest difference between the models of two checkpoints, and the tensor it is in. Under
// softmax attention the key projection's bias is left out: softmax ignores it, its gradient is
// rounding noise that Adam scales up (docs/reliability.md, Determinism).
std::pair<double, std::string> max_model_difference(const Checkpoint& a, const Checkpoint& b) {
  if (a.model.size() != b.model.size()) return {INFINITY, "(a different number of tensors)"};
  std::pair<double, std::string> worst = {0.0, "(none)"};
  for (const auto& [name, t] : a.model) {
    auto it = b.model.find(name);
    if (it == b.model.end() || it->second.shape() != t.shape()) return {INFINITY, name};
    if (!is_floating(t.dtype()) || ends_with(name, "attn.k_proj.bias")) continue;
    const double d = max_abs_diff(t, it->second);
    if (d > worst.first) worst = {d, name};
  }
  return worst;
}

void check_same_as_one_process(const std::string& config, std::vector<std::string> sets) {
  sets.push_back("model.activation=gelu");
  ScratchDir dir("mpi-cli");
  const std::string one = dir.file("one"), two = dir.file("two");
  Job single(kat_train(config, one, sets), dir.file("one.log"));
  REQUIRE(single.wait(120));
  INFO(single.output());
  REQUIRE(single.exit_code() == 0);
  Job parallel(launcher(2) + kat_train(config, two, sets), dir.file("two.log"));
  REQUIRE(parallel.wait(120));
  INFO(parallel.output());
  REQUIRE(parallel.exit_code() == 0);
  const Checkpoint a = read_checkpoint(one + "/checkpoints/last.h5");
  const Checkpoint b = read_checkpoint(two + "/checkpoints/last.h5");
  CHECK(a.progress.step == b.progress.step);
  CHECK(a.data_state == b.data_state);
  const auto [d, where] = max_model_difference(a, b);
  MESSAGE(config << ": the last checkpoints of 1 and 2 processes differ by at most " << d << " (" << where << ")");
  // Adam moves an element by up to the learning rate (3e-3 here) per step whatever its gradient's
  // size, so the rounding difference of two sums of the same gradients shows in elements whose
  // gradient is small: up to 9.5e-7 after 12 steps (relu, and 7.2e-7 with gelu). A real error, a
  // row of the 16 or 32 lost or counted twice, changes the gradients by parts in 16 or 32, and
  // Adam's steps by about that part of the learning rate: 1e-4 (an estimate).
  CHECK(d <= 1e-5);
  // Rank 0 alone wrote the run folder: one log, every line once.
  const std::string log = read_file(two + "/train.log");
  CHECK(log.find("data-parallel: ") != std::string::npos);
  CHECK(log.find("[rank 1]") == std::string::npos);
  CHECK(read_file(one + "/metrics.jsonl").size() > 0);
  const auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  CHECK(lines(read_file(one + "/metrics.jsonl")) == lines(read_file(two + "/metrics.jsonl")));
}

}  // namespace

TEST_CASE("mpiexec -n 2 kat train: the language model of one process, to 1e-5") {
  check_same_as_one_process("lm-tiny.yaml", {"train.steps=12", "schedule.warmup=4", "train.valid_interval=6",
                                             "train.checkpoint_interval=6", "train.log_interval=3"});
}

TEST_CASE("mpiexec -n 2 kat train: the translation model of one process, to 1e-5") {
  check_same_as_one_process("copy-tiny.yaml", {"train.steps=12", "train.valid_interval=6",
                                               "train.checkpoint_interval=6", "train.log_interval=3"});
}

// Kills rank 0, the rank that writes checkpoints, at a random moment after one was written (a write
// of the next one may be under way), then resumes from what the kill left. (When another rank dies
// the launcher ends rank 0 the same way; tests of an error on rank 1 are below.)
TEST_CASE("mpiexec -n 2 kat train: a rank killed with SIGKILL ends the run, and the last checkpoint resumes") {
  ScratchDir dir("mpi-kill");
  const std::string run = dir.file("run");
  // The schedule's length fixed, so that the resumed run may be of any length.
  const std::vector<std::string> sets = {
      "train.steps=100000",     "schedule.total_steps=1000", "train.checkpoint_interval=2",
      "train.valid_interval=0", "train.patience=0",          "train.log_interval=2"};
  Job job(launcher(2) + kat_train("lm-tiny.yaml", run, sets), dir.file("kill.log"));
  REQUIRE(job.started());
  const std::string last = run + "/checkpoints/last.h5";
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && !fs::exists(last)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::milliseconds(20 + std::rand() % 100));
  const std::vector<pid_t> ranks = ranks_below(job.pid(), 0);
  REQUIRE(ranks.size() == 1);
  ::kill(ranks[0], SIGKILL);
  const auto killed = Clock::now();
  INFO(job.output());
  CHECK(job.wait(30));  // no hang: the launcher ends the other rank
  CHECK(job.exit_code() != 0);
  MESSAGE("rank 0 killed: the run ended " << std::chrono::duration<double>(Clock::now() - killed).count()
                                          << " s later");
  // Every checkpoint left loads, last.h5 among them, and the run continues from it on two ranks.
  for (const auto& entry : fs::directory_iterator(run + "/checkpoints")) {
    if (entry.path().extension() == ".h5") CHECK_NOTHROW(read_checkpoint(entry.path().string()));
  }
  const std::int64_t at = read_checkpoint(last).progress.step;
  CHECK(at >= 2);
  Job resume(launcher(2) + std::vector<std::string>{KAT_BINARY, "train", "--resume", run, "--set",
                                                    "train.steps=" + std::to_string(at + 2)},
             dir.file("resume.log"));
  REQUIRE(resume.wait(60));
  INFO(resume.output());
  CHECK(resume.exit_code() == 0);
  CHECK(read_checkpoint(last).progress.step == at + 2);
}

TEST_CASE("mpiexec -n 2 kat train: an error on one rank ends every rank with its exit code") {
  ScratchDir dir("mpi-error");
  const std::string run = dir.file("run");
  Job first(kat_train("lm-tiny.yaml", run,
                      {"train.steps=3", "schedule.total_steps=1000", "train.valid_interval=0", "train.patience=0"}),
            dir.file("first.log"));
  REQUIRE(first.wait(60));
  INFO(first.output());
  REQUIRE(first.exit_code() == 0);
  // Rank 0 resumes the run; rank 1 is told a folder without a checkpoint and fails alone, while
  // rank 0 waits for it in the start-up's check of the models.
  const std::vector<std::string> args = {KAT_BINARY, "train", "--resume", run, "--set", "train.steps=6"};
  std::vector<std::string> mpmd = {KAT_MPIEXEC, KAT_MPIEXEC_NUMPROC_FLAG, "1"};
  if (KAT_OPEN_MPI) mpmd.push_back("--oversubscribe");
  mpmd = mpmd + args;
  mpmd.push_back(":");
  mpmd = mpmd + std::vector<std::string>{KAT_MPIEXEC_NUMPROC_FLAG, "1",        KAT_BINARY,           "train",
                                         run + "/config.yaml",     "--resume", dir.file("elsewhere")};
  Job job(mpmd, dir.file("job.log"));
  REQUIRE(job.wait(30));
  const std::string out = job.output();
  INFO(out);
  CHECK(job.exit_code() == 2);
  CHECK(out.find("rank 1 of 2") != std::string::npos);
  CHECK(out.find("no checkpoint to resume from") != std::string::npos);
  CHECK(read_checkpoint(run + "/checkpoints/last.h5").progress.step == 3);
}

TEST_CASE("mpiexec -n 2 kat train: SIGUSR1 to the launcher stops every rank cleanly with a checkpoint") {
  ScratchDir dir("mpi-usr1");
  const std::string run = dir.file("run");
  Job job(launcher(2) + kat_train("lm-tiny.yaml", run,
                                  {"train.steps=100000", "train.valid_interval=0", "train.checkpoint_interval=1000",
                                   "train.patience=0"}),
          dir.file("job.log"));
  REQUIRE(job.started());
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline && read_file(run + "/train.log").find("data-parallel: ") == std::string::npos) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(job.pid(), SIGUSR1);
  REQUIRE(job.wait(30));
  const std::string out = job.output();
  INFO(out);
  CHECK(job.exit_code() == 130);  // stopped by a signal, after the checkpoint
  CHECK(out.find("stopped at step") != std::string::npos);
  const Checkpoint c = read_checkpoint(run + "/checkpoints/last.h5");
  CHECK(c.progress.step > 0);
  CHECK(out.find("stopped at step " + std::to_string(c.progress.step) + " on request") != std::string::npos);
}

TEST_CASE("mpiexec -n 2 kat config: commands other than train refuse to run as several processes") {
  ScratchDir dir("mpi-other");
  Job job(launcher(2) + std::vector<std::string>{KAT_BINARY, "config", "check",
                                                 std::string(KAT_SOURCE_DIR) + "/configs/copy-tiny.yaml"},
          dir.file("job.log"));
  REQUIRE(job.wait(30));
  INFO(job.output());
  CHECK(job.exit_code() == 2);
  CHECK(job.output().find("kat config runs as one process, but an MPI launcher started 2") != std::string::npos);
}
