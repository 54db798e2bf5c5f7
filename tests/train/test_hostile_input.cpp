// kat used as a hostile or careless user would: commands smuggled into plot titles and folder
// names, a disk that fills between checkpoints, outputs named like inputs, two trainers on one run
// folder, symbolic links planted in it, sizes at the edge of the documented ranges, and inputs that
// never end. Each case names the file, key or limit, or runs nothing; none loses a line or a file.
#include <doctest/doctest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "core/os/files.h"
#include "data/synthetic.h"
#include "data/text_io.h"
#include "tests/train/train_test_util.h"
#include "train/run_folder/checkpoint.h"
#include "train/run_folder/run_log.h"
#include "train/trainer.h"

using namespace kat;
using kat::test::in_child;
using kat::test::quiet;
using kat::test::run_command;
using kat::test::run_split;
using kat::test::ScratchDir;
using kat::test::shell_quote;
using kat::test::tiny_lm;
using kat::test::write_file;

namespace fs = std::filesystem;

namespace {

const std::string kKat = std::string(KAT_BINARY);

std::string slurp(const std::string& path) { return kat::test::read_file(path); }

bool is_png(const std::string& path) { return slurp(path).rfind("\x89PNG", 0) == 0; }

// Sets the soft file-size limit (the hard one stays), so that writes beyond `bytes` fail as on a
// full disk until the limit is raised again.
void limit_file_size(rlim_t bytes) {
  rlimit now{};
  ::getrlimit(RLIMIT_FSIZE, &now);
  now.rlim_cur = bytes;
  ::setrlimit(RLIMIT_FSIZE, &now);
}

}  // namespace

TEST_CASE("hostile: no title, image name or run folder name makes kat plot or kat compare run a command") {
  ScratchDir dir("plot-injection");
  // A run folder whose name holds a command, trained in-process.
  const std::string run_name = "run`touch hit-folder`";
  {
    Experiment e = tiny_lm(dir.file(run_name));
    Trainer t(e, quiet());
    REQUIRE(t.run().outcome == TrainOutcome::finished);
  }
  const std::string cd = "cd " + shell_quote(dir.path().string()) + " && ";
  struct Case {
    std::string output, title, sentinel;
  };
  const std::vector<Case> cases = {
      {"a.png", "T`touch hit-title`", "hit-title"},
      {"p`touch hit-output`.png", "plain", "hit-output"},
      {"b.svg", "x\n!touch hit-newline\n", "hit-newline"},
      {"c.png", "'; system('touch hit-system'); '", "hit-system"},
      {"d.png", "@macro `touch hit-macro` $(touch hit-dollar)", "hit-macro"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.title);
    const auto r = run_split(cd + kKat + " plot " + shell_quote(run_name) + " -o " + shell_quote(c.output) +
                             " --title " + shell_quote(c.title));
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.out.empty());  // the image is the data; the note goes to standard error
    CHECK(fs::exists(dir.file(c.output)));
    CHECK_FALSE(fs::exists(dir.file(c.sentinel)));
  }
  CHECK(is_png(dir.file("a.png")));
  CHECK(slurp(dir.file("b.svg")).find("<svg") != std::string::npos);  // .svg gets an SVG
  for (const char* sentinel : {"hit-folder", "hit-dollar"}) CHECK_FALSE(fs::exists(dir.file(sentinel)));

  // Through kat compare, from output.dir in an experiment file (which kat config check accepts).
  std::string yaml = slurp(std::string(KAT_SOURCE_DIR) + "/configs/lm-tiny.yaml");
  const auto at = yaml.find("dir: runs/lm-tiny");
  REQUIRE(at != std::string::npos);
  yaml.replace(at, std::strlen("dir: runs/lm-tiny"), "dir: \"cmp/run`touch hit-compare`\"");
  write_file(dir.file("exp.yaml"), yaml);
  const auto compare = run_split(cd + kKat + " compare exp.yaml --set train.steps=4 --set schedule.warmup=1 " +
                                 "--set train.valid_interval=2 --gen-tokens 4");
  CHECK_MESSAGE(compare.exit_code == 0, compare.err);
  CHECK(is_png(dir.file("cmp/curves.png")));
  CHECK_FALSE(fs::exists(dir.file("hit-compare")));
}

