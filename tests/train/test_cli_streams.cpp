// The command line as the tools around it expect: data on standard output and everything else on
// standard error, JSON that parses whatever the names hold, exit codes by kind, and run folders
// that work from any folder and after their corpus is gone.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/char_tokenizer.h"
#include "data/dataset.h"
#include "tests/train/train_test_util.h"

using namespace kat;
using kat::test::run_split;
using kat::test::ScratchDir;
using kat::test::shell_quote;
using kat::test::SplitResult;
using kat::test::write_file;

namespace fs = std::filesystem;

namespace {

const std::string kKat = std::string(KAT_BINARY);

std::string slurp(const std::string& path) { return kat::test::read_file(path); }

std::vector<std::string> sentences(const std::string& side, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(fmt::format("{} says {} {}", side, i % 7, i % 2 ? "yes" : "no"));
  return out;
}

// A byte-level tokenizer, or (chars) the character vocabulary of every side's sentences, which all
// splits share.
void write_dataset(const std::string& path, const std::vector<std::string>& sides, int n, bool chars = false) {
  std::vector<std::string> text;
  for (const auto& side : sides) {
    for (auto& line : sentences(side, 40)) text.push_back(std::move(line));
  }
  const auto tok = chars ? CharTokenizer::train(text) : CharTokenizer::bytes();
  TokenDataset d;
  d.corpus = "test";
  d.split = "x";
  for (const auto& side : sides) d.sides.push_back(tokenize_lines(side, sentences(side, n), *tok, path));
  write_token_dataset(path, d);
}

// An experiment on the corpus files corpus/<task>.{train,valid}.h5, paths relative to its folder.
std::string experiment(const std::string& folder, const std::string& task, const std::string& out) {
  const bool lm = task == "lm";
  return write_file(
      folder + "/" + task + ".yaml",
      fmt::format("task: {}\n"
                  "data: {{kind: corpus, train: corpus/{}.train.h5, valid: corpus/{}.valid.h5, seq_len: 40, {}}}\n"
                  "optim: {{lr: 0.01}}\n"
                  "schedule: {{type: constant, warmup: 0}}\n"
                  "model: {{layers: 1, d_model: 16, heads: 2, d_ff: 32, dropout: 0.0, max_len: 64{}}}\n"
                  "train: {{steps: 12, valid_interval: 6, checkpoint_interval: 6, log_interval: 3}}\n"
                  "output: {{dir: {}}}\n",
                  task, task, task, lm ? "batch_size: 4" : "max_tokens: 300", lm ? "" : ", share_embeddings: true",
                  out));
}

// No log line, note or progress on standard output.
void check_only_data(const SplitResult& r, const std::string& command) {
  INFO(command);
  INFO("stdout: " << r.out);
  for (const char* marker : {"[info]", "[warning]", "[error]", "[critical]", "\033[", "\r"}) {
    CHECK(r.out.find(marker) == std::string::npos);
  }
  CHECK(r.out.find("kat " + command + ":") == std::string::npos);
}

}  // namespace

