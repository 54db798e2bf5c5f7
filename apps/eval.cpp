// `kat eval RUN_DIR [--split test]`: perplexity and bits per character of a language model, or
// BLEU and chrF of a translation model (beam search), on a split of its corpus or on a prepared
// dataset (--data, which works after the corpus is gone); a table, or with --json a JSON object.
// Standard output carries the result alone: the table, or the JSON with `--json -` (the table
// then goes to standard error).

#include <fmt/format.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "core/os/files.h"
#include "data/text_io.h"
#include "train/evaluate.h"
#include "train/metrics/bleu.h"

namespace kat::cli {
namespace {

struct EvalArgs {
  std::string run;
  std::string split = "test";
  std::string data;
  std::string checkpoint = "best";
  std::int64_t beam = 4;
  double length_penalty = 1.0;
  std::string json;
  std::string hypotheses;
};

int run_eval(const EvalArgs& a) {
  LoadedRun run = load_run(a.run, a.checkpoint);
  const std::string path = a.data.empty() ? split_path(run.experiment, a.split) : a.data;
  const std::string where = path.empty() ? "the synthetic validation set" : path;
  for (const std::string& out : {a.json, a.hypotheses}) {
    if (!out.empty()) refuse_overwriting_input(out, {path, run.checkpoint, a.run + "/config.yaml"}, "kat eval: output");
  }
  std::fprintf(stderr, "kat eval: %s at step %lld (%s) on %s\n", a.run.c_str(),
               static_cast<long long>(run.progress.step), run.checkpoint.c_str(), where.c_str());
  std::string table;
  nlohmann::ordered_json json;
  json["run"] = a.run;
  json["data"] = where;
  json["step"] = run.progress.step;
  if (run.experiment.task == Task::lm) {
    const LmEvaluation e = evaluate_lm(run, path);
    table = fmt::format(
        "{:<16} {}\n{:<16} {}\n{:<16} {}\n{:<16} {}\n{:<16} {:.4f}\n{:<16} {:.3f}\n{:<16} {:.4f}\n{:<16} {:.1f} s\n",
        "run", a.run, "data", where, "tokens", e.tokens, "characters", e.characters, "loss (nats)", e.loss,
        "perplexity", e.perplexity, "bits/char", e.bits_per_char, "time", e.seconds);
    if (e.tail_tokens > 0) {
      table += fmt::format("{:<16} {:.4f}  (positions {}.. of each window, {} tokens)\n", "bits/char, tail",
                           e.tail_bits_per_char, e.tail_from, e.tail_tokens);
    }
    json["tokens"] = e.tokens;
    json["characters"] = e.characters;
    json["loss"] = e.loss;
    json["perplexity"] = e.perplexity;
    json["bits_per_token"] = e.bits_per_token;
    json["bits_per_char"] = e.bits_per_char;
    if (e.tail_tokens > 0) {
      json["tail_from"] = e.tail_from;
      json["tail_tokens"] = e.tail_tokens;
      json["tail_bits_per_char"] = e.tail_bits_per_char;
    }
    json["seconds"] = e.seconds;
  } else {
    TranslationOptions o;
    o.search.beam = a.beam;
    o.search.length_penalty = a.length_penalty;
    const TranslationEvaluation e = evaluate_translation(run, path, o);
    table = fmt::format(
        "{:<16} {}\n{:<16} {}\n{:<16} {}\n{:<16} {:.4f}\n{:<16} {}\n{:<16} {:.2f}  ({})\n{:<16} {:.2f}  ({})\n{:<16} "
        "{:.3f} ms/token  ({} tokens in {:.1f} s, beam {})\n{:<16} {:.1f} s\n",
        "run", a.run, "data", where, "sentences", e.sentences, "loss (nats)", e.loss, "sacreBLEU", e.bleu_line, "BLEU",
        e.bleu, BleuScore::signature(), "chrF2", e.chrf, ChrfScore::signature(), "decoding",
        e.generated_tokens > 0 ? 1e3 * e.decode_seconds / static_cast<double>(e.generated_tokens) : 0.0,
        e.generated_tokens, e.decode_seconds, a.beam, "time", e.seconds);
    if (!a.hypotheses.empty()) {
      std::string text;
      for (const auto& h : e.hypotheses) text += h + "\n";
      write_file_atomic(a.hypotheses, text);
    }
    json["sentences"] = e.sentences;
    json["loss"] = e.loss;
    json["bleu"] = e.bleu;
    json["chrf"] = e.chrf;
    json["beam"] = a.beam;
    json["bleu_signature"] = BleuScore::signature();
    json["chrf_signature"] = ChrfScore::signature();
    json["seconds"] = e.seconds;
    json["decode_seconds"] = e.decode_seconds;
    json["generated_tokens"] = e.generated_tokens;
  }
  if (a.json == "-") {
    std::fputs(table.c_str(), stderr);
    std::printf("%s\n", json.dump(2).c_str());
  } else {
    std::fputs(table.c_str(), stdout);
    if (!a.json.empty()) write_file_atomic(a.json, json.dump(2) + "\n");
  }
  return 0;
}

}  // namespace

Runner add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Evaluate a trained run: perplexity and bits/char, or BLEU and chrF");
  cmd->add_option("run", args->run, "Run folder (output.dir of kat train)")->required();
  cmd->add_option("--split", args->split, "Split of the run's corpus: test, valid or train")
      ->check(CLI::IsMember({"test", "valid", "train"}))
      ->capture_default_str();
  cmd->add_option("--data", args->data, "A prepared dataset to evaluate on instead of the split");
  cmd->add_option("--checkpoint", args->checkpoint, "best, last, or a checkpoint file")->capture_default_str();
  cmd->add_option("--beam", args->beam, "Beam size for translation")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--length-penalty", args->length_penalty, "Length penalty alpha of beam search")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--json", args->json, "Also write the result as JSON to this file (- for standard output)");
  cmd->add_option("--hypotheses", args->hypotheses, "Translation: write the detokenized output here");
  return [args] { return run_eval(*args); };
}

}  // namespace kat::cli
