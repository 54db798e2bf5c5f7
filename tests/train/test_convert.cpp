// kat convert and attention distillation: a trained softmax model turned into linear attention with
// a learned feature map keeps every other weight bit for bit and computes something sensible before
// any fine-tuning; distillation trains the feature maps alone and lowers its loss; a run resumes
// exactly in either stage; bad requests are refused with the reason.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "tests/train/train_test_util.h"
#include "train/convert.h"
#include "train/evaluate.h"
#include "train/run_folder/checkpoint.h"
#include "train/run_folder/run_log.h"

using namespace kat;
using kat::test::quiet;
using kat::test::ScratchDir;
using kat::test::tiny_copy;
using kat::test::tiny_lm;

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

bool in_map(const std::string& name) { return name.find(".feature_map.") != std::string::npos; }

// A softmax run of `steps` steps in dir/src.
std::string train_source(const ScratchDir& dir, bool translation, std::int64_t steps = 60) {
  Experiment e = translation ? tiny_copy(dir.file("src")) : tiny_lm(dir.file("src"));
  e.model.dropout = 0.0;
  e.train.steps = steps;
  e.train.valid_interval = steps;
  e.optim.lr = 3e-3;
  e.schedule.warmup = 5;
  Trainer t(e, quiet());
  REQUIRE(t.run().outcome == TrainOutcome::finished);
  return dir.file("src");
}

std::map<std::string, Tensor> model_of(const std::string& checkpoint) { return read_checkpoint(checkpoint).model; }

}  // namespace

TEST_CASE("kat convert keeps every weight but the new feature maps, bit for bit, and the result is sensible") {
  ScratchDir dir("convert");
  const std::string src = train_source(dir, false);
  const auto source = model_of(src + "/checkpoints/best.h5");
  LoadedRun source_run = load_run(src, "best");
  const double source_loss = evaluate_lm(source_run, "").loss;
  const double uniform = std::log(static_cast<double>(source_run.data.tgt_vocab));
  REQUIRE(source_loss < 0.8 * uniform);
  for (const std::string map : {"t2r", "hedgehog"}) {
    CAPTURE(map);
    ConvertOptions o;
    o.feature_map = map;
    o.output = dir.file(map);
    o.steps = 10;
    const ConversionReport r = convert_run(src, o);
    CHECK(r.source_step == 60);
    CHECK(r.experiment.model.attention.type == "linear");
    CHECK(r.experiment.train.steps == 10);
    CHECK(r.weights.copied == static_cast<std::int64_t>(source.size()));
    CHECK(r.weights.dropped.empty());
    REQUIRE(r.weights.initialized.size() == 4);  // weight and bias of two layers' maps
    for (const auto& name : r.weights.initialized) CHECK(in_map(name));
    const auto converted = model_of(o.output + "/checkpoints/last.h5");
    for (const auto& [name, t] : source) {
      CAPTURE(name);
      CHECK(same_bits(converted.at(name), t));
    }
    // Identity-like maps: finite, and far better than guessing, before any fine-tuning.
    LoadedRun run = load_run(o.output, "last");
    CHECK(run.progress.step == 0);
    const double loss = evaluate_lm(run, "").loss;
    CHECK(std::isfinite(loss));
    CHECK(loss < 0.9 * uniform);
    // The folder fine-tunes with kat train --resume.
    Experiment again = r.experiment;
    TrainerOptions resume = quiet();
    resume.resume = true;
    Trainer t(again, resume);
    CHECK(t.run().step == 10);
  }
  // The source is untouched.
  const auto after = model_of(src + "/checkpoints/best.h5");
  for (const auto& [name, t] : source) CHECK(same_bits(after.at(name), t));
}

