// `kat eval RUN_DIR [--split test]`: perplexity and bits per character of a language model, or
// BLEU and chrF of a translation model (beam search), on a split of its corpus; a table on the
// console and, with --json, a JSON object.

#include <fmt/format.h>

#include <cstdio>
#include <fstream>

#include "apps/commands.h"
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

void write_json(const std::string& path, const std::string& text) {
  if (path == "-") {
    std::printf("%s\n", text.c_str());
    return;
  }
  std::ofstream out(path, std::ios::trunc);
  out << text << "\n";
  if (!out) throw Error(fmt::format("--json {}: cannot write", path));
}

int run_eval(const EvalArgs& a) {
  LoadedRun run = load_run(a.run, a.checkpoint);
  const std::string path = a.data.empty() ? split_path(run.experiment, a.split) : a.data;
  const std::string where = path.empty() ? "the synthetic validation set" : path;
  std::fprintf(stderr, "kat eval: %s at step %lld (%s) on %s\n", a.run.c_str(),
               static_cast<long long>(run.progress.step), run.checkpoint.c_str(), where.c_str());
  std::string json;
  if (run.experiment.task == "lm") {
    const LmEvaluation e = evaluate_lm(run, path);
    std::printf("%-16s %s\n%-16s %s\n%-16s %lld\n%-16s %lld\n%-16s %.4f\n%-16s %.3f\n%-16s %.4f\n%-16s %.1f s\n", "run",
                a.run.c_str(), "data", where.c_str(), "tokens", static_cast<long long>(e.tokens), "characters",
                static_cast<long long>(e.characters), "loss (nats)", e.loss, "perplexity", e.perplexity, "bits/char",
                e.bits_per_char, "time", e.seconds);
    json = fmt::format(
        "{{\"run\": \"{}\", \"data\": \"{}\", \"step\": {}, \"tokens\": {}, \"characters\": {}, \"loss\": {:.6f}, "
        "\"perplexity\": {:.6f}, \"bits_per_token\": {:.6f}, \"bits_per_char\": {:.6f}, \"seconds\": {:.3f}}}",
        a.run, where, run.progress.step, e.tokens, e.characters, e.loss, e.perplexity, e.bits_per_token,
        e.bits_per_char, e.seconds);
  } else {
    TranslationOptions o;
    o.search.beam = a.beam;
    o.search.length_penalty = a.length_penalty;
    const TranslationEvaluation e = evaluate_translation(run, path, o);
    std::printf(
        "%-16s %s\n%-16s %s\n%-16s %lld\n%-16s %.4f\n%-16s %s\n%-16s %.2f  (%s)\n%-16s %.2f  (%s)\n%-16s %.1f s\n",
        "run", a.run.c_str(), "data", where.c_str(), "sentences", static_cast<long long>(e.sentences), "loss (nats)",
        e.loss, "sacreBLEU", e.bleu_line.c_str(), "BLEU", e.bleu, BleuScore::signature().c_str(), "chrF2", e.chrf,
        ChrfScore::signature().c_str(), "time", e.seconds);
    if (!a.hypotheses.empty()) {
      std::ofstream out(a.hypotheses, std::ios::trunc);
      for (const auto& h : e.hypotheses) out << h << "\n";
      if (!out) throw Error(fmt::format("--hypotheses {}: cannot write", a.hypotheses));
    }
    json = fmt::format(
        "{{\"run\": \"{}\", \"data\": \"{}\", \"step\": {}, \"sentences\": {}, \"loss\": {:.6f}, \"bleu\": {:.4f}, "
        "\"chrf\": {:.4f}, \"beam\": {}, \"bleu_signature\": \"{}\", \"seconds\": {:.3f}}}",
        a.run, where, run.progress.step, e.sentences, e.loss, e.bleu, e.chrf, a.beam, BleuScore::signature(),
        e.seconds);
  }
  if (!a.json.empty()) write_json(a.json, json);
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
  cmd->add_option("--json", args->json, "Also write the result as JSON to this file (- for stdout)");
  cmd->add_option("--hypotheses", args->hypotheses, "Translation: write the detokenized output here");
  return [args] { return run_eval(*args); };
}

}  // namespace kat::cli
