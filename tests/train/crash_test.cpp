// crash_test: kills `kat train` with SIGKILL at random moments and checks that nothing it saved is
// lost. A tiny language model trains with a checkpoint every 3 steps; each kill lands at a random
// moment of one of three kinds:
//   write   while a checkpoint is being written to disk (a new *.tmp file in checkpoints/ is seen,
//           then a random delay of up to half the time a write takes in the uninterrupted run)
//   step    a random moment after a random step
//   start   a random moment of the start-up (loading the checkpoint, writing config.yaml, ...)
// After each kill, every checkpoint file must load, last.h5 must hold at least the newest
// checkpoint the run reported written, and `kat train --resume` (or, before the first checkpoint,
// `kat train` afresh) must continue from last.h5. At the end the run must finish, and its
// parameters, optimizer state and every logged loss must equal those of an uninterrupted run.
//
//   crash_test --kat build/bin/kat [--kills 20] [--steps 0 (20 + 8 per kill)] [--seed S]
//              [--dir DIR (kept afterwards)] [--verbose]
//
// Prints "N kills (...), M losses"; exits 0 when there is no loss and the runs agree, 1 otherwise.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/train/train_test_util.h"
#include "train/run_folder/checkpoint.h"
#include "train/run_folder/run_log.h"

extern char** environ;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string kat;
  int kills = 20;
  std::int64_t steps = 0;
  std::uint64_t seed = 0;
  std::string dir;
  bool verbose = false;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "crash_test: %s\nusage: crash_test --kat PATH [--kills N] [--steps S] [--seed S] [--dir DIR] "
               "[--verbose]\n",
               problem.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  o.seed = static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--kat") {
      o.kat = value();
    } else if (a == "--kills") {
      o.kills = std::stoi(value());
    } else if (a == "--steps") {
      o.steps = std::stoll(value());
    } else if (a == "--seed") {
      o.seed = std::stoull(value());
    } else if (a == "--dir") {
      o.dir = value();
    } else if (a == "--verbose") {
      o.verbose = true;
    } else {
      usage("unknown argument " + a);
    }
  }
  if (o.kat.empty()) usage("--kat is required");
  if (o.kills < 1) usage("--kills must be >= 1");
  if (o.steps == 0) o.steps = 20 + 8 * o.kills;
  if (o.steps < 2 * o.kills) usage("--steps must be at least twice --kills");
  return o;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// One `kat train` process, its output in a file of its own.
// The run of decimal digits of `text` that starts at `pos` (empty when there is none).
std::string leading_digits(const std::string& text, std::size_t pos) {
  std::size_t end = pos;
  while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
  return text.substr(std::min(pos, text.size()), end - std::min(pos, text.size()));
}

class Attempt {
 public:
  Attempt(const std::vector<std::string>& args, std::string log) : log_(std::move(log)) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      std::fprintf(stderr, "crash_test: cannot start %s: %s\n", args[0].c_str(), std::strerror(rc));
      std::exit(2);
    }
  }

  // True once the process has ended (its exit status is then in status()).
  bool ended() {
    if (ended_) return true;
    ended_ = ::waitpid(pid_, &status_, WNOHANG) == pid_;
    return ended_;
  }
  void kill() {
    ::kill(pid_, SIGKILL);
    wait();
  }
  void wait() {
    if (!ended_) ::waitpid(pid_, &status_, 0);
    ended_ = true;
  }
  bool exited_ok() const { return WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }
  std::string status_text() const {
    if (WIFEXITED(status_)) return "exit code " + std::to_string(WEXITSTATUS(status_));
    return std::string("signal ") + strsignal(WTERMSIG(status_));
  }

  std::string output() const { return slurp(log_); }
  // The last step the process reported finishing ("step 12/150  loss ..."), 0 before any.
  std::int64_t last_step() const {
    const std::string text = output();
    const std::string mark = "] step ";
    for (auto pos = text.rfind(mark); pos != std::string::npos && pos > 0; pos = text.rfind(mark, pos - 1)) {
      std::size_t end = pos + mark.size();
      while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
      if (end > pos + mark.size() && end < text.size() && text[end] == '/') {
        return std::stoll(text.substr(pos + mark.size(), end - pos - mark.size()));
      }
    }
    return 0;
  }
  // The step "resuming at step N" names, if the process got that far.
  std::optional<std::int64_t> resumed_at() const {
    const std::string text = output();
    const std::string mark = "resuming at step ";
    const std::size_t pos = text.find(mark);
    if (pos == std::string::npos) return std::nullopt;
    const std::string digits = leading_digits(text, pos + mark.size());
    if (digits.empty()) return std::nullopt;
    return std::stoll(digits);
  }
  // The newest checkpoint the process reported written ("] checkpoint .../step-00000012.h5").
  std::int64_t last_reported_checkpoint() const {
    const std::string text = output();
    const std::string mark = "] checkpoint ";
    std::int64_t step = 0;
    for (std::size_t pos = text.find(mark); pos != std::string::npos; pos = text.find(mark, pos + 1)) {
      const std::size_t begin = pos + mark.size();
      const std::size_t end = std::min(text.find_first_of(" \t\n", begin), text.size());
      const std::string path = text.substr(begin, end - begin);
      const std::size_t name = path.rfind("/step-");
      if (name == std::string::npos) continue;
      const std::string digits = leading_digits(path, name + 6);
      if (digits.empty() || path.compare(name + 6 + digits.size(), std::string::npos, ".h5") != 0) continue;
      step = std::max<std::int64_t>(step, std::stoll(digits));
    }
    return step;
  }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool ended_ = false;
};

