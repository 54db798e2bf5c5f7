// Evaluation of trained runs: the loaded run reproduces the trainer's validation loss, LM
// characters and bits, translations in file order against the right references, text translation
// through the same search, and the eval / translate / generate / compare commands.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "data/char_tokenizer.h"
#include "data/dataset.h"
#include "tests/train/train_test_util.h"
#include "train/evaluate.h"
#include "train/metrics/bleu.h"
#include "train/run_folder/run_log.h"
#include "train/trainer.h"

using namespace kat;
using kat::test::read_file;
using kat::test::run_command;
using kat::test::ScratchDir;
using kat::test::write_file;

namespace {

std::vector<std::string> sentences(const std::string& side, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(fmt::format("{} says {} {}", side, i % 7, i % 2 ? "yes" : "no"));
  return out;
}

std::string write_dataset(const ScratchDir& dir, const std::string& name, const std::vector<std::string>& sides,
                          int n) {
  auto tok = CharTokenizer::bytes();
  TokenDataset d;
  d.corpus = "test";
  d.split = name;
  for (const auto& side : sides) d.sides.push_back(tokenize_lines(side, sentences(side, n), *tok, name));
  const std::string path = dir.file(name + ".h5");
  write_token_dataset(path, d);
  return path;
}

std::string experiment_file(const ScratchDir& dir, const std::string& task, const std::string& train,
                            const std::string& valid, const std::string& out, const std::string& attention) {
  const bool lm = task == "lm";
  return write_file(
      dir.file(task + "-" + attention + ".yaml"),
      fmt::format("task: {}\n"
                  "data: {{kind: corpus, train: {}, valid: {}, seq_len: 40, {}}}\n"
                  "optim: {{lr: 0.01}}\n"
                  "schedule: {{type: constant, warmup: 0}}\n"
                  "model: {{layers: 1, d_model: 16, heads: 2, d_ff: 32, dropout: 0.0{}, "
                  "attention: {{type: {}{}}}}}\n"
                  "train: {{steps: 30, valid_interval: 15, checkpoint_interval: 15, log_interval: 5{}}}\n"
                  "output: {{dir: {}}}\n",
                  task, train, valid, lm ? "batch_size: 4" : "max_tokens: 300", lm ? "" : ", share_embeddings: true",
                  attention, attention == "performer" ? ", features: 8" : "", lm ? "" : ", bleu_beam: 1", out));
}

void train(const std::string& file) {
  TrainerOptions o;
  o.console = false;
  o.signals = false;
  Trainer t(load_experiment(file), o);
  REQUIRE(t.run().outcome == TrainOutcome::finished);
}

// The validation loss the trainer recorded at `step`.
double recorded_val_loss(const std::string& run, std::int64_t step) {
  for (const auto& r : read_metrics(run + "/metrics.jsonl")) {
    if (r.count("val_loss") && r.at("step") == static_cast<double>(step)) return r.at("val_loss");
  }
  return std::nan("");
}

}  // namespace