TEST_CASE("hostile: a disk that fills between checkpoints and frees again loses no metrics or log line") {
  ScratchDir dir("metrics-full");
  const std::string run = dir.file("run");
  const std::string report = in_child([&] {
    Experiment e = tiny_lm(run);
    e.train.steps = 16;
    e.train.log_interval = 1;
    e.train.valid_interval = 0;
    e.train.checkpoint_interval = 16;  // no checkpoint while the disk is full
    TrainerOptions o = quiet();
    std::signal(SIGXFSZ, SIG_IGN);  // as kat's main does: EFBIG instead of the signal
    o.after_step = [&](Trainer&, std::int64_t step) {
      if (step == 3) limit_file_size(fs::file_size(run + "/metrics.jsonl") + 40);  // mid-line
      if (step == 11) limit_file_size(RLIM_INFINITY);
    };
    Trainer t(e, o);
    const TrainResult r = t.run();
    return std::string(outcome_name(r.outcome)) + " " + std::to_string(r.step);
  });
  CHECK(report == "finished 16");
  std::vector<double> train_steps;
  for (const auto& r : read_metrics(run + "/metrics.jsonl")) {
    if (r.count("train_loss")) train_steps.push_back(r.at("step"));
  }
  std::vector<double> expected;
  for (int s = 1; s <= 16; ++s) expected.push_back(s);
  CHECK(train_steps == expected);  // every step once, in order: nothing lost, nothing cut off
  const std::string metrics = slurp(run + "/metrics.jsonl");
  CHECK(metrics.back() == '\n');
  const std::string log = slurp(run + "/train.log");
  CHECK(log.find("step 7/16") != std::string::npos);  // a line written while the disk was full
  CHECK(log.find("finished at step 16") != std::string::npos);
}

TEST_CASE("hostile: a disk still full at the next checkpoint stops the run naming metrics.jsonl, and it resumes") {
  ScratchDir dir("metrics-stuck");
  const std::string run = dir.file("run");
  const std::string report = in_child([&] {
    Experiment e = tiny_lm(run);
    e.train.steps = 12;
    e.train.log_interval = 1;
    e.train.valid_interval = 0;
    e.train.checkpoint_interval = 4;
    TrainerOptions o = quiet();
    std::signal(SIGXFSZ, SIG_IGN);
    o.after_step = [&](Trainer&, std::int64_t step) {
      if (step == 5) limit_file_size(fs::file_size(run + "/metrics.jsonl") + 10);
    };
    Trainer t(e, o);
    t.run();
    return std::string("no error");
  });
  CHECK_MESSAGE(report.find("exception: " + run + "/metrics.jsonl: cannot append") == 0, report);
  CHECK_MESSAGE(report.find("the run stops at step 8, its last checkpoint is " + run +
                            "/checkpoints/last.h5 (step 4)") != std::string::npos,
                report);
  CHECK(read_checkpoint(run + "/checkpoints/last.h5").progress.step == 4);

  // Resumed with room again: the records of steps 5..8 that never reached the file run again.
  Experiment e = tiny_lm(run);
  e.train.steps = 12;
  e.train.log_interval = 1;
  e.train.valid_interval = 0;
  e.train.checkpoint_interval = 4;
  TrainerOptions o = quiet();
  o.resume = true;
  Trainer t(e, o);
  CHECK(t.run().outcome == TrainOutcome::finished);
  std::vector<double> train_steps;
  for (const auto& r : read_metrics(run + "/metrics.jsonl")) {
    if (r.count("train_loss")) train_steps.push_back(r.at("step"));
  }
  std::vector<double> expected;
  for (int s = 1; s <= 12; ++s) expected.push_back(s);
  CHECK(train_steps == expected);
}

