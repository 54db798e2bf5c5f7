// What a run folder keeps when things go wrong: a checkpoint that cannot be written (a full disk,
// a file-size limit) stops the run with an error naming the file and leaves the checkpoints already
// written intact; the files `--resume` reads are replaced, never rewritten in place; a run started
// afresh in the folder of a run killed before its first checkpoint does not inherit its records.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "tests/train/train_test_util.h"
#include "train/run_folder/checkpoint_store.h"
#include "train/run_folder/run_log.h"
#include "train/trainer.h"

using namespace kat;
using kat::test::quiet;
using kat::test::read_file;
using kat::test::run_command;
using kat::test::ScratchDir;
using kat::test::tiny_lm;
using kat::test::write_file;

namespace {

std::vector<double> logged_train_steps(const std::string& metrics) {
  std::vector<double> steps;
  for (const auto& r : read_metrics(metrics)) {
    if (r.count("train_loss")) steps.push_back(r.at("step"));
  }
  return steps;
}

}  // namespace

TEST_CASE("kat train: a checkpoint beyond a file-size limit stops the run naming the file, and the last one stays") {
  ScratchDir dir("disk-full");
  const std::string kat = std::string(KAT_BINARY);
  const std::string run = dir.file("run");
  const std::string config = std::string(KAT_SOURCE_DIR) + "/configs/copy-tiny.yaml";
  const auto first = run_command(kat + " train " + config + " --set output.dir=" + run +
                                 " --set train.steps=4 --set train.valid_interval=0 --set train.threads=1");
  REQUIRE_MESSAGE(first.exit_code == 0, first.output);
  const std::string checkpoints = run + "/checkpoints";
  const std::string before = read_file(checkpoints + "/last.h5");
  REQUIRE(before.size() > 400 * 1024);

  // Checkpoints of this model take 1.3 MB; the limit (ulimit -f counts 512- or 1024-byte blocks,
  // depending on the shell) lets the logs grow but not a checkpoint.
  const auto full = run_command("ulimit -f 300 && " + kat + " train --resume " + run + " --set train.steps=8");
  CHECK(full.exit_code == 1);  // a failure of the system, not a signal (exit -1) or a crash at exit
  const std::string step8 = checkpoints + "/step-00000008.h5";
  const std::string expected = "checkpoint " + step8 + ": cannot write: " + step8 +
                               ".tmp: write failed: File too large; the run stops at step 8, its last checkpoint is " +
                               checkpoints + "/last.h5 (step 4)";
  CHECK_MESSAGE(full.output.find(expected) != std::string::npos, full.output);
  CHECK(read_file(run + "/train.log").find(expected) != std::string::npos);

  // The checkpoints written before are untouched and nothing is left under a final or a temporary name.
  CHECK(read_file(checkpoints + "/last.h5") == before);
  CHECK(read_checkpoint(checkpoints + "/last.h5").progress.step == 4);
  CHECK(read_checkpoint(checkpoints + "/best.h5").progress.step == 4);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(checkpoints)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"best.h5", "last.h5", "step-00000004.h5"});

  // With room again, the run continues from there.
  const auto again = run_command(kat + " train --resume " + run + " --set train.steps=8");
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  CHECK(again.output.find("resuming at step 4") != std::string::npos);
  CHECK(read_checkpoint(checkpoints + "/last.h5").progress.step == 8);
}

TEST_CASE("trainer: config.yaml, which --resume reads, is replaced by a rename, never rewritten in place") {
  // A file rewritten in place is empty or half-written for a moment, and a kill then leaves a run
  // that cannot resume. A hard link to the old config.yaml tells the two apart: a rename leaves it
  // holding the old text, a rewrite in place changes it.
  ScratchDir dir("config-rename");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 4;
  Trainer(e, quiet()).run();
  const std::string config = dir.file("run") + "/config.yaml";
  const std::string link = dir.file("old-config.yaml");
  REQUIRE(::link(config.c_str(), link.c_str()) == 0);
  const std::string old_text = read_file(link);
  REQUIRE(old_text.find("steps: 4") != std::string::npos);

  TrainerOptions resume = quiet();
  resume.resume = true;
  e.train.steps = 6;
  Trainer more(e, resume);
  CHECK(read_file(config).find("steps: 6") != std::string::npos);
  CHECK(read_file(link) == old_text);
  CHECK_FALSE(std::filesystem::exists(config + ".tmp"));
}

TEST_CASE("trainer: a run started afresh in the folder of one killed before its first checkpoint logs each step once") {
  ScratchDir dir("fresh-again");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 6;
  std::filesystem::create_directories(dir.file("run"));
  // What the killed run had logged: steps 2 and 4, and no checkpoint.
  write_file(dir.file("run") + "/metrics.jsonl",
             "{\"step\": 2, \"train_loss\": 9.5}\n{\"step\": 4, \"train_loss\": 9.25}\n");
  Trainer t(e, quiet());
  t.run();
  CHECK(logged_train_steps(dir.file("run") + "/metrics.jsonl") == std::vector<double>{2, 4, 6});
  for (const auto& r : read_metrics(dir.file("run") + "/metrics.jsonl")) {
    if (r.count("train_loss")) CHECK(r.at("train_loss") < 9.0);  // the new run's, not the killed one's
  }
}

TEST_CASE("trainer: resuming a finished run neither validates its last step again nor rewrites its checkpoint") {
  ScratchDir dir("resume-finished");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 6;
  e.train.valid_interval = 0;  // validated once, at the end
  const TrainResult first = Trainer(e, quiet()).run();
  const std::string last = dir.file("run") + "/checkpoints/last.h5";
  const std::string checkpoint = read_file(last);
  TrainerOptions resume = quiet();
  resume.resume = true;
  const TrainResult again = Trainer(e, resume).run();
  CHECK(again.outcome == TrainOutcome::finished);
  CHECK(again.step == 6);
  CHECK(again.valid_loss == first.valid_loss);
  int validations = 0;
  for (const auto& r : read_metrics(dir.file("run") + "/metrics.jsonl")) validations += r.count("val_loss") > 0;
  CHECK(validations == 1);
  CHECK(read_file(last) == checkpoint);  // the same file: wall time and all
}
