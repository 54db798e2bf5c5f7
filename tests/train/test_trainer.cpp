// The trainer: exact resume, gradient accumulation, attention kernels told of each step, stop on
// request and on SIGINT, non-finite steps, early stopping, the run folder, and kat train / kat plot.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <set>

#include "autograd/ops.h"
#include "core/kernels/bfloat16.h"
#include "layers/attention/registry.h"
#include "tests/train/train_test_util.h"
#include "train/run_folder/checkpoint_store.h"
#include "train/run_folder/plot.h"
#include "train/run_folder/run_log.h"
#include "train/trainer.h"

using namespace kat;
using kat::test::quiet;
using kat::test::read_file;
using kat::test::run_command;
using kat::test::ScratchDir;
using kat::test::tiny_copy;
using kat::test::tiny_lm;

namespace {

// Every parameter, buffer and generator state, copied.
std::map<std::string, Tensor> snapshot(Trainer& t) {
  std::map<std::string, Tensor> out;
  for (auto& [name, v] : t.model().state_dict()) out[name] = v.clone();
  return out;
}

bool bit_identical(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    const Tensor& u = b.at(name);
    if (t.shape() != u.shape() || t.dtype() != u.dtype() || std::memcmp(t.raw_data(), u.raw_data(), t.nbytes()) != 0) {
      return false;
    }
  }
  return true;
}

double max_difference(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  double m = 0.0;
  for (const auto& [name, t] : a) {
    if (is_floating(t.dtype())) m = std::max(m, max_abs_diff(t, b.at(name)));
  }
  return m;
}

}  // namespace

TEST_CASE("trainer: N steps in one go equal N/2, a stop, a resume and N/2 more, bit for bit") {
  // Softmax attention in both tasks, and Performer attention redrawing its random features every
  // 2 steps (its projections and their generator must be restored too).
  for (const char* variant : {"lm", "translation", "lm-performer"}) {
    CAPTURE(variant);
    const std::string task = variant;
    ScratchDir dir("resume");
    auto make = [&](const std::string& sub) {
      Experiment e = task == "translation" ? tiny_copy(dir.file(sub)) : tiny_lm(dir.file(sub));
      if (task == "lm-performer") {
        e.model.attention.type = "performer";
        e.model.attention.features = 8;
        e.model.attention.redraw_interval = 2;
      }
      e.model.dropout = 0.2;  // dropout on: the generator states must be restored too
      e.train.accumulate = 2;
      e.train.steps = 10;
      e.train.valid_interval = 3;
      e.train.checkpoint_interval = 100;
      return e;
    };
    Trainer straight(make("straight"), quiet());
    const TrainResult full = straight.run();
    CHECK(full.outcome == TrainOutcome::finished);
    CHECK(full.step == 10);
    const auto expected = snapshot(straight);

    TrainerOptions stop_at_5 = quiet();
    stop_at_5.after_step = [](Trainer& t, std::int64_t step) {
      if (step == 5) t.request_stop();
    };
    {
      Trainer first(make("split"), stop_at_5);
      const TrainResult half = first.run();
      CHECK(half.outcome == TrainOutcome::interrupted);
      CHECK(half.step == 5);
      CHECK_FALSE(bit_identical(snapshot(first), expected));
    }
    TrainerOptions resume = quiet();
    resume.resume = true;
    Trainer second(make("split"), resume);
    CHECK(second.progress().step == 5);
    const TrainResult rest = second.run();
    CHECK(rest.outcome == TrainOutcome::finished);
    CHECK(rest.step == 10);
    CHECK(bit_identical(snapshot(second), expected));
    CHECK(rest.valid_loss == full.valid_loss);
    CHECK(rest.best_valid_loss == full.best_valid_loss);

    // The metrics of the resumed run continue the interrupted one's: each step logged once.
    std::vector<double> steps;
    for (const auto& r : read_metrics(dir.file("split") + "/metrics.jsonl")) {
      if (r.count("train_loss")) steps.push_back(r.at("step"));
    }
    CHECK(steps == std::vector<double>{2, 4, 6, 8, 10});
  }
}