TEST_CASE("hostile: a metrics.jsonl line cut off by a kill is dropped on resume and reported, never kept") {
  ScratchDir dir("metrics-cut");
  const std::string run = dir.file("run");
  Experiment e = tiny_lm(run);
  {
    Trainer t(e, quiet());
    REQUIRE(t.run().outcome == TrainOutcome::finished);
  }
  // A kill in the middle of a write leaves a line without its end.
  const std::string path = run + "/metrics.jsonl";
  write_file(path, slurp(path) + "{\"step\": 9, \"train_lo");
  CHECK(read_metrics(path).size() > 0);  // readers skip a last line still being written
  e.train.steps = 12;
  TrainerOptions o = quiet();
  o.resume = true;
  {
    Trainer t(e, o);
    CHECK(t.run().outcome == TrainOutcome::finished);
  }
  const std::string metrics = slurp(path);
  CHECK(metrics.find("train_lo\n") == std::string::npos);
  CHECK(metrics.find("\"train_lo\"") == std::string::npos);
  for (const auto& r : read_metrics(path)) CHECK(r.count("step") == 1);
  const std::string log = slurp(run + "/train.log");
  CHECK_MESSAGE(log.find(path + ": dropped 1 unreadable line (line ") != std::string::npos, log);
  CHECK(log.find("(cut off)") != std::string::npos);
}

TEST_CASE("hostile: an output that is one of the command's inputs is refused, under any name") {
  ScratchDir dir("same-file");
  const std::string text = "in the beginning\nand the earth\n";
  const std::string en = write_file(dir.file("e.en"), text);
  fs::create_hard_link(en, dir.file("alias.en"));
  const auto tokenizer = run_split(kKat + " tokenizer train --input " + en + " --output " + dir.file("tok"));
  REQUIRE_MESSAGE(tokenizer.exit_code == 0, tokenizer.err);
  struct Case {
    std::string args, expected;
  };
  const std::vector<Case> cases = {
      {"prepare dataset " + en + " --side en=" + en + " --tokenizer " + dir.file("tok"),
       "dataset " + en + " is also an input of the command (" + en + ")"},
      {"prepare dataset " + dir.file("alias.en") + " --side en=" + en + " --tokenizer " + dir.file("tok"),
       "is also an input of the command"},
      {"prepare dataset " + dir.file("tok") + " --side en=" + en + " --tokenizer " + dir.file("tok"),
       "is also an input of the command"},
      {"tokenizer train --input " + en + " --output " + en, "--output " + en + " is also an input of the command"},
      {"tokenizer train --input " + en + " --output " + dir.file("alias.en"), "is also an input of the command"},
  };
  const std::string tok_before = slurp(dir.file("tok"));
  for (const auto& c : cases) {
    CAPTURE(c.args);
    const auto r = run_split(kKat + " " + c.args);
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.err.find(c.expected) != std::string::npos, r.err);
    CHECK(slurp(en) == text);
    CHECK(slurp(dir.file("tok")) == tok_before);
  }
}

TEST_CASE("hostile: a second trainer on a run folder in use is refused, naming the holder's process") {
  ScratchDir dir("lock");
  const std::string run = dir.file("run");
  Experiment e = tiny_lm(run);
  {
    Trainer first(e, quiet());
    CHECK_THROWS_WITH_AS(Trainer(e, quiet()),
                         doctest::Contains(("the run folder " + run + " is in use by another kat process (pid " +
                                            std::to_string(::getpid()) + ")")
                                               .c_str()),
                         Error);
    first.run();
  }
  // Through the command line: `kat train --resume` while `kat train` runs.
  const std::string config = std::string(KAT_SOURCE_DIR) + "/configs/lm-tiny.yaml";
  const std::string cli_run = dir.file("cli");
  const auto r =
      run_command(kKat + " train " + config + " --set output.dir=" + cli_run +
                  " --set train.steps=1000000 >/dev/null 2>&1 & pid=$!; "
                  "for i in $(seq 300); do [ -s " +
                  cli_run + "/checkpoints/last.h5 ] && break; sleep 0.1; done; " + kKat + " train --resume " + cli_run +
                  " 2>&1; echo \"second=$? holder=$pid\"; kill -INT $pid; wait $pid; echo \"first=$?\"");
  const auto holder = r.output.find("holder=");
  REQUIRE_MESSAGE(holder != std::string::npos, r.output);
  const std::string pid = r.output.substr(holder + 7, r.output.find('\n', holder) - holder - 7);
  CHECK_MESSAGE(r.output.find("second=2") != std::string::npos, r.output);
  CHECK(r.output.find("is in use by another kat process (pid " + pid + ")") != std::string::npos);
  CHECK(r.output.find("first=130") != std::string::npos);  // the holder went on undisturbed
}