TEST_CASE("kat convert replaces only the sublayers named in a translation model, and drops old maps") {
  ScratchDir dir("convert-mt");
  const std::string src = train_source(dir, true, 20);
  ConvertOptions o;
  o.feature_map = "t2r";
  o.sublayers = {Sublayers::decoder};
  o.output = dir.file("decoder");
  const ConversionReport r = convert_run(src, o);
  CHECK(r.experiment.model.decoder_attention.type == "linear");
  CHECK(r.experiment.model.encoder_attention.type == "softmax");
  CHECK(r.experiment.model.cross_attention.type == "softmax");
  CHECK(describe_attention(r.experiment) == "softmax encoder, linear (t2r) decoder / softmax cross");
  for (const auto& name : r.weights.initialized) CHECK(name.rfind("decoder.", 0) == 0);
  CHECK(r.experiment.train.steps == 4);  // a fifth of 20

  // A decay goes with new self-attention (the encoder's weighs both ways), never cross-attention.
  ConvertOptions decayed = o;
  decayed.decay = {0.9};
  decayed.output = dir.file("decayed");
  const ConversionReport rd = convert_run(src, decayed);
  CHECK(rd.experiment.model.decoder_attention.decay == std::vector<double>{0.9});
  CHECK(describe_attention(rd.experiment) == "softmax encoder, linear (t2r, decay) decoder / softmax cross");
  decayed.sublayers = {Sublayers::encoder};
  decayed.output = dir.file("decayed-encoder");
  const ConversionReport re = convert_run(src, decayed);
  CHECK(describe_attention(re.experiment) == "linear (t2r, decay) encoder, softmax decoder / softmax cross");
  decayed.sublayers = {Sublayers::cross};
  decayed.output = dir.file("decayed-cross");
  CHECK_THROWS_WITH_AS(convert_run(src, decayed), doctest::Contains("model.cross_attention.decay"), ConfigError);

  // Converting the converted run again (all sublayers, another map) drops the t2r weights.
  ConvertOptions again;
  again.feature_map = "hedgehog";
  again.checkpoint = "last";
  again.output = dir.file("all");
  const ConversionReport r2 = convert_run(o.output, again);
  CHECK_FALSE(r2.weights.dropped.empty());
  for (const auto& name : r2.weights.dropped) CHECK(in_map(name));
  CHECK(describe_attention(r2.experiment) == "linear (hedgehog)");
}

TEST_CASE("kat convert replaces only the layers named in a language model, and distils them alone") {
  ScratchDir dir("convert-layers");
  const std::string src = train_source(dir, false, 20);
  const auto source = model_of(src + "/checkpoints/best.h5");
  ConvertOptions o;
  o.feature_map = "t2r";
  o.layers = {1};
  o.steps = 3;
  o.distill_steps = 2;
  o.output = dir.file("top");
  const ConversionReport r = convert_run(src, o);
  CHECK(r.experiment.model.layer_attention == std::vector<std::string>{"softmax", "linear"});
  CHECK(describe_attention(r.experiment) == "softmax, linear (t2r)");
  CHECK(r.weights.copied == static_cast<std::int64_t>(source.size()));
  REQUIRE(r.weights.initialized.size() == 2);  // weight and bias of layer 1's map
  for (const auto& name : r.weights.initialized) {
    CAPTURE(name);
    CHECK(in_map(name));
    CHECK(name.find("layers.1.") != std::string::npos);
  }
  const auto converted = model_of(o.output + "/checkpoints/last.h5");
  for (const auto& [name, t] : source) {
    CAPTURE(name);
    CHECK(same_bits(converted.at(name), t));
  }
  LoadedRun run = load_run(o.output, "last");
  const double uniform = std::log(static_cast<double>(run.data.tgt_vocab));
  const double loss = evaluate_lm(run, "").loss;
  CHECK(std::isfinite(loss));
  CHECK(loss < 0.9 * uniform);
  // Distillation (of layer 1's map alone) and fine-tuning run from the folder.
  TrainerOptions resume = quiet();
  resume.resume = true;
  Trainer t(r.experiment, resume);
  CHECK(t.run().step == 5);
  const auto tuned = model_of(o.output + "/checkpoints/last.h5");
  CHECK_FALSE(same_bits(tuned.at(r.weights.initialized[0]), converted.at(r.weights.initialized[0])));

  // What it refuses, saying why.
  ConvertOptions bad = o;
  bad.output = dir.file("bad");
  bad.layers = {2};
  CHECK_THROWS_WITH_AS(convert_run(src, bad), doctest::Contains("the source model's layers are 0 to 1"), Error);
  bad.layers = {0};
  bad.sublayers = {Sublayers::decoder};
  CHECK_THROWS_WITH_AS(convert_run(src, bad), doctest::Contains("not both"), Error);
  // Layer 1 of the converted run is linear: keeping it while layer 0 gets another map would change it.
  bad.sublayers = {Sublayers::all};
  bad.checkpoint = "last";
  bad.feature_map = "hedgehog";
  CHECK_THROWS_WITH_AS(convert_run(o.output, bad), doctest::Contains("layer 1 keeps its 'linear' attention"), Error);
  bad.layers = {0, 1};
  const ConversionReport both = convert_run(o.output, bad);
  CHECK(describe_attention(both.experiment) == "linear (hedgehog), linear (hedgehog)");
  CHECK(both.weights.dropped.size() == 2);  // layer 1's t2r map
  ScratchDir mt_dir("convert-layers-mt");
  const std::string mt = train_source(mt_dir, true, 4);
  ConvertOptions translation;
  translation.layers = {0};
  translation.output = dir.file("mt-layers");
  CHECK_THROWS_WITH_AS(convert_run(mt, translation), doctest::Contains("a translation model takes --sublayers"), Error);
}