TEST_CASE("evaluate: a language model reproduces its validation loss and counts characters") {
  ScratchDir dir("eval-lm");
  const std::string train_h5 = write_dataset(dir, "en.train", {"en"}, 40);
  const std::string valid_h5 = write_dataset(dir, "en.valid", {"en"}, 12);
  const std::string run_dir = dir.file("run-lm");
  train(experiment_file(dir, "lm", train_h5, valid_h5, run_dir, "linear"));

  LoadedRun run = load_run(run_dir, "best");
  CHECK(run.progress.step == run.progress.best_step);
  const LmEvaluation e = evaluate_lm(run, valid_h5);
  // Every token of the stream (sentences and their ends) but the first is predicted once.
  std::int64_t stream = 0;
  for (const auto& s : sentences("en", 12)) stream += static_cast<std::int64_t>(s.size()) + 1;
  CHECK(e.tokens == stream - 1);
  CHECK(e.characters == stream - 1);  // bytes of ASCII text: one character a token
  CHECK(e.bits_per_char == doctest::Approx(e.bits_per_token));
  // The last quarter of each 40-token window, positions 30..39, scored apart as well.
  CHECK(e.tail_from == 30);
  std::int64_t tail = 0;
  for (std::int64_t left = stream - 1; left > 0; left -= 40)
    tail += std::max<std::int64_t>(0, std::min<std::int64_t>(left, 40) - 30);
  CHECK(e.tail_tokens == tail);
  CHECK(std::isfinite(e.tail_loss));
  CHECK(e.tail_loss * static_cast<double>(e.tail_tokens) < e.loss * static_cast<double>(e.tokens));
  CHECK(e.tail_bits_per_char == doctest::Approx(e.tail_loss / std::log(2.0)));
  CHECK(e.loss == doctest::Approx(recorded_val_loss(run_dir, run.progress.step)).epsilon(1e-5));
  CHECK(e.perplexity == doctest::Approx(std::exp(e.loss)));
  CHECK(split_path(run.experiment, "valid") == valid_h5);
  CHECK_THROWS_WITH_AS(split_path(run.experiment, "test"), doctest::Contains("en.test.h5 does not exist"), Error);
  CHECK_THROWS_WITH_AS(load_run(dir.file("nowhere")), doctest::Contains("not a run folder (no config.yaml"), Error);
  CHECK_THROWS_WITH_AS(load_run(run_dir, dir.file("missing.h5")), doctest::Contains("no checkpoint"), Error);
}

TEST_CASE("evaluate: translations come in file order, scored against their own references, as text translation does") {
  ScratchDir dir("eval-mt");
  const std::string train_h5 = write_dataset(dir, "mt.train", {"en", "es"}, 40);
  const std::string valid_h5 = write_dataset(dir, "mt.valid", {"en", "es"}, 9);
  const std::string run_dir = dir.file("run-mt");
  train(experiment_file(dir, "translation", train_h5, valid_h5, run_dir, "softmax"));

  LoadedRun run = load_run(run_dir, "last");
  TranslationOptions o;
  o.search.beam = 2;
  const TranslationEvaluation e = evaluate_translation(run, valid_h5, o);
  CHECK(e.sentences == 9);
  CHECK(e.references == sentences("es", 9));
  CHECK(e.bleu == doctest::Approx(corpus_bleu(e.hypotheses, e.references).score));
  CHECK(e.chrf == doctest::Approx(corpus_chrf(e.hypotheses, e.references).score));
  CHECK(e.loss == doctest::Approx(recorded_val_loss(run_dir, run.progress.step)).epsilon(1e-5));

  // Raw text through the source tokenizer gives the same translations, in input order; an empty
  // line gives an empty line; an overlong line is cut and reported.
  std::vector<std::string> input = sentences("en", 9);
  input.insert(input.begin() + 4, "");
  input.push_back(std::string(static_cast<std::size_t>(run.experiment.model.max_len) + 10, 'x'));
  std::vector<std::size_t> cut;
  const auto out = translate_lines(run, input, o, &cut);
  REQUIRE(out.size() == input.size());
  CHECK(out[4].empty());
  for (int i = 0; i < 9; ++i)
    CHECK(out[static_cast<std::size_t>(i < 4 ? i : i + 1)] == e.hypotheses[static_cast<std::size_t>(i)]);
  CHECK(cut == std::vector<std::size_t>{10});
  CHECK_THROWS_WITH_AS(translate_lines(run, {"\xff\xfe"}, o), doctest::Contains("input line 1"), Error);
}

