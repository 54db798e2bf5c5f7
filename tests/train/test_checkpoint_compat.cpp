// Checkpoints of an earlier layout still load: tests/train/fixtures/run-format1/ is a run folder
// written by kat 0.1 (checkpoint format_version 1: a Performer language model with dropout, AdamW
// moments, a cosine schedule and redrawn features, 4 steps; experiment.yaml made it). A change
// to the checkpoint code, the optimizer state or the names of the model's tensors that loses it
// fails here.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "tests/train/train_test_util.h"
#include "train/evaluate.h"
#include "train/run_folder/checkpoint.h"
#include "train/run_folder/run_log.h"
#include "train/trainer.h"

using namespace kat;
using kat::test::quiet;
using kat::test::ScratchDir;

namespace fs = std::filesystem;

namespace {

const std::string kFixture = std::string(KAT_SOURCE_DIR) + "/tests/train/fixtures/run-format1";

}  // namespace

TEST_CASE("checkpoints of format 1 load: the model, the optimizer's named moments, progress") {
  const Checkpoint c = read_checkpoint(kFixture + "/checkpoints/last.h5");
  CHECK(c.progress.step == 4);
  CHECK(c.optimizer.kind == "adamw");
  CHECK(c.optimizer.steps == 4);
  CHECK(c.model.count("decoder.layers.0.self_attn.q_proj.weight") == 1);
  CHECK(c.model.count("decoder.layers.0.self_attn.attention.feature_map.projection") == 1);
  CHECK(c.optimizer.slots.count("decoder.layers.0.self_attn.q_proj.weight.exp_avg") == 1);
  CHECK(c.optimizer.slots.count("decoder.layers.0.self_attn.q_proj.weight.exp_avg_sq") == 1);
  CHECK(c.schedule.type == "cosine");
}

TEST_CASE("a run of format 1 evaluates to the validation loss it recorded, and resumes") {
  ScratchDir dir("compat");
  const std::string run = dir.file("run");
  fs::copy(kFixture, run, fs::copy_options::recursive);

  // The loaded model is the one that was trained: its validation loss is the one in the log.
  double recorded = std::nan("");
  for (const auto& r : read_metrics(run + "/metrics.jsonl")) {
    if (r.count("val_loss") && r.at("step") == 4) recorded = r.at("val_loss");
  }
  REQUIRE(std::isfinite(recorded));
  {
    LoadedRun loaded = load_run(run, "last");
    CHECK(evaluate_lm(loaded, "").loss == doctest::Approx(recorded).epsilon(1e-5));
  }

  Experiment e = load_experiment(run + "/config.yaml", {"output.dir=" + run, "train.steps=6"});
  TrainerOptions o = quiet();
  o.resume = true;
  Trainer t(e, o);
  const TrainResult r = t.run();
  CHECK(r.outcome == TrainOutcome::finished);
  CHECK(r.step == 6);
  CHECK(std::isfinite(r.valid_loss));
  CHECK(read_checkpoint(run + "/checkpoints/last.h5").optimizer.steps == 6);
}