TEST_CASE("kat: every subcommand writes only its data to standard output, messages to standard error") {
  ScratchDir dir("streams");
  const std::string d = dir.path().string();
  fs::create_directories(d + "/corpus");
  write_dataset(d + "/corpus/lm.train.h5", {"en"}, 40, /*chars=*/true);
  write_dataset(d + "/corpus/lm.valid.h5", {"en"}, 8, true);
  write_dataset(d + "/corpus/lm.test.h5", {"en"}, 8, true);
  const std::string cd = "cd " + shell_quote(d) + " && ";
  experiment(d, "lm", "runs/lm");

  const auto check = run_split(cd + kKat + " config check lm.yaml");
  CHECK(check.exit_code == 0);
  CHECK(check.out == "lm.yaml: OK (task lm, corpus data, attention softmax, output runs/lm)\n");
  const auto train = run_split(cd + kKat + " train lm.yaml");
  REQUIRE_MESSAGE(train.exit_code == 0, train.err);
  CHECK(train.out.empty());
  CHECK(train.err.find("finished at step 12") != std::string::npos);

  const auto eval = run_split(cd + kKat + " eval runs/lm");
  CHECK(eval.exit_code == 0);
  check_only_data(eval, "eval");
  CHECK(eval.out.rfind("run              runs/lm\n", 0) == 0);
  CHECK(eval.err.find("kat eval: runs/lm at step") != std::string::npos);
  const auto json = run_split(cd + kKat + " eval runs/lm --json -");
  CHECK(json.exit_code == 0);
  CHECK(nlohmann::json::parse(json.out).at("bits_per_char").get<double>() > 0);  // the JSON alone
  CHECK(json.err.find("bits/char") != std::string::npos);                        // the table on stderr

  const auto gen = run_split(cd + kKat + " generate runs/lm --prompt 'en says' --tokens 12 --seed 3");
  CHECK(gen.exit_code == 0);
  check_only_data(gen, "generate");
  CHECK(gen.out.rfind("en says", 0) == 0);
  CHECK(gen.err.find("ms/token") != std::string::npos);
  CHECK(gen.err.find("does not know") == std::string::npos);
  // Characters the tokenizer does not know are named (control characters by code point).
  const auto unknown = run_split(cd + kKat + " generate runs/lm --prompt 'en \u2603 says\tyes' --tokens 4");
  CHECK(unknown.exit_code == 0);
  CHECK_MESSAGE(unknown.err.find("does not know '\u2603', U+0009 of the prompt") != std::string::npos, unknown.err);

  // Greedy decoding to the end of the sentence is beam search with one beam.
  const std::string prompt = cd + kKat + " generate runs/lm --prompt 'en says' --tokens 30 ";
  const auto greedy = run_split(prompt + "--strategy greedy --stop-at-eos");
  const auto beam1 = run_split(prompt + "--strategy beam --beam 1");
  const auto beam4 = run_split(prompt + "--strategy beam --beam 4");
  CHECK(greedy.exit_code == 0);
  CHECK(beam1.exit_code == 0);
  CHECK(beam4.exit_code == 0);
  CHECK(greedy.out == beam1.out);
  CHECK(beam4.out.rfind("en says", 0) == 0);
  CHECK(beam4.err.find("beam 4") != std::string::npos);

  const auto plot = run_split(cd + kKat + " plot runs/lm -o curves.png");
  CHECK(plot.exit_code == 0);
  CHECK(plot.out.empty());

  const auto tok = run_split(cd + kKat + " tokenizer train --kind bytes --output tok");
  CHECK(tok.exit_code == 0);
  CHECK(tok.out.empty());
  const auto encode = run_split(cd + kKat + " tokenizer encode --model tok 'ab'");
  CHECK(encode.out == "101 102\n");
  const auto prepare = run_split(cd + "printf 'a b\\nc d\\n' > text.en && " + kKat +
                                 " prepare dataset d.h5 --side en=text.en "
                                 "--tokenizer tok");
  CHECK_MESSAGE(prepare.exit_code == 0, prepare.err);
  CHECK(prepare.out.empty());

  // Errors: nothing on standard output, the message on standard error, exit 2.
  const auto missing = run_split(cd + kKat + " eval runs/none");
  CHECK(missing.exit_code == 2);
  CHECK(missing.out.empty());
  CHECK(missing.err.find("not a run folder") != std::string::npos);
  // kat's own options also after the subcommand; NO_COLOR and TERM=dumb get no escape sequences.
  const auto threads = run_split(cd + "NO_COLOR=1 TERM=dumb " + kKat + " eval runs/none --threads 1");
  CHECK(threads.exit_code == 2);
  CHECK(threads.err.find("not a run folder") != std::string::npos);
  CHECK(threads.err.find("\033[") == std::string::npos);
}

TEST_CASE("kat: JSON files parse whatever the run's name holds (a quote, a backslash, a newline)") {
  ScratchDir dir("json-names");
  const std::string d = dir.path().string();
  fs::create_directories(d + "/corpus");
  write_dataset(d + "/corpus/lm.train.h5", {"en"}, 40);
  write_dataset(d + "/corpus/lm.valid.h5", {"en"}, 8);
  const std::string cd = "cd " + shell_quote(d) + " && ";
  experiment(d, "lm", "\"runs/my\\\"run\\\\x\"");  // the folder runs/my"run\x
  const auto train = run_split(cd + kKat + " train lm.yaml");
  REQUIRE_MESSAGE(train.exit_code == 0, train.err);
  const std::string odd = "runs/my\"run\\x";
  REQUIRE(fs::exists(d + "/" + odd + "/metrics.jsonl"));
  fs::rename(d + "/" + odd, d + "/" + odd + "\nline");  // a newline too, by renaming the folder
  const std::string run = odd + "\nline";
  const auto json = run_split(cd + kKat + " eval " + shell_quote(run) + " --split valid --json -");
  REQUIRE_MESSAGE(json.exit_code == 0, json.err);
  CHECK(nlohmann::json::parse(json.out).at("run").get<std::string>() == run);
  const auto compare = run_split(cd + kKat + " compare lm.yaml --set " + shell_quote("output.dir=" + odd) +
                                 " --out cmp --split valid --gen-tokens 4");
  REQUIRE_MESSAGE(compare.exit_code == 0, compare.err);
  const auto rows = nlohmann::json::parse(slurp(d + "/cmp/comparison.json"));
  CHECK(rows.at(0).at("run").get<std::string>() == odd);
  std::istringstream metrics(slurp(d + "/" + odd + "/metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) {
    CHECK(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false).is_object());
  }
}