TEST_CASE(
    "trainer: train.time_budget stops the run once its steps have taken that long, and a resume continues the count") {
  ScratchDir dir("budget");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 1000000;  // a cap the budget reaches first
  e.train.valid_interval = 0;
  e.train.checkpoint_interval = 1000000;
  e.train.time_budget = "0.2s";
  double seconds = 0.0;
  std::int64_t steps = 0;
  {
    Trainer t(e, quiet());
    const TrainResult r = t.run();
    CHECK(r.outcome == TrainOutcome::finished);
    CHECK(r.step < e.train.steps);
    CHECK(r.message.find("the time budget of 0.2s is spent") != std::string::npos);
    seconds = t.progress().train_seconds;
    steps = r.step;
    CHECK(seconds >= 0.2);
  }
  // The count is in the checkpoint: the same budget has nothing left, a larger one continues.
  TrainerOptions resume = quiet();
  resume.resume = true;
  {
    Trainer again(e, resume);
    CHECK(again.progress().train_seconds == seconds);
    const TrainResult r = again.run();
    CHECK(r.step == steps);
  }
  e.train.time_budget = "0.4s";
  Trainer more(e, resume);
  const TrainResult r = more.run();
  CHECK(r.step > steps);
  CHECK(more.progress().train_seconds >= 0.4);
  // The training records carry the training time, increasing.
  double last = -1.0;
  bool increasing = true;
  int records = 0;
  for (const auto& m : read_metrics(dir.file("run") + "/metrics.jsonl")) {
    if (!m.count("train_loss")) continue;
    increasing = increasing && m.at("train_time") > last;
    last = m.at("train_time");
    ++records;
  }
  CHECK(records > 2);
  CHECK(increasing);
}

TEST_CASE("trainer: accumulating k batches gives the update of one batch k times larger") {
  ScratchDir dir("accumulate");
  auto run = [&](const std::string& sub, std::int64_t batch, std::int64_t accumulate) {
    Experiment e = tiny_copy(dir.file(sub));  // sentences of different lengths: token counts differ
    e.model.dropout = 0.0;
    e.optim.type = "sgd";
    e.optim.lr = 0.5;
    e.schedule.type = "constant";
    e.schedule.warmup = 0;
    e.train.clip_norm = 0.0;
    e.data.batch_size = batch;
    e.train.accumulate = accumulate;
    e.train.steps = 3;
    Trainer t(e, quiet());
    t.run();
    return snapshot(t);
  };
  const auto one_big = run("big", 8, 1);
  const auto four_small = run("small", 2, 4);
  const auto two_medium = run("medium", 4, 2);
  CHECK(max_difference(one_big, four_small) < 2e-5);
  CHECK(max_difference(one_big, two_medium) < 2e-5);
  // Not the same as training on the small batches one by one.
  const auto small_steps = run("small-steps", 2, 1);
  CHECK(max_difference(one_big, small_steps) > 1e-3);
}

namespace {

// A softmax kernel that records the steps it is told of.
class RecordingKernel final : public AttentionKernel {
 public:
  RecordingKernel(const AttentionOptions& o, const AttentionSetup& s, Rng& rng, std::vector<std::int64_t>* log)
      : AttentionKernel("recording_attention"), log_(log) {
    AttentionOptions inner = o;
    inner.type = "softmax";
    inner_ = register_module("inner", make_attention(inner, s, rng));
  }
  Variable forward(const Variable& q, const Variable& k, const Variable& v, const AttentionMask& m) override {
    return inner_->forward(q, k, v, m);
  }
  std::unique_ptr<AttentionState> start_self(std::int64_t b) override { return inner_->start_self(b); }
  Tensor step_self(const Tensor& q, const Tensor& k, const Tensor& v, AttentionState& s) override {
    return inner_->step_self(q, k, v, s);
  }
  std::unique_ptr<AttentionState> start_cross(const Tensor& k, const Tensor& v, const AttentionMask& m) override {
    return inner_->start_cross(k, v, m);
  }
  Tensor step_cross(const Tensor& q, AttentionState& s) override { return inner_->step_cross(q, s); }
  void on_train_step(std::int64_t step) override { log_->push_back(step); }

 private:
  std::vector<std::int64_t>* log_;
  std::shared_ptr<AttentionKernel> inner_;
};

std::vector<std::int64_t> g_kernel_steps;  // written by the kernels the registry builds below

}  // namespace

