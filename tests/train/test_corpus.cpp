// data.kind: corpus: prepared HDF5 datasets through the data pipeline's loaders, for a language
// model and for translation, with validation and an exact resume through the prefetch thread.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "data/char_tokenizer.h"
#include "data/dataset.h"
#include "layers/module.h"
#include "tests/train/train_test_util.h"
#include "train/trainer.h"

using namespace kat;
using kat::test::quiet;
using kat::test::ScratchDir;

namespace {

std::vector<std::string> lines(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + " sentence number " + std::to_string(i) + (i % 3 ? " ok" : ""));
  return out;
}

// A dataset of one side (lm) or two (translation), tokenized by bytes.
std::string write_dataset(const ScratchDir& dir, const std::string& name, const std::vector<std::string>& sides,
                          int sentences) {
  auto tok = CharTokenizer::bytes();
  TokenDataset d;
  d.corpus = "test";
  d.split = name;
  for (const auto& side : sides) d.sides.push_back(tokenize_lines(side, lines(side, sentences), *tok, name));
  const std::string path = dir.file(name + ".h5");
  write_token_dataset(path, d);
  return path;
}

std::map<std::string, Tensor> snapshot(Trainer& t) {
  std::map<std::string, Tensor> out;
  for (auto& [name, v] : t.model().state_dict()) out[name] = v.clone();
  return out;
}

bool bit_identical(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b) {
  for (const auto& [name, t] : a) {
    if (std::memcmp(t.raw_data(), b.at(name).raw_data(), t.nbytes()) != 0) return false;
  }
  return a.size() == b.size();
}

}  // namespace

TEST_CASE("corpus: a language model and a translation model train on prepared datasets and resume exactly") {
  ScratchDir dir("corpus");
  const std::string lm_train = write_dataset(dir, "lm-train", {"en"}, 60);
  const std::string lm_valid = write_dataset(dir, "lm-valid", {"en"}, 10);
  const std::string mt_train = write_dataset(dir, "mt-train", {"en", "es"}, 60);
  const std::string mt_valid = write_dataset(dir, "mt-valid", {"en", "es"}, 10);

  for (const char* task : {"lm", "translation"}) {
    CAPTURE(task);
    const bool lm = std::string(task) == "lm";
    auto make = [&](const std::string& sub) {
      const std::string text = fmt::format(
          "task: {}\n"
          "data: {{kind: corpus, train: {}, valid: {}, seq_len: 40, prefetch: 2, {}}}\n"
          "optim: {{lr: 0.01}}\n"
          "schedule: {{type: constant, warmup: 0}}\n"
          "model: {{layers: 1, d_model: 16, heads: 2, d_ff: 32, dropout: 0.1{}}}\n"
          "train: {{steps: 8, valid_interval: 4, checkpoint_interval: 100, log_interval: 2}}\n"
          "output: {{dir: {}}}\n",
          task, lm ? lm_train : mt_train, lm ? lm_valid : mt_valid, lm ? "batch_size: 4" : "max_tokens: 200",
          lm ? "" : ", share_embeddings: true", dir.file(std::string(task) + "-" + sub));
      return parse_experiment(text, std::string(task) + ".yaml");
    };
    Trainer straight(make("straight"), quiet());
    const TrainResult full = straight.run();
    CHECK(full.outcome == TrainOutcome::finished);
    CHECK(std::isfinite(full.valid_loss));
    CHECK(full.valid_loss < std::log(260.0));  // better than a uniform guess over the byte vocabulary
    const auto expected = snapshot(straight);

    TrainerOptions stop = quiet();
    stop.after_step = [](Trainer& t, std::int64_t step) {
      if (step == 3) t.request_stop();
    };
    Trainer first(make("split"), stop);
    CHECK(first.run().outcome == TrainOutcome::interrupted);
    TrainerOptions resume = quiet();
    resume.resume = true;
    Trainer second(make("split"), resume);
    CHECK(second.run().step == 8);
    CHECK(bit_identical(snapshot(second), expected));
  }
}

TEST_CASE("corpus: a dataset that does not fit the experiment is refused with its name") {
  ScratchDir dir("corpus-bad");
  const std::string lm_train = write_dataset(dir, "lm-train", {"en"}, 20);
  Experiment e = parse_experiment("task: translation\ndata: {kind: corpus, train: " + lm_train +
                                      ", valid: " + lm_train + "}\noutput: {dir: " + dir.file("run") + "}\n",
                                  "mt.yaml");
  CHECK_THROWS_WITH_AS(Trainer(e, quiet()), doctest::Contains("translation needs a dataset with two sides"), Error);
  Experiment side = parse_experiment("data: {kind: corpus, train: " + lm_train + ", valid: " + lm_train +
                                         ", side: fr}\noutput: {dir: " + dir.file("run2") + "}\n",
                                     "lm.yaml");
  CHECK_THROWS_AS(Trainer(side, quiet()), Error);
  const std::string junk = kat::test::write_file(dir.file("junk.h5"), "not a dataset");
  Experiment bad = parse_experiment(
      "data: {kind: corpus, train: " + junk + ", valid: " + junk + "}\noutput: {dir: " + dir.file("run3") + "}\n",
      "lm.yaml");
  CHECK_THROWS_WITH_AS(Trainer(bad, quiet()), doctest::Contains("junk.h5"), Error);
}

TEST_CASE("corpus: sequence-length warmup trains on shorter windows first and resumes exactly across its phases") {
  ScratchDir dir("seq-len-warmup");
  const std::string train = write_dataset(dir, "lm-train", {"en"}, 60);
  const std::string valid = write_dataset(dir, "lm-valid", {"en"}, 10);
  auto make = [&](const std::string& sub, const std::string& warmup) {
    const std::string text = fmt::format(
        "task: lm\n"
        "data: {{kind: corpus, train: {}, valid: {}, seq_len: 40, batch_size: 2{}}}\n"
        "optim: {{lr: 0.01}}\n"
        "schedule: {{type: constant, warmup: 0}}\n"
        "model: {{layers: 1, d_model: 16, heads: 2, d_ff: 32, dropout: 0.1}}\n"
        "train: {{steps: 8, valid_interval: 4, checkpoint_interval: 100, log_interval: 2}}\n"
        "output: {{dir: {}}}\n",
        train, valid, warmup, dir.file(sub));
    return parse_experiment(text, sub + ".yaml");
  };
  const std::string warmup = ", seq_len_warmup: {start: 10, steps: 6}";  // 10, 20, 40 tokens: steps 1-2, 3-4, 5-
  Trainer straight(make("straight", warmup), quiet());
  const TrainResult full = straight.run();
  CHECK(full.outcome == TrainOutcome::finished);
  CHECK(std::isfinite(full.valid_loss));
  const auto expected = snapshot(straight);

  Trainer plain(make("plain", ""), quiet());
  plain.run();
  CHECK(!bit_identical(snapshot(plain), expected));  // the warmup changed what was trained on

  TrainerOptions stop = quiet();
  stop.after_step = [](Trainer& t, std::int64_t step) {
    if (step == 3) t.request_stop();  // inside the second phase
  };
  Trainer first(make("split", warmup), stop);
  CHECK(first.run().outcome == TrainOutcome::interrupted);
  TrainerOptions resume = quiet();
  resume.resume = true;
  Trainer second(make("split", warmup), resume);
  CHECK(second.run().step == 8);
  CHECK(bit_identical(snapshot(second), expected));
}