// A temporary file in `dir` written since `since`: a checkpoint (or a link to one) being written.
// (One left by an earlier kill is older; kat overwrites it when it writes that checkpoint again.)
bool temporary_file_in(const std::string& dir, fs::file_time_type since, const std::string& prefix = "") {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".tmp" || entry.path().filename().string().rfind(prefix, 0) != 0) continue;
    std::error_code time_ec;
    const auto written = fs::last_write_time(entry.path(), time_ec);
    if (!time_ec && written >= since) return true;
  }
  return false;
}

std::vector<std::string> temporary_files_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".tmp") out.push_back(entry.path().string());
  }
  return out;
}

bool same_tensors(const std::map<std::string, kat::Tensor>& a, const std::map<std::string, kat::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    const auto it = b.find(name);
    if (it == b.end() || it->second.shape() != t.shape() || it->second.dtype() != t.dtype()) return false;
    if (t.nbytes() && std::memcmp(t.raw_data(), it->second.raw_data(), t.nbytes()) != 0) return false;
  }
  return true;
}

// The records that depend only on what was trained (not on timing), by kind and step.
std::map<std::pair<std::string, std::int64_t>, std::vector<double>> deterministic_records(const std::string& path,
                                                                                          std::string& problem) {
  std::map<std::pair<std::string, std::int64_t>, std::vector<double>> out;
  for (const auto& r : kat::read_metrics(path)) {
    const bool train = r.count("train_loss") > 0;
    const auto key = std::pair{std::string(train ? "train" : "valid"), static_cast<std::int64_t>(r.at("step"))};
    const std::vector<double> values = train ? std::vector<double>{r.at("train_loss"), r.at("lr"), r.at("grad_norm")}
                                             : std::vector<double>{r.at("val_loss")};
    if (!out.emplace(key, values).second) problem = "step " + std::to_string(key.second) + " logged twice";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::mt19937_64 rng(o.seed);
  auto uniform = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };

  const bool keep = !o.dir.empty();
  const fs::path work =
      keep ? fs::path(o.dir) : fs::temp_directory_path() / ("kat-crash-test-" + std::to_string(::getpid()));
  fs::remove_all(work);
  fs::create_directories(work);
  const std::string run = (work / "run").string(), reference = (work / "reference").string();
  const std::string checkpoints = run + "/checkpoints";

  // A tiny language model with dropout, a checkpoint every 3 steps and a validation (and possibly
  // a best checkpoint) every 10; one thread, so that the runs can be compared bit for bit. Its wide
  // feed-forward layers make checkpoints of about 1 MB, which take a few milliseconds to write (and
  // to aim a kill at) while a step stays quick.
  kat::Experiment e = kat::test::tiny_lm(run);
  e.model.d_ff = 1024;
  e.train.steps = o.steps;
  e.train.checkpoint_interval = 3;
  e.train.valid_interval = 10;
  e.train.log_interval = 1;
  e.train.keep_last = 2;
  e.train.threads = 1;
  const std::string config = (work / "experiment.yaml").string();
  std::ofstream(config) << kat::to_yaml(e);

  std::printf("crash test: %d kills over %lld steps, seed %llu, in %s\n", o.kills, static_cast<long long>(o.steps),
              static_cast<unsigned long long>(o.seed), work.string().c_str());
  std::fflush(stdout);
  const auto started = Clock::now();
  // The uninterrupted run, watched: how long start-up takes (to its first step) and how long a
  // temporary checkpoint file lives, so that kills can aim at both.
  double startup_seconds = 0.0, writing_seconds = 0.0;
  {
    Attempt ref({o.kat, "train", config, "--set", "output.dir=" + reference}, (work / "reference.log").string());
    const auto t0 = Clock::now();
    double tmp_since = -1.0;  // when the temporary file now present appeared
    int writes = 0;
    while (!ref.ended()) {
      const double now = std::chrono::duration<double>(Clock::now() - t0).count();
      if (startup_seconds == 0.0 && ref.last_step() >= 1) startup_seconds = now;
      const bool tmp = temporary_file_in(reference + "/checkpoints", fs::file_time_type::min(), "step-");
      if (tmp && tmp_since < 0) tmp_since = now;
      if (!tmp && tmp_since >= 0) {
        writing_seconds += now - tmp_since;
        ++writes;
        tmp_since = -1.0;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    writing_seconds = writes > 0 ? writing_seconds / writes : 0.002;
    if (!ref.exited_ok()) {
      std::fprintf(stderr, "crash_test: the uninterrupted run failed (%s):\n%s\n", ref.status_text().c_str(),
                   ref.output().c_str());
      return 1;
    }
  }

  if (o.verbose) {
    std::printf("  start-up %.1f ms, a checkpoint write %.2f ms\n", 1e3 * startup_seconds, 1e3 * writing_seconds);
  }

  // The kill moments: a kind each, and for the step and write kinds a step after which to strike.
  std::vector<std::int64_t> targets;
  for (int k = 0; k < o.kills; ++k) {
    targets.push_back(std::uniform_int_distribution<std::int64_t>(1, o.steps - 2 - o.steps / 10)(rng));
  }
  std::sort(targets.begin(), targets.end());
  const char* kinds[] = {"write", "step", "write", "start"};

  int during_write = 0, during_start = 0, resumed = 0, afresh = 0, missed = 0;
  std::int64_t reported = 0;  // the newest checkpoint any attempt reported written
  std::int64_t redone = 0;    // steps run again because they came after the last checkpoint
  std::int64_t expected_resume = -1;
  // The kills after which something was lost (kill n happens in attempt n - 1; attempt n resumes
  // after it). A failure of the first attempt, before any kill, counts as kill 0.
  std::set<int> lost;
  auto loss = [&](int kill, const std::string& what) {
    lost.insert(kill);
    std::printf("  LOSS after kill %d: %s\n", kill, what.c_str());
  };

  for (int k = 0; k <= o.kills; ++k) {
    const bool has_last = fs::exists(checkpoints + "/last.h5");
    std::vector<std::string> args = {o.kat, "train"};
    if (has_last) {
      args.insert(args.end(), {"--resume", run});
      ++resumed;
    } else {
      args.push_back(config);
      if (k > 0) ++afresh;
    }
    const auto attempt_start = fs::file_time_type::clock::now();
    Attempt attempt(args, (work / ("attempt-" + std::to_string(k) + ".log")).string());

    if (k == o.kills) {  // the last attempt runs to the end
      attempt.wait();
      reported = std::max(reported, attempt.last_reported_checkpoint());
      if (!attempt.exited_ok() ||
          attempt.output().find("finished at step " + std::to_string(o.steps)) == std::string::npos) {
        loss(k, "the final attempt did not finish (" + attempt.status_text() + "):\n" + attempt.output());
      }
      if (has_last && attempt.resumed_at() != expected_resume) loss(k, "the final attempt did not resume from last.h5");
      break;
    }

    // Strike.
    const std::string kind = kinds[k % 4];
    bool ended_early = false;
    if (kind == "start") {
      std::this_thread::sleep_for(std::chrono::duration<double>(uniform(0, startup_seconds)));
    } else {
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      while (!(ended_early = attempt.ended()) && attempt.last_step() < targets[static_cast<std::size_t>(k)] &&
             Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      if (kind == "write") {
        const auto give_up = Clock::now() + std::chrono::seconds(10);
        while (!(ended_early = ended_early || attempt.ended()) && !temporary_file_in(checkpoints, attempt_start) &&
               Clock::now() < give_up) {
          std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
        std::this_thread::sleep_for(std::chrono::duration<double>(uniform(0, writing_seconds / 2)));
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int>(uniform(0, 5000))));
      }
    }
    ended_early = ended_early || attempt.ended();
    attempt.kill();
    const bool tmp_left = temporary_file_in(checkpoints, attempt_start);
    const std::optional<std::int64_t> resumed_at = attempt.resumed_at();
    const std::int64_t stepped = attempt.last_step();  // 0: killed before its first step
    const std::int64_t at_step = stepped > 0 ? stepped : std::max<std::int64_t>(expected_resume, 0);
    during_write += tmp_left;
    during_start += stepped == 0;
    if (ended_early && attempt.exited_ok()) {
      ++missed;  // the run finished before this kill (it came late): not a kill
    } else if (ended_early) {
      loss(k, "the attempt failed before its kill (" + attempt.status_text() + "):\n" + attempt.output());
      continue;
    }
    if (has_last && resumed_at && *resumed_at != expected_resume) {
      loss(k, "resumed at step " + std::to_string(*resumed_at) + " instead of last.h5's " +
                  std::to_string(expected_resume));
    }
    reported = std::max(reported, attempt.last_reported_checkpoint());

    // Every checkpoint file loads; last.h5 holds at least the newest checkpoint reported written.
    std::int64_t last_step = -1;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(checkpoints, ec)) {
      if (entry.path().extension() != ".h5") continue;
      try {
        const kat::Checkpoint c = kat::read_checkpoint(entry.path().string());
        if (entry.path().filename() == "last.h5") last_step = c.progress.step;
      } catch (const kat::Error& err) {
        loss(k + 1, err.what());
      }
    }
    if (reported > 0 && last_step < reported) {
      loss(k + 1, "last.h5 holds step " + std::to_string(last_step) + ", but step " + std::to_string(reported) +
                      " was reported written");
    }
    if (last_step >= 0) redone += std::max<std::int64_t>(0, at_step - last_step);
    expected_resume = last_step;
    if (o.verbose) {
      std::printf("  kill %2d (%-5s) at step %3lld%s%s: %s\n", k + 1, kind.c_str(), static_cast<long long>(at_step),
                  stepped == 0 ? ", in start-up" : "", tmp_left ? ", a checkpoint half-written" : "",
                  last_step < 0 ? "no checkpoint yet" : ("last.h5 holds step " + std::to_string(last_step)).c_str());
      std::fflush(stdout);
    }
  }

  // The interrupted run against the uninterrupted one.
  bool same = false;
  std::string difference;
  try {
    const kat::Checkpoint a = kat::read_checkpoint(checkpoints + "/last.h5");
    const kat::Checkpoint b = kat::read_checkpoint(reference + "/checkpoints/last.h5");
    std::string problem;
    const auto ra = deterministic_records(run + "/metrics.jsonl", problem);
    const auto rb = deterministic_records(reference + "/metrics.jsonl", problem);
    if (!problem.empty()) {
      difference = problem;
    } else if (a.progress.step != b.progress.step || a.progress.tokens != b.progress.tokens) {
      difference = "the final step or token count";
    } else if (!same_tensors(a.model, b.model)) {
      difference = "the parameters";
    } else if (!same_tensors(a.optimizer.slots, b.optimizer.slots) || a.optimizer.steps != b.optimizer.steps) {
      difference = "the optimizer state";
    } else if (a.data_state != b.data_state) {
      difference = "the data position";
    } else if (ra != rb) {
      difference = "the logged losses";
    } else {
      same = true;
    }
  } catch (const kat::Error& err) {
    difference = err.what();
  }
  const auto leftovers = temporary_files_under(run);
  for (const auto& f : leftovers) std::printf("  left behind: %s\n", f.c_str());

  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("%d kills (%d during a checkpoint write, %d during start-up), %d losses\n", o.kills - missed,
              during_write, during_start, static_cast<int>(lost.size()));
  if (missed > 0) std::printf("  %d kills came after the run had finished\n", missed);
  std::printf("  %d resumes from last.h5, %d fresh starts before a first checkpoint, %lld steps run again\n", resumed,
              afresh, static_cast<long long>(redone));
  std::printf("  the killed run ends equal to an uninterrupted one (parameters, optimizer, data, losses): %s\n",
              same ? "yes" : ("no, " + difference).c_str());
  std::printf("  %.1f s\n", seconds);
  const bool ok = lost.empty() && same && leftovers.empty();
  if (ok && !keep) fs::remove_all(work);
  return ok ? 0 : 1;
}