TEST_CASE("trainer: every attention kernel hears of every step before it runs") {
  static const bool registered = [] {
    AttentionInfo info;
    info.description = "softmax attention that records the steps it hears of";
    register_attention("recording_attention_test", info,
                       [](const AttentionOptions& o, const AttentionSetup& s, Rng& rng) {
                         return std::make_shared<RecordingKernel>(o, s, rng, &g_kernel_steps);
                       });
    return true;
  }();
  CHECK(registered);
  g_kernel_steps.clear();
  ScratchDir dir("kernels");
  Experiment e = tiny_copy(dir.file("run"));  // encoder self, decoder self and cross: 3 kernels per layer pair
  e.model.layers = 1;
  e.model.attention.type = "recording_attention_test";
  e.train.steps = 3;
  TrainerOptions o = quiet();
  std::vector<std::size_t> seen_after_step;
  o.after_step = [&](Trainer&, std::int64_t) { seen_after_step.push_back(g_kernel_steps.size()); };
  Trainer t(e, o);
  t.run();
  CHECK(g_kernel_steps == std::vector<std::int64_t>{1, 1, 1, 2, 2, 2, 3, 3, 3});
  CHECK(seen_after_step == std::vector<std::size_t>{3, 6, 9});
}

TEST_CASE("trainer: train.precision bf16 holds bfloat16 products for the trainer's life, or is refused saying why") {
  ScratchDir dir("precision");
  Experiment e = tiny_copy(dir.file("run"));
  e.train.steps = 2;
  e.train.precision = MatmulPrecision::bfloat16;
  const std::string why = bfloat16_unavailable_reason();
  if (!why.empty()) {
    CHECK_THROWS_WITH(Trainer(e, quiet()), doctest::Contains("train.precision bf16"));
    CHECK(matmul_precision() == MatmulPrecision::float32);
    return;
  }
  std::vector<MatmulPrecision> during;
  TrainerOptions o = quiet();
  o.after_step = [&](Trainer&, std::int64_t) { during.push_back(matmul_precision()); };
  {
    Trainer t(e, o);
    t.run();
  }
  CHECK(during == std::vector<MatmulPrecision>{MatmulPrecision::bfloat16, MatmulPrecision::bfloat16});
  CHECK(matmul_precision() == MatmulPrecision::float32);  // restored with the trainer
}

TEST_CASE("trainer: SIGINT finishes the step, writes a checkpoint and returns") {
  ScratchDir dir("sigint");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 1000;
  TrainerOptions o;
  o.console = false;
  o.signals = true;
  struct sigaction before {};
  sigaction(SIGINT, nullptr, &before);
  o.after_step = [](Trainer&, std::int64_t step) {
    if (step == 3) std::raise(SIGINT);
  };
  {
    Trainer t(e, o);
    const TrainResult r = t.run();
    CHECK(r.outcome == TrainOutcome::interrupted);
    CHECK(r.step == 3);
    CHECK(r.message.find("kat train --resume " + dir.file("run")) != std::string::npos);
    CHECK(read_checkpoint(dir.file("run") + "/checkpoints/last.h5").progress.step == 3);
  }
  // The handler is gone with the trainer: the one before is back.
  struct sigaction after {};
  sigaction(SIGINT, nullptr, &after);
  const bool restored = after.sa_handler == before.sa_handler;
  CHECK(restored);
}

TEST_CASE("trainer: non-finite steps are skipped, and K in a row stop the run with the last good checkpoint intact") {
  ScratchDir dir("nonfinite");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 50;
  e.train.checkpoint_interval = 2;
  e.train.valid_interval = 0;
  e.train.max_bad_steps = 3;
  TrainerOptions o = quiet();
  std::map<std::string, Tensor> before_nan;
  o.after_step = [&](Trainer& t, std::int64_t step) {
    if (step != 5) return;
    before_nan = snapshot(t);
    Tensor w = t.model().named_parameters().front().second.data();
    w.fill_(std::nan(""));
  };
  Trainer t(e, o);
  const TrainResult r = t.run();
  CHECK(r.outcome == TrainOutcome::diverged);
  CHECK(r.step == 8);  // steps 6, 7, 8 skipped
  CHECK(r.message.find("3 steps in a row with a non-finite loss or gradient") != std::string::npos);
  CHECK(r.message.find("step 4") != std::string::npos);
  const Checkpoint last = read_checkpoint(dir.file("run") + "/checkpoints/last.h5");
  CHECK(last.progress.step == 4);
  for (const auto& [name, tensor] : last.model) {
    if (!is_floating(tensor.dtype())) continue;
    for (double x : tensor.to_vector<double>()) REQUIRE(std::isfinite(x));
  }
  const std::string log = read_file(dir.file("run") + "/train.log");
  CHECK(log.find("step 6: non-finite loss (nan); step skipped (1 of 3 in a row allowed)") != std::string::npos);
  CHECK(log.find("training diverged") != std::string::npos);
}