TEST_CASE("kat convert with a window: its scale starts afresh, distils with the map, and the model decodes") {
  ScratchDir dir("convert-window");
  const std::string src = train_source(dir, false, 20);
  const auto source = model_of(src + "/checkpoints/best.h5");
  ConvertOptions o;
  o.feature_map = "hedgehog";
  o.window = 4;
  o.decay = {0.9};
  o.steps = 3;
  o.distill_steps = 3;
  o.output = dir.file("window");
  const ConversionReport r = convert_run(src, o);
  CHECK(r.experiment.model.attention.window == 4);
  CHECK(describe_attention(r.experiment) == "linear (hedgehog, decay, window 4)");
  CHECK(r.weights.copied == static_cast<std::int64_t>(source.size()));
  std::int64_t scales = 0;
  for (const auto& name : r.weights.initialized) scales += name.find(".window_scale") != std::string::npos;
  CHECK(scales == r.experiment.model.layers);
  const auto converted = model_of(o.output + "/checkpoints/last.h5");
  TrainerOptions resume = quiet();
  resume.resume = true;
  Trainer t(r.experiment, resume);
  CHECK(t.run().step == 6);
  const auto tuned = model_of(o.output + "/checkpoints/last.h5");
  for (const auto& name : r.weights.initialized) {
    CAPTURE(name);
    CHECK_FALSE(same_bits(tuned.at(name), converted.at(name)));  // distilled, then fine-tuned
  }
  LoadedRun run = load_run(o.output, "last");
  const double loss = evaluate_lm(run, "").loss;
  CHECK(std::isfinite(loss));
  CHECK(loss < 0.9 * std::log(static_cast<double>(run.data.tgt_vocab)));
}

TEST_CASE("attention distillation trains the feature maps alone, lowers its loss, and resumes exactly") {
  ScratchDir dir("distill");
  const std::string src = train_source(dir, false);
  auto convert = [&](const std::string& name) {
    ConvertOptions o;
    o.feature_map = "hedgehog";
    o.output = dir.file(name);
    o.distill_steps = 30;
    o.steps = 10;
    o.distill_lr = 0.02;
    Experiment e = convert_run(src, o).experiment;
    e.train.log_interval = 1;
    return e;
  };
  const Experiment straight_exp = convert(std::string("straight"));
  CHECK(straight_exp.train.steps == 40);
  const auto start = model_of(dir.file("straight") + "/checkpoints/last.h5");
  std::map<std::string, Tensor> at_30;
  TrainerOptions options = quiet();
  options.resume = true;
  options.after_step = [&](Trainer& t, std::int64_t step) {
    if (step == 30) {
      for (auto& [name, v] : t.model().state_dict()) at_30[name] = v.clone();
    }
  };
  // The experiment as the folder has it (log_interval is a key a resumed run may change).
  Trainer straight(straight_exp, options);
  REQUIRE(straight.run().step == 40);
  std::map<std::string, Tensor> end;
  for (auto& [name, v] : straight.model().state_dict()) end[name] = v.clone();
  std::int64_t maps_changed = 0;
  for (const auto& [name, t] : start) {
    CAPTURE(name);
    if (in_map(name)) {
      maps_changed += same_bits(at_30.at(name), t) ? 0 : 1;
    } else {
      CHECK(same_bits(at_30.at(name), t));  // distillation: frozen
      if (name.find("rng") == std::string::npos && name.find("weight") != std::string::npos) {
        CHECK_FALSE(same_bits(end.at(name), t));  // fine-tuning: trained
      }
    }
  }
  CHECK(maps_changed == 4);
  std::vector<double> distill, train;
  for (const auto& r : read_metrics(dir.file("straight") + "/metrics.jsonl")) {
    if (r.count("distill_loss")) distill.push_back(r.at("distill_loss"));
    if (r.count("train_loss")) train.push_back(r.at("train_loss"));
  }
  REQUIRE(distill.size() == 30);
  CHECK(train.size() == 10);
  const double first = (distill[0] + distill[1] + distill[2]) / 3, last = (distill[27] + distill[28] + distill[29]) / 3;
  MESSAGE("distillation KL, first 3 steps " << first << ", last 3 " << last);
  CHECK(first > 0.0);
  CHECK(last < 0.7 * first);

  // Stopped in the distillation stage and again in fine-tuning, resumed each time: the same model.
  convert("split");
  for (const std::int64_t stop : {12, 35, -1}) {
    TrainerOptions o = quiet();
    o.resume = true;
    o.after_step = [stop](Trainer& t, std::int64_t step) {
      if (step == stop) t.request_stop();
    };
    Experiment e = straight_exp;
    e.output.dir = dir.file("split");
    Trainer t(e, o);
    t.run();
    if (stop < 0) {
      for (auto& [name, v] : t.model().state_dict()) {
        CAPTURE(name);
        CHECK(same_bits(v, end.at(name)));
      }
    }
  }
}