TEST_CASE("hostile: symbolic links planted at the run folder's file names are replaced, never written through") {
  ScratchDir dir("symlinks");
  const std::string outside = write_file(dir.file("outside.txt"), "precious\n");
  const std::string run = dir.file("run");
  fs::create_directories(run + "/checkpoints");
  for (const char* name : {"checkpoints/step-00000002.h5.tmp", "checkpoints/last.h5.tmp", "checkpoints/best.h5.tmp",
                           "config.yaml.tmp", "outcome.tmp", "metrics.jsonl.tmp"}) {
    fs::create_symlink(outside, run + "/" + name);
  }
  Experiment e = tiny_lm(run);
  e.train.checkpoint_interval = 2;
  {
    Trainer t(e, quiet());
    CHECK(t.run().outcome == TrainOutcome::finished);
  }
  CHECK(slurp(outside) == "precious\n");
  for (const char* name : {"checkpoints/last.h5", "checkpoints/best.h5", "config.yaml", "outcome"}) {
    CHECK(fs::is_regular_file(fs::symlink_status(run + "/" + name)));
  }
  // A link at a file kat appends to is refused, naming it.
  fs::remove(run + "/train.log");
  fs::create_symlink(outside, run + "/train.log");
  TrainerOptions o = quiet();
  o.resume = true;
  e.train.steps = 10;
  CHECK_THROWS_WITH_AS(Trainer(e, o), doctest::Contains((run + "/train.log: cannot open for appending").c_str()),
                       SystemError);
  CHECK(slurp(outside) == "precious\n");
}

TEST_CASE("hostile: the documented ranges of the synthetic data finish or fail fast") {
  ScratchDir dir("ranges");
  const std::string config = std::string(KAT_SOURCE_DIR) + "/configs/lm-tiny.yaml";
  const auto huge = run_split(kKat + " config check " + config +
                              " --set data.synthetic.symbols=1000000 --set data.synthetic.branching=1000000");
  CHECK(huge.exit_code == 2);
  CHECK_MESSAGE(huge.err.find("a Markov chain of 1000000 symbols with 1000000 successors each has 1000000000000 "
                              "transitions, more than the 4194304 kat builds") != std::string::npos,
                huge.err);
  const auto edge = run_split(kKat + " config check " + config +
                              " --set data.synthetic.symbols=1000000 --set data.synthetic.branching=4");
  CHECK_MESSAGE(edge.exit_code == 0, edge.err);
  CHECK_THROWS_WITH_AS(MarkovChain(5000, 1000, 1), doctest::Contains("more than 4194304 transitions"), Error);
  // The largest chain the limit allows is built whole (a ring plus random successors).
  const MarkovChain chain(1 << 20, 4, 7);
  CHECK(chain.symbols() == (1 << 20));
  CHECK(std::isfinite(chain.entropy_rate()));
}