TEST_CASE("trainer: early stopping after `patience` validations without improvement") {
  ScratchDir dir("patience");
  Experiment e = tiny_lm(dir.file("run"));
  e.model.dropout = 0.0;
  e.optim.lr = 1e-30;  // updates vanish below float32 resolution: the validation loss stays put
  e.schedule.type = "constant";
  e.train.steps = 100;
  e.train.valid_interval = 2;
  e.train.patience = 2;
  Trainer t(e, quiet());
  const TrainResult r = t.run();
  CHECK(r.outcome == TrainOutcome::early_stopped);
  CHECK(r.step == 6);  // best at 2, no better at 4 and 6
  CHECK(t.progress().best_step == 2);
  CHECK(read_checkpoint(dir.file("run") + "/checkpoints/best.h5").progress.step == 2);
  CHECK(read_checkpoint(dir.file("run") + "/checkpoints/last.h5").progress.step == 6);
}

TEST_CASE("trainer: the run folder holds the resolved config, the log, metrics and checkpoints") {
  ScratchDir dir("folder");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 6;
  e.train.checkpoint_interval = 1;
  e.train.keep_last = 2;
  {
    Trainer t(e, quiet());
    const TrainResult r = t.run();
    CHECK(r.outcome == TrainOutcome::finished);
    CHECK(std::isfinite(r.train_loss));
  }
  const std::string run = dir.file("run");
  const Experiment resolved = load_experiment(run + "/config.yaml");
  CHECK(differing_keys(resolved, e).empty());
  CHECK(read_file(run + "/train.log").find("finished at step 6") != std::string::npos);
  CheckpointStore store(run + "/checkpoints", 2);
  CHECK(store.step_files().size() == 2);
  const Checkpoint c = read_checkpoint(store.last_path());
  CHECK(c.progress.step == 6);
  CHECK(c.optimizer.kind == "adamw");
  CHECK(c.optimizer.steps == 6);
  CHECK(c.config == to_yaml(e));
  CHECK(std::filesystem::exists(store.best_path()));

  const auto records = read_metrics(run + "/metrics.jsonl");
  int train = 0, valid = 0;
  for (const auto& r : records) {
    if (r.count("train_loss")) {
      ++train;
      for (const char* k : {"step", "epoch", "lr", "grad_norm", "tokens_per_s", "wall_time", "peak_rss_mb"}) {
        CHECK(r.count(k) == 1);
      }
      CHECK(r.at("peak_rss_mb") > 1.0);
    }
    if (r.count("val_loss")) {
      ++valid;
      CHECK(r.at("val_ppl") == doctest::Approx(std::exp(r.at("val_loss"))));
    }
  }
  CHECK(train == 3);
  CHECK(valid == 2);  // at step 4 (interval) and at the end

  // A second run into the same folder is refused; so is a resume that changes the model.
  CHECK_THROWS_WITH_AS(Trainer(e, quiet()), doctest::Contains("already holds a run"), Error);
  TrainerOptions resume = quiet();
  resume.resume = true;
  Experiment wider = e;
  wider.model.d_ff = 64;
  CHECK_THROWS_WITH_AS(Trainer(wider, resume), doctest::Contains("model.d_ff (32 -> 64)"), Error);
  Experiment longer = e;
  longer.train.steps = 8;
  Trainer more(longer, resume);
  CHECK(more.run().step == 8);
}

TEST_CASE("trainer: a model error names the model path") {
  ScratchDir dir("errors");
  Experiment e = tiny_lm(dir.file("run"));
  e.model.attention.type = "no_such_kernel";
  CHECK_THROWS_WITH_AS(Trainer(e, quiet()), doctest::Contains("model: "), Error);
}

