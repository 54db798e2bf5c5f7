// core/os: files created new and never through a link, atomic replacement, appends that survive a
// refused write, the folder lock, same-file checks, and programs run without a shell.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/os/files.h"
#include "core/os/process.h"

using namespace kat;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path path;
  Scratch() {
    static std::atomic<int> n{0};
    path = fs::temp_directory_path() / ("kat-test-os-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("Dir: a new file replaces a link planted at its name and never writes through it") {
  Scratch s;
  std::ofstream(s.file("target")) << "precious";
  const Dir dir = Dir::open(s.file("run"), true);
  fs::create_symlink(s.file("target"), s.file("run/x.tmp"));
  fs::create_symlink(s.file("target"), s.file("run/y"));
  dir.write_atomic("x", "new");
  dir.write_new("y", "also new");
  CHECK(slurp(s.file("target")) == "precious");
  CHECK(slurp(s.file("run/x")) == "new");
  CHECK(fs::is_regular_file(fs::symlink_status(s.file("run/y"))));
  CHECK_FALSE(dir.exists("x.tmp"));
}

TEST_CASE("Dir: appending refuses a link, reading refuses a link, links and renames stay in the folder") {
  Scratch s;
  std::ofstream(s.file("target")) << "precious";
  const Dir dir = Dir::open(s.file("run"), true);
  fs::create_symlink(s.file("target"), s.file("run/log"));
  CHECK_THROWS_WITH_AS(AppendFile(dir, "log"), doctest::Contains("a symbolic link"), SystemError);
  CHECK_THROWS_WITH_AS(dir.read("log"), doctest::Contains("a symbolic link"), SystemError);
  dir.write_new("a", "A");
  CHECK(dir.link("a", "b"));
  dir.rename("b", "c");
  CHECK(dir.read("c") == "A");
  CHECK(same_file(s.file("run/a"), s.file("run/c")));
  dir.remove("c");
  dir.remove("c");  // missing: nothing to do
  CHECK_FALSE(dir.exists("c"));
  CHECK(slurp(s.file("target")) == "precious");
}

TEST_CASE("AppendFile: bytes the system refuses wait and are written first once it accepts them") {
  Scratch s;
  const std::string path = s.file("run/metrics.jsonl");
  // RLIMIT_FSIZE holds for the whole process: the appends run in a child.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    int code = 0;
    try {
      const Dir dir = Dir::open(s.file("run"), true);
      AppendFile f(dir, "metrics.jsonl");
      code |= f.append("line 1\n") ? 0 : 1;
      rlimit limit{};
      ::getrlimit(RLIMIT_FSIZE, &limit);
      rlimit low = limit;
      low.rlim_cur = 10;  // the next line fits only in part
      ::setrlimit(RLIMIT_FSIZE, &low);
      code |= f.append("line 2\n") ? 2 : 0;  // refused: must report it
      code |= f.append("line 3\n") ? 4 : 0;
      code |= f.pending() ? 0 : 8;
      bool threw = false;
      try {
        f.flush();
      } catch (const SystemError&) {
        threw = true;
      }
      code |= threw ? 0 : 16;
      ::setrlimit(RLIMIT_FSIZE, &limit);
      code |= f.append("line 4\n") ? 0 : 32;
      f.flush();
      code |= f.pending() ? 64 : 0;
    } catch (...) {
      code |= 128;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(slurp(path) == "line 1\nline 2\nline 3\nline 4\n");  // in order, nothing lost or cut
}

TEST_CASE("FolderLock: a second holder is refused naming the first's process, and the lock goes with it") {
  Scratch s;
  const Dir dir = Dir::open(s.file("run"), true);
  {
    FolderLock first(dir, "run folder");
    CHECK_THROWS_WITH_AS(
        FolderLock(dir, "run folder"),
        doctest::Contains(("is in use by another kat process (pid " + std::to_string(::getpid()) + ")").c_str()),
        Error);
  }
  CHECK_NOTHROW(FolderLock(dir, "run folder"));
}

TEST_CASE("refuse_overwriting_input: the same file under another name is refused, other files pass") {
  Scratch s;
  std::ofstream(s.file("in.txt")) << "text";
  fs::create_hard_link(s.file("in.txt"), s.file("hard.txt"));
  fs::create_symlink(s.file("in.txt"), s.file("soft.txt"));
  CHECK_THROWS_WITH_AS(refuse_overwriting_input(s.file("hard.txt"), {s.file("in.txt")}, "--output"),
                       doctest::Contains("is also an input of the command"), Error);
  CHECK_THROWS_AS(refuse_overwriting_input(s.file("soft.txt"), {s.file("in.txt")}, "--output"), Error);
  CHECK_NOTHROW(refuse_overwriting_input(s.file("new.txt"), {s.file("in.txt")}, "--output"));
  CHECK_NOTHROW(refuse_overwriting_input("-", {"-"}, "--output"));
}

TEST_CASE("run_program: arguments reach the program as they are, no shell reads them") {
  Scratch s;
  const std::string odd = "a b'c\"d`touch " + s.file("hit") + "`;$(touch " + s.file("hit") + ")";
  ProcessOptions o;
  const ProcessResult echo = run_program({"printf", "%s", odd}, o);
  CHECK(echo.ok());
  CHECK(echo.output == odd);
  CHECK_FALSE(fs::exists(s.file("hit")));
  o.input = "through standard input\n";
  CHECK(run_program({"cat"}, o).output == "through standard input\n");
  const ProcessResult failed = run_program({"false"});
  CHECK(failed.started);
  CHECK(failed.exit_code == 1);
  CHECK_FALSE(failed.ok());
  CHECK_FALSE(run_program({"kat-no-such-program"}).started);
  CHECK(program_on_path("sh"));
  CHECK_FALSE(program_on_path("kat-no-such-program"));
}
