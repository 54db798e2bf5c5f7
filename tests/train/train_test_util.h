#pragma once
// Helpers of the train/ tests: scratch folders, files, the kat command, and small experiments.

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "train/config/experiment_config.h"
#include "train/trainer.h"

namespace kat::test {

// A fresh folder under the system's temporary folder, removed with everything in it at the end.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& name) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("kat-test-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  return path;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line and returns its exit code and output.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.output.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

struct SplitResult {
  int exit_code = -1;
  std::string out;  // standard output alone
  std::string err;  // standard error alone
};

// Runs a shell command line with its standard output and standard error kept apart.
inline SplitResult run_split(const std::string& command) {
  static std::atomic<int> counter{0};
  const std::string err_path = (std::filesystem::temp_directory_path() /
                                ("kat-test-stderr-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                                   .string();
  SplitResult r;
  FILE* p = ::popen(("( " + command + " ) 2>" + err_path).c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err_path);
  std::filesystem::remove(err_path);
  return r;
}

// A word for the shell: `s` in single quotes, with each single quote written as '\''.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `body` in a child process and returns the string it returns, the message of an exception it
// throws, or why the child died: for limits that hold for a whole process, such as RLIMIT_FSIZE.
inline std::string in_child(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  const pid_t child = ::fork();
  if (child < 0) return "fork failed";
  if (child == 0) {
    ::close(fds[0]);
    std::string message;
    try {
      message = body();
    } catch (const std::exception& e) {
      message = std::string("exception: ") + e.what();
    }
    const bool sent = ::write(fds[1], message.data(), message.size()) == static_cast<ssize_t>(message.size());
    ::_exit(sent ? 0 : 3);
  }
  ::close(fds[1]);
  std::string message;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) message.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (!WIFEXITED(status)) return "the child died of signal " + std::to_string(WTERMSIG(status));
  if (WEXITSTATUS(status) != 0) return "the child exited with " + std::to_string(WEXITSTATUS(status));
  return message;
}

// Trainer options for tests: nothing on the console, no signal handlers.
inline TrainerOptions quiet() {
  TrainerOptions o;
  o.console = false;
  o.signals = false;
  return o;
}

// A tiny language model on the Markov data: trains a step in a few milliseconds.
inline Experiment tiny_lm(const std::string& dir) {
  Experiment e = default_experiment();
  e.task = Task::lm;
  e.data.synthetic.task = SyntheticTask::markov;
  e.data.synthetic.symbols = 8;
  e.data.synthetic.valid_sentences = 8;
  e.data.seq_len = 12;
  e.data.batch_size = 4;
  e.model.layers = 2;
  e.model.d_model = 16;
  e.model.heads = 2;
  e.model.d_ff = 32;
  e.model.dropout = 0.1;
  e.optim.lr = 3e-3;
  e.schedule.warmup = 3;
  e.train.steps = 8;
  e.train.valid_interval = 4;
  e.train.checkpoint_interval = 4;
  e.train.log_interval = 2;
  e.output.dir = dir;
  return e;
}

// A tiny encoder-decoder on the copy task.
inline Experiment tiny_copy(const std::string& dir) {
  Experiment e = tiny_lm(dir);
  e.task = Task::translation;
  e.data.synthetic.task = SyntheticTask::copy;
  e.data.synthetic.min_len = 2;
  e.data.synthetic.max_len = 7;
  e.model.share_embeddings = true;
  return e;
}

}  // namespace kat::test