TEST_CASE("kat train, Ctrl-C, --resume and kat plot from the command line") {
  ScratchDir dir("cli");
  const std::string kat = std::string(KAT_BINARY);
  const std::string run = dir.file("copy");
  const std::string config = std::string(KAT_SOURCE_DIR) + "/configs/copy-tiny.yaml";
  const auto first = run_command(kat + " train " + config + " --set output.dir=" + run +
                                 " --set train.steps=20 --set train.valid_interval=10 --set train.log_interval=5");
  CHECK(first.exit_code == 0);
  CHECK(first.output.find("finished at step 20") != std::string::npos);
  CHECK(first.output.find("validation loss") != std::string::npos);
  CHECK(first.output.find(", BLEU ") != std::string::npos);
  bool bleu_recorded = false;
  for (const auto& r : read_metrics(run + "/metrics.jsonl")) {
    if (r.count("bleu")) {
      bleu_recorded = true;
      CHECK(r.at("bleu") >= 0.0);
      CHECK(r.at("bleu") <= 100.0);
    }
  }
  CHECK(bleu_recorded);

  // SIGINT in the middle of a long run, once it has logged its first steps: the step finishes, a
  // checkpoint is written, exit 130 (interrupted by a signal).
  const std::string long_run = dir.file("long");
  const auto interrupted = run_command(std::string(KAT_BINARY) + " train " + config + " --set output.dir=" + long_run +
                                       " --set train.steps=1000000 --set train.log_interval=1 2>&1 & pid=$!; "
                                       "for i in $(seq 300); do [ -s " +
                                       long_run +
                                       "/metrics.jsonl ] && break; sleep 0.1; done; "
                                       "kill -INT $pid; wait $pid; echo \"exit=$?\"");
  CHECK_MESSAGE(interrupted.output.find("exit=130") != std::string::npos, interrupted.output);
  CHECK(interrupted.output.find("on request; continue with: kat train --resume") != std::string::npos);
  const Checkpoint stopped = read_checkpoint(long_run + "/checkpoints/last.h5");
  CHECK(stopped.progress.step > 0);
  const auto resumed = run_command(kat + " train --resume " + long_run +
                                   " --set train.steps=" + std::to_string(stopped.progress.step + 3));
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.output.find("resuming at step " + std::to_string(stopped.progress.step)) != std::string::npos);
  CHECK(read_checkpoint(long_run + "/checkpoints/last.h5").progress.step == stopped.progress.step + 3);

  const auto bad = run_command(kat + " train " + config + " --set optim.lr=-1");
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("--set optim.lr=-1: 'optim.lr' must be > 0.0, got -1.0") != std::string::npos);

  if (run_command("command -v gnuplot").exit_code != 0) {
    MESSAGE("gnuplot is not installed: kat plot not tested");
    return;
  }
  const std::string png = dir.file("curves.png");
  const auto plot = run_command(kat + " plot " + run + " " + long_run + " -o " + png);
  CHECK_MESSAGE(plot.exit_code == 0, plot.output);
  const std::string image = read_file(png);
  REQUIRE(image.size() > 1000);
  CHECK(image.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  CHECK(run_command(kat + " plot " + dir.file("nothing") + " -o " + png).exit_code == 2);
}

TEST_CASE("trainer: training by epochs stops when the stream has gone through them") {
  ScratchDir dir("epochs");
  Experiment e = tiny_lm(dir.file("run"));
  e.train.steps = 0;
  e.train.epochs = 2;
  e.data.synthetic.epoch_sentences = 16;  // 4 batches of 4 sentences an epoch
  e.train.valid_interval = 0;
  Trainer t(e, quiet());
  const TrainResult r = t.run();
  CHECK(r.outcome == TrainOutcome::finished);
  CHECK(r.step == 8);
  CHECK(t.progress().epoch == 2);
}

TEST_CASE("trainer: label smoothing changes the training loss, not the validation loss") {
  ScratchDir dir("smoothing");
  auto first_losses = [&](const std::string& sub, double smoothing) {
    Experiment e = tiny_lm(dir.file(sub));
    e.train.steps = 1;
    e.train.log_interval = 1;
    e.train.label_smoothing = smoothing;
    Trainer t(e, quiet());
    const TrainResult r = t.run();
    return std::pair{r.train_loss, r.valid_loss};
  };
  const auto [plain_train, plain_valid] = first_losses("plain", 0.0);
  const auto [smooth_train, smooth_valid] = first_losses("smooth", 0.2);
  CHECK(smooth_train != plain_train);
  // One update apart, the validation losses differ only by the effect of that update.
  CHECK(std::abs(smooth_valid - plain_valid) < 0.05);
}