TEST_CASE("kat: a run folder translates and evaluates from any folder, after its corpus is gone") {
  ScratchDir dir("self-contained");
  const std::string d = dir.path().string();
  fs::create_directories(d + "/work/corpus");
  write_dataset(d + "/work/corpus/translation.train.h5", {"en", "es"}, 40, /*chars=*/true);
  write_dataset(d + "/work/corpus/translation.valid.h5", {"en", "es"}, 6, true);
  experiment(d + "/work", "translation", "runs/mt");
  const auto train = run_split("cd " + shell_quote(d + "/work") + " && " + kKat + " train translation.yaml");
  REQUIRE_MESSAGE(train.exit_code == 0, train.err);
  const std::string run = d + "/work/runs/mt";
  // The resolved config names the corpus by absolute paths; the run keeps its tokenizer and data.
  CHECK(slurp(run + "/config.yaml").find("train: \"" + d + "/work/corpus/translation.train.h5\"") != std::string::npos);
  CHECK(fs::exists(run + "/data.json"));
  CHECK(fs::exists(run + "/tokenizer.en"));

  fs::rename(d + "/work/corpus", d + "/work/corpus-gone");
  fs::create_directories(d + "/elsewhere");
  const std::string cd = "cd " + shell_quote(d + "/elsewhere") + " && ";
  write_file(d + "/elsewhere/src.en", "en says 1 yes\nen says 2 no\n\nen says 3 yes\n");
  write_file(d + "/elsewhere/ref.es", "es says 1 yes\nes says 2 no\n\nes says 3 yes\n");
  const auto translate = run_split(cd + kKat + " translate " + run + " < src.en > hyp.es");
  REQUIRE_MESSAGE(translate.exit_code == 0, translate.err);
  const std::string hyp = slurp(d + "/elsewhere/hyp.es");
  CHECK(std::count(hyp.begin(), hyp.end(), '\n') == 4);  // one line out per line in, nothing else
  CHECK(translate.err.find("does not know") == std::string::npos);
  // Characters the source tokenizer does not know: said once, with the number of lines.
  const auto unknown = run_split(cd + "printf 'en \xe2\x98\x83 says\nen says 1\nen \xc3\xbc \xe2\x98\x83\n' | " + kKat +
                                 " translate " + run);
  CHECK_MESSAGE(unknown.exit_code == 0, unknown.err);
  CHECK_MESSAGE(unknown.err.find("2 of 3 lines hold characters the model's source tokenizer does not know ('\u2603', "
                                 "'\u00fc')") != std::string::npos,
                unknown.err);
  // n-best lists: LINE ||| TRANSLATION ||| SCORE, best first, the first the 1-best translation.
  const auto nbest = run_split(cd + kKat + " translate " + run + " --beam 4 --nbest 3 < src.en");
  REQUIRE_MESSAGE(nbest.exit_code == 0, nbest.err);
  std::istringstream lines(nbest.out);
  std::istringstream best(hyp);
  std::map<int, std::vector<double>> scores;
  for (std::string line; std::getline(lines, line);) {
    const auto a = line.find(" ||| "), b = line.rfind(" ||| ");
    REQUIRE_MESSAGE((a != std::string::npos && b > a), line);
    const int i = std::stoi(line.substr(0, a));
    if (scores[i].empty()) {
      std::string first;
      for (int k = 0; k <= i; ++k) std::getline(best, first);
      best.seekg(0);
      CHECK(line.substr(a + 5, b - a - 5) == first);
    }
    scores[i].push_back(std::stod(line.substr(b + 5)));
  }
  CHECK(scores.size() == 4);
  CHECK(scores[2].size() == 1);  // the empty line: one empty translation
  for (int i : {0, 1, 3}) {
    CHECK(scores[i].size() == 3);
    CHECK(std::is_sorted(scores[i].rbegin(), scores[i].rend()));
  }

  const auto bleu = run_split(cd + kKat + " bleu ref.es -i hyp.es");
  CHECK_MESSAGE(bleu.exit_code == 0, bleu.err);
  CHECK(nlohmann::json::parse(bleu.out).size() == 2);  // BLEU and chrF

  const auto eval = run_split(cd + kKat + " eval " + run);
  CHECK(eval.exit_code == 2);
  CHECK_MESSAGE(eval.err.find("give the dataset with --data") != std::string::npos, eval.err);
  const auto with_data =
      run_split(cd + kKat + " eval " + run + " --data " + d + "/work/corpus-gone/translation.valid.h5 --beam 1");
  CHECK_MESSAGE(with_data.exit_code == 0, with_data.err);
  CHECK(with_data.out.find("BLEU") != std::string::npos);
}