TEST_CASE("kat convert and attention distillation refuse what they cannot do, saying why") {
  ScratchDir dir("convert-errors");
  const std::string src = train_source(dir, false, 10);
  ConvertOptions o;
  o.feature_map = "hedgehog";
  o.output = src;
  CHECK_THROWS_WITH_AS(convert_run(src, o), doctest::Contains("is the source run"), Error);
  o.output = dir.file("x");
  o.sublayers = {Sublayers::cross};
  CHECK_THROWS_WITH_AS(convert_run(src, o), doctest::Contains("a language model converts all its layers"), Error);
  o.sublayers = {Sublayers::all};
  CHECK_THROWS_WITH_AS(convert_run(dir.file("nothing"), o), doctest::Contains("not a run folder"), Error);
  o.feature_map = "hedgehogg";
  CHECK_THROWS_WITH_AS(convert_run(src, o), doctest::Contains("did you mean 'hedgehog'"), Error);

  // Distilling a map without weights.
  o.feature_map = "elu";
  o.distill_steps = 5;
  o.output = dir.file("elu");
  CHECK_THROWS_WITH_AS(convert_run(src, o), doctest::Contains("no linear attention with a learned feature map"), Error);
  // Distillation longer than the run.
  Experiment e = tiny_lm(dir.file("long"));
  e.model.attention.type = "linear";
  e.model.attention.feature_map = "t2r";
  e.train.steps = 10;
  e.train.distill_attention.steps = 10;
  CHECK_THROWS_WITH_AS(parse_experiment(to_yaml(e), "x.yaml"),
                       doctest::Contains("train.distill_attention.steps (10) are the first of train.steps"), Error);
}

TEST_CASE("kat convert from the command line: messages on standard error, exit codes by kind") {
  ScratchDir dir("convert-cli");
  const std::string src = train_source(dir, false, 10);
  const std::string kat = KAT_BINARY;
  const auto ok =
      kat::test::run_command("(" + kat + " convert " + src + " --feature-map t2r --steps 4 --distill 2 -o " +
                             dir.file("new") + " 2>/dev/null)");
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.empty());  // nothing on standard output
  const auto said = kat::test::run_command(kat + " convert " + src + " --feature-map t2r -o " + dir.file("new"));
  CHECK(said.exit_code == 2);  // the folder holds a run now
  CHECK(said.output.find("already holds a run") != std::string::npos);
  CHECK(std::filesystem::exists(dir.file("new") + "/conversion.json"));
  const auto resumed = kat::test::run_command(kat + " train --resume " + dir.file("new"));
  CHECK(resumed.exit_code == 0);
  CHECK(resumed.output.find("attention distillation loss") != std::string::npos);
  const auto missing = kat::test::run_command(kat + " convert " + dir.file("none") + " -o " + dir.file("x"));
  CHECK(missing.exit_code == 2);
  CHECK(missing.output.find("not a run folder") != std::string::npos);
  const auto usage = kat::test::run_command(kat + " convert " + src + " --sublayers middle -o " + dir.file("y"));
  CHECK(usage.exit_code == 2);
}