TEST_CASE("kat plot's axes: steps or training minutes, loss, perplexity or bits") {
  PlotSpec spec;
  // Training time where the records have it, wall time where an older run's do not.
  spec.runs.push_back({"a",
                       {{{"step", 10}, {"train_loss", std::log(4.0)}, {"train_time", 30}, {"wall_time", 40}},
                        {{"step", 20}, {"val_loss", std::log(2.0)}, {"train_time", 90}, {"wall_time", 120}}}});
  spec.runs.push_back({"b", {{{"step", 5}, {"train_loss", std::log(8.0)}, {"wall_time", 60}}}});
  const auto block = [](const std::string& script, const std::string& name) {
    const std::size_t at = script.find("$" + name + " << EOD\n");
    REQUIRE(at != std::string::npos);
    const std::size_t from = script.find('\n', at) + 1;
    return script.substr(from, script.find("EOD\n", from) - from);
  };
  std::string script = gnuplot_script(spec);
  CHECK(block(script, "train0") == fmt::format("10 {}\n", std::log(4.0)));
  CHECK(script.find("set xlabel 'step'") != std::string::npos);
  spec.x = PlotX::time;
  spec.y = PlotY::bits;
  script = gnuplot_script(spec);
  CHECK(block(script, "train0") == "0.5 2\n");
  CHECK(block(script, "valid0") == "1.5 1\n");
  CHECK(block(script, "train1") == "1 3\n");
  CHECK(script.find("set xlabel 'training minutes'") != std::string::npos);
  CHECK(script.find("validation bits/token") != std::string::npos);
  spec.y = PlotY::perplexity;
  CHECK(block(gnuplot_script(spec), "valid0") == "1.5 2\n");
}

TEST_CASE("kat plot draws each of many runs in a line style of its own") {
  PlotSpec spec;
  constexpr int runs = 24;
  for (int i = 0; i < runs; ++i) {
    spec.runs.push_back({fmt::format("run{}", i), {{{"step", 1}, {"train_loss", 1.0 + i}}}});
  }
  const std::string script = gnuplot_script(spec);
  // The style of each run's training curve: what follows "with lines" up to its title.
  std::set<std::string> styles;
  for (int i = 0; i < runs; ++i) {
    const std::string head = fmt::format("$train{} using 1:2 with lines ", i);
    const std::size_t at = script.find(head);
    REQUIRE(at != std::string::npos);
    const std::size_t from = at + head.size();
    const std::string style = script.substr(from, script.find(" title ", from) - from);
    CHECK(style.find("lc rgb") != std::string::npos);
    styles.insert(style);
  }
  CHECK(styles.size() == static_cast<std::size_t>(runs));
}

TEST_CASE("kat plot gives an axis whose values are all one a range around them") {
  // One validation (step 20, loss 2): gnuplot cannot autoscale that, so the panel's ranges are set.
  PlotSpec spec;
  spec.runs.push_back({"a",
                       {{{"step", 10}, {"train_loss", 3.0}},
                        {{"step", 20}, {"train_loss", 2.5}, {"val_loss", 2.0}},
                        {{"step", 30}, {"train_loss", 2.0}}}});
  std::string script = gnuplot_script(spec);
  const std::size_t valid = script.find("set title 'validation loss'");
  REQUIRE(valid != std::string::npos);
  const std::string training = script.substr(0, valid), validation = script.substr(valid);
  CHECK(training.find("range") == std::string::npos);  // three distinct steps and losses: autoscaled
  CHECK(validation.find("set xrange [19:21]\nset yrange [1.9:2.1]\nplot ") != std::string::npos);
  CHECK(validation.find("set autoscale xy\n") != std::string::npos);
  // On a logarithmic axis the range is a factor around the value.
  spec.log_y = true;
  script = gnuplot_script(spec);
  CHECK(script.find("set yrange [1.6:2.5]") != std::string::npos);
  // A value of 0 (a BLEU of 0 in every validation) gets a range of 1 either side.
  spec.runs[0].records[1]["bleu"] = 0.0;
  spec.runs[0].records[2]["bleu"] = 0.0;
  script = gnuplot_script(spec);
  CHECK(script.find("set yrange [-1:1]") != std::string::npos);
}
