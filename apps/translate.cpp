// `kat translate RUN_DIR < source.txt > translation.txt`: one line in, one line out, in order;
// beam search through the decoding states (the KV cache for softmax attention, the recurrent
// (S, z) state for linear and Performer attention). An empty line translates to an empty line; a
// line longer than the model accepts is cut to fit, with a warning naming the line. With
// `--nbest N`, N lines per input line in the form of Moses' and Marian's n-best lists:
// `LINE ||| TRANSLATION ||| SCORE` (LINE from 0, SCORE the log-probability over the length
// penalty), best first.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "apps/commands.h"
#include "data/text_io.h"
#include "train/evaluate.h"

namespace kat::cli {
namespace {

struct TranslateArgs {
  std::string run;
  std::string checkpoint = "best";
  std::int64_t beam = 4;
  std::int64_t nbest = 1;
  double length_penalty = 1.0;
  double max_len_ratio = 2.0;
};

int run_translate(const TranslateArgs& a) {
  if (a.nbest > a.beam)
    throw Error(fmt::format("kat translate: --nbest {} needs --beam of at least {}", a.nbest, a.nbest));
  LoadedRun run = load_run(a.run, a.checkpoint);
  const std::vector<std::string> lines = read_lines("-");
  TranslationOptions o;
  o.search.beam = a.beam;
  o.search.nbest = a.nbest;
  o.search.length_penalty = a.length_penalty;
  o.max_len_ratio = a.max_len_ratio;
  std::vector<std::size_t> truncated;
  const auto t0 = std::chrono::steady_clock::now();
  const auto out = translate_lines_nbest(run, lines, o, &truncated);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Characters the source tokenizer does not know are encoded as <unk>: said once, with how many
  // lines hold them.
  // (translate_lines_nbest has refused a run without a source tokenizer.)
  std::vector<std::string> unknown;
  std::size_t unknown_lines = 0;
  for (const std::string& line : lines) {
    const std::vector<std::string> u = unknown_characters(*run.src_tokenizer, line);
    unknown_lines += u.empty() ? 0 : 1;
    for (const std::string& c : u) {
      if (std::find(unknown.begin(), unknown.end(), c) == unknown.end()) unknown.push_back(c);
    }
  }
  if (unknown_lines > 0) {
    std::fprintf(stderr,
                 "kat translate: %zu of %zu lines hold characters the model's source tokenizer does not know (%s): "
                 "encoded as <unk>\n",
                 unknown_lines, lines.size(), list_characters(unknown).c_str());
  }
  for (std::size_t i : truncated) {
    std::fprintf(stderr,
                 "kat translate: line %zu is longer than the model's %lld positions; translated its beginning\n", i + 1,
                 static_cast<long long>(run.experiment.model.max_len));
  }
  std::string text;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (a.nbest == 1) {
      text += out[i].front().text + "\n";
      continue;
    }
    for (const Translation& t : out[i]) text += fmt::format("{} ||| {} ||| {:.6f}\n", i, t.text, t.score);
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fprintf(stderr, "kat translate: %zu lines in %.1f s (beam %lld)\n", lines.size(), seconds,
               static_cast<long long>(a.beam));
  return 0;
}

}  // namespace

Runner add_translate(CLI::App& app) {
  auto args = std::make_shared<TranslateArgs>();
  CLI::App* cmd = app.add_subcommand("translate", "Translate standard input line by line with a trained run");
  cmd->add_option("run", args->run, "Run folder of a translation model")->required();
  cmd->add_option("--checkpoint", args->checkpoint, "best, last, or a checkpoint file")->capture_default_str();
  cmd->add_option("--beam", args->beam, "Beam size (1: greedy)")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--nbest", args->nbest, "Translations per line, as LINE ||| TRANSLATION ||| SCORE (at most --beam)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--length-penalty", args->length_penalty, "Length penalty alpha")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--max-len-ratio", args->max_len_ratio, "Longest output per source token")
      ->check(CLI::Range(0.1, 100.0))
      ->capture_default_str();
  return [args] { return run_translate(*args); };
}

}  // namespace kat::cli