TEST_CASE("kat eval, translate, generate and compare from the command line") {
  ScratchDir dir("eval-cli");
  const std::string kat = std::string(KAT_BINARY);
  const std::string train_h5 = write_dataset(dir, "en.train", {"en"}, 40);
  const std::string valid_h5 = write_dataset(dir, "en.valid", {"en"}, 12);
  write_dataset(dir, "en.test", {"en"}, 6);
  const std::string softmax = experiment_file(dir, "lm", train_h5, valid_h5, dir.file("runs/softmax"), "softmax");
  const std::string linear = experiment_file(dir, "lm", train_h5, valid_h5, dir.file("runs/linear"), "linear");
  const std::string performer = experiment_file(dir, "lm", train_h5, valid_h5, dir.file("runs/performer"), "performer");

  const auto compare = run_command(
      fmt::format("{} compare {} {} {} --out {} --gen-tokens 16", kat, softmax, linear, performer, dir.file("cmp")));
  INFO(compare.output);
  REQUIRE(compare.exit_code == 0);
  const std::string md = read_file(dir.file("cmp/comparison.md"));
  CHECK(md.find("| softmax |") != std::string::npos);
  CHECK(md.find("| linear (elu) |") != std::string::npos);
  CHECK(md.find("| performer (favor+, m=8) |") != std::string::npos);
  CHECK(md.find("test bits/char") != std::string::npos);
  CHECK(md.find("bits/char, last quarter of each window") != std::string::npos);
  CHECK(md.find("![against training time](curves-time.png)") != std::string::npos);
  CHECK(std::filesystem::exists(dir.file("cmp/curves-time.png")));
  CHECK(read_file(dir.file("cmp/comparison.json")).find("\"tokens_seen\"") != std::string::npos);
  CHECK(read_file(dir.file("cmp/comparison.json")).find("\"bits_per_char\"") != std::string::npos);
  // A second comparison reuses the finished runs.
  const auto again =
      run_command(fmt::format("{} compare {} {} --out {} --gen-tokens 16", kat, softmax, linear, dir.file("cmp2")));
  CHECK(again.exit_code == 0);
  CHECK(again.output.find("has finished; reusing it") != std::string::npos);
  CHECK(again.output.find("kat compare: training") == std::string::npos);

  const auto ev = run_command(
      fmt::format("{} eval {} --split test --json {}", kat, dir.file("runs/linear"), dir.file("eval.json")));
  CHECK(ev.exit_code == 0);
  CHECK(ev.output.find("bits/char") != std::string::npos);
  CHECK(read_file(dir.file("eval.json")).find("\"perplexity\"") != std::string::npos);

  const auto gen =
      run_command(fmt::format("{} generate {} --prompt 'en says' --tokens 20", kat, dir.file("runs/linear")));
  CHECK(gen.exit_code == 0);
  CHECK(gen.output.find("en says") != std::string::npos);
  CHECK(gen.output.find("ms/token") != std::string::npos);

  const auto not_mt = run_command(fmt::format("echo hello | {} translate {}", kat, dir.file("runs/linear")));
  CHECK(not_mt.exit_code == 2);
  CHECK(not_mt.output.find("not a translation run") != std::string::npos);
  write_file(dir.file("hyp.txt"), "a b c d\nthe cat\n");
  write_file(dir.file("ref.txt"), "a b x d\nthe cat\n");
  const auto bleu =
      run_command(fmt::format("{} bleu {} -i {} -f text -w 2", kat, dir.file("ref.txt"), dir.file("hyp.txt")));
  CHECK(bleu.exit_code == 0);
  CHECK_MESSAGE(bleu.output.find("= 40.17 83.3/50.0/25.0/25.0") != std::string::npos, bleu.output);
  CHECK(bleu.output.find("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp") != std::string::npos);
  write_file(dir.file("short.txt"), "a b x d\n");
  const auto mismatch = run_command(fmt::format("{} bleu {} -i {}", kat, dir.file("short.txt"), dir.file("hyp.txt")));
  CHECK(mismatch.exit_code == 2);
  CHECK_MESSAGE(mismatch.output.find(dir.file("short.txt")) != std::string::npos, mismatch.output);
  const auto no_run = run_command(fmt::format("{} eval {}", kat, dir.file("runs/none")));
  CHECK(no_run.exit_code == 2);
  CHECK(no_run.output.find("not a run folder") != std::string::npos);
}
