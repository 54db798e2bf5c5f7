// Bad input that no other test covers (docs/bad_input.md lists every kind tried and its test):
// signals besides Ctrl-C, checkpoints that do not fit the experiment, a damaged metrics file, and
// bad command lines and environment.
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>

#include "tests/train/train_test_util.h"
#include "train/run_folder/run_log.h"
#include "train/trainer.h"

using namespace kat;
using kat::test::quiet;
using kat::test::run_command;
using kat::test::ScratchDir;
using kat::test::tiny_lm;
using kat::test::write_file;

namespace {

// A finished 4-step run in `dir`; returns its experiment.
Experiment finished_run(const std::string& dir) {
  Experiment e = tiny_lm(dir);
  e.train.steps = 4;
  Trainer(e, quiet()).run();
  return e;
}

std::string resume_error(const Experiment& e) {
  TrainerOptions o = quiet();
  o.resume = true;
  try {
    Trainer t(e, o);
  } catch (const Error& err) {
    return err.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("bad input: SIGTERM stops a run as Ctrl-C does, and a second signal gets the default action") {
  ScratchDir dir("sigterm");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 1000;
  TrainerOptions o;
  o.console = false;
  o.signals = true;
  bool reset_to_default = false;
  o.after_step = [&](Trainer&, std::int64_t step) {
    if (step != 3) return;
    std::raise(SIGTERM);
    struct sigaction now {};
    sigaction(SIGTERM, nullptr, &now);
    reset_to_default = now.sa_handler == SIG_DFL;  // a second SIGTERM would end the process at once
  };
  Trainer t(e, o);
  const TrainResult r = t.run();
  CHECK(r.outcome == TrainOutcome::interrupted);
  CHECK(r.step == 3);
  CHECK(reset_to_default);
  CHECK(read_checkpoint(dir.file("run") + "/checkpoints/last.h5").progress.step == 3);
}

TEST_CASE("bad input: --resume of a folder without a checkpoint names the missing file") {
  ScratchDir dir("resume-nothing");
  TrainerOptions o = quiet();
  o.resume = true;
  CHECK_THROWS_WITH_AS(
      Trainer(tiny_lm(dir.file("run")), o),
      doctest::Contains(
          ("no checkpoint to resume from (" + dir.file("run") + "/checkpoints/last.h5 does not exist)").c_str()),
      Error);
}

TEST_CASE("bad input: a checkpoint that does not fit the experiment is refused naming the file") {
  // Each damage is written as a complete, checksummed checkpoint: the content is wrong, not the bytes.
  ScratchDir dir("misfit");
  const Experiment e = finished_run(dir.file("run"));
  const std::string last = dir.file("run") + "/checkpoints/last.h5";
  const Checkpoint good = read_checkpoint(last);
  const std::string named = "checkpoint " + last + ": ";

  Checkpoint bad_config = good;
  bad_config.config = "model: {layers: two}\n";
  write_checkpoint(last, bad_config);
  CHECK(resume_error(e).find(named + "its config does not validate") == 0);

  Checkpoint wrong_shape = good;
  wrong_shape.model["decoder.layers.0.ffn.fc1.weight"] = Tensor::zeros({3, 3});
  write_checkpoint(last, wrong_shape);
  std::string message = resume_error(e);
  CHECK_MESSAGE(message.find(named) == 0, message);
  CHECK(message.find("decoder.layers.0.ffn.fc1.weight") != std::string::npos);
  CHECK(message.find("(3, 3)") != std::string::npos);

  Checkpoint other_data = good;
  other_data.data_kind = "corpus";
  write_checkpoint(last, other_data);
  CHECK(resume_error(e).find(named + "data kind 'corpus', but the experiment has 'synthetic'") == 0);

  Checkpoint other_optimizer = good;
  other_optimizer.optimizer.kind = "sgd";
  write_checkpoint(last, other_optimizer);
  message = resume_error(e);
  CHECK_MESSAGE(message.find(named) == 0, message);
  CHECK(message.find("'sgd'") != std::string::npos);

  write_checkpoint(last, good);  // and the good one still resumes
  CHECK(resume_error(e) == "no error");
}

TEST_CASE("bad input: a metrics.jsonl line that is not a flat JSON object of numbers names the file and line") {
  ScratchDir dir("metrics-bad");
  const std::string path =
      write_file(dir.file("metrics.jsonl"), "{\"step\": 1, \"train_loss\": 2.5}\n{\"step\": 2, \"train_lo\n");
  CHECK_THROWS_WITH_AS(read_metrics(path), doctest::Contains((path + ":2: not a flat JSON object of numbers").c_str()),
                       Error);
  write_file(path, "{\"step\": \"two\"}\n");
  CHECK_THROWS_WITH_AS(read_metrics(path), doctest::Contains((path + ":1: not a flat JSON object of numbers").c_str()),
                       Error);
  CHECK_THROWS_WITH_AS(read_metrics(dir.file("none.jsonl")), doctest::Contains("cannot read the metrics file"), Error);
}

TEST_CASE("kat: bad command lines and a bad KAT_NUM_THREADS exit 2 with the reason, creating nothing") {
  ScratchDir dir("cli-bad");
  const std::string kat = std::string(KAT_BINARY);
  const std::string config = std::string(KAT_SOURCE_DIR) + "/configs/lm-tiny.yaml";
  struct Case {
    std::string args, expected;
  };
  const std::vector<Case> cases = {
      {"", "A subcommand is required"},
      {"train --bogus", "The following argument was not expected: --bogus"},
      {"--threads 0 config check " + config, "--threads: Value 0 not in range 1 to 1024"},
      {"train", "kat train: give an experiment file, or --resume RUN_DIR"},
      {"train " + config + " --set", "--set: 1 required TEXT missing"},
      {"train --resume " + dir.file("nothing"), dir.file("nothing") + "/config.yaml: no such experiment file"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args);
    const auto r = run_command(kat + " " + c.args);
    CHECK(r.exit_code == 2);
    CHECK_MESSAGE(r.output.find(c.expected) != std::string::npos, r.output);
  }
  const std::string run = dir.file("run");
  const auto threads = run_command("KAT_NUM_THREADS=zero " + kat + " train " + config + " --set output.dir=" + run);
  CHECK(threads.exit_code == 2);
  CHECK(threads.output.find("KAT_NUM_THREADS: expected a whole number from 1 to 1024, got 'zero'") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(run));
}