TEST_CASE("hostile: messages that name what went wrong") {
  ScratchDir dir("messages");
  // Diverging before the first checkpoint: no "step -1".
  Experiment e = tiny_lm(dir.file("lr"));
  e.optim.lr = 1e9;
  e.schedule.warmup = 1;
  e.train.steps = 50;
  e.train.checkpoint_interval = 100;
  e.train.valid_interval = 0;
  e.train.max_bad_steps = 2;
  TrainResult r;
  {
    Trainer t(e, quiet());
    r = t.run();
  }
  REQUIRE(r.outcome == TrainOutcome::diverged);
  CHECK_MESSAGE(r.message.find("there is no checkpoint yet") != std::string::npos, r.message);
  CHECK(r.message.find("step -1") == std::string::npos);

  // A model too large for any machine: what was being allocated and how much.
  const std::string config = std::string(KAT_SOURCE_DIR) + "/configs/lm-tiny.yaml";
  const auto big =
      run_split("ASAN_OPTIONS=allocator_may_return_null=1 " + kKat + " train " + config +
                " --set output.dir=" + dir.file("big") + " --set model.d_model=1000000 --set model.heads=1");
  CHECK(big.exit_code == 1);
  CHECK_MESSAGE(big.err.find("building the model (model.d_model 1000000") != std::string::npos, big.err);
  CHECK(big.err.find("out of memory: a float32 tensor of shape (1000000, 1000000) needs 3.6 TiB") != std::string::npos);

  // Inputs without end or without lines.
  const auto bytes = run_split(kKat + " tokenizer train --kind bytes --output " + dir.file("tok"));
  REQUIRE_MESSAGE(bytes.exit_code == 0, bytes.err);
  const auto zero =
      run_split(kKat + " prepare dataset " + dir.file("z.h5") + " --side en=/dev/zero --tokenizer " + dir.file("tok"));
  CHECK(zero.exit_code == 2);
  CHECK_MESSAGE(zero.err.find("/dev/zero: a NUL byte at byte 1") != std::string::npos, zero.err);
  CHECK_THROWS_WITH_AS(read_text("/dev/zero"),
                       "/dev/zero: a NUL byte at byte 1: not a text file (expected UTF-8 "
                       "text, one sentence a line)",
                       Error);
  CHECK_THROWS_WITH_AS(read_lines(dir.path().string()), (dir.path().string() + ": a folder, not a file").c_str(),
                       Error);
  const std::string big_text = write_file(dir.file("big.txt"), std::string(3000, 'a') + "\n");
  CHECK_THROWS_WITH_AS(read_lines(big_text, 2048),
                       (big_text + ": more than 2048 bytes, the most kat reads from one input").c_str(), Error);
  const auto dev_zero = run_split(kKat + " bleu /dev/zero -i " + big_text);
  CHECK(dev_zero.exit_code == 2);
  CHECK_MESSAGE(dev_zero.err.find("/dev/zero: a NUL byte at byte 1") != std::string::npos, dev_zero.err);
  const auto folder = run_split(kKat + " bleu " + dir.path().string() + " -i " + big_text);
  CHECK(folder.exit_code == 2);
  CHECK_MESSAGE(folder.err.find(dir.path().string() + ": a folder, not a file") != std::string::npos, folder.err);

  // A NUL inside output.dir, and an empty experiment file.
  const std::string nul = write_file(dir.file("nul.yaml"), "output: {dir: \"cmp/run\\0x\"}\n");
  const auto cut = run_split(kKat + " config check " + nul);
  CHECK(cut.exit_code == 2);
  CHECK_MESSAGE(cut.err.find("'output.dir' holds a control character (byte 0x00 at position 8)") != std::string::npos,
                cut.err);
  const std::string empty = write_file(dir.file("empty.yaml"), "# nothing here\n");
  const auto none = run_split(kKat + " train " + empty);
  CHECK(none.exit_code == 2);
  CHECK(none.err.find(empty + ":1:1: the experiment file is empty") != std::string::npos);
  CHECK_FALSE(fs::exists("runs/default"));
}

TEST_CASE("hostile: Ctrl-C during start-up still ends with the documented checkpoint") {
  ScratchDir dir("early-int");
  const std::string config = std::string(KAT_SOURCE_DIR) + "/configs/lm-tiny.yaml";
  const std::string run = dir.file("run");
  // A Markov chain at the size limit takes seconds to build: the signal arrives while it is built.
  const auto r = run_command(kKat + " train " + config + " --set output.dir=" + run +
                             " --set data.synthetic.symbols=262144 --set data.synthetic.branching=16 " +
                             "--set model.d_model=8 --set model.heads=1 --set data.synthetic.valid_sentences=1 " +
                             "2>&1 & pid=$!; for i in $(seq 100); do [ -s " + run +
                             "/train.log ] && break; sleep 0.05; done; sleep 0.2; kill -INT $pid; wait $pid; "
                             "echo \"exit=$?\"");
  CHECK_MESSAGE(r.output.find("exit=130") != std::string::npos, r.output);
  CHECK(r.output.find("stopped at step 0 on request") != std::string::npos);
  CHECK(read_checkpoint(run + "/checkpoints/last.h5").progress.step == 0);
}
