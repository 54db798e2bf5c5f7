// `kat generate RUN_DIR --prompt "In the beginning"`: continues a prompt with a language model one
// token at a time through its decoding state: constant time per token for linear and Performer
// attention (the recurrent (S, z) sums), a growing KV cache for softmax. `--strategy sample`
// (temperature, top-k, top-p), `greedy` (the most likely token each time) or `beam` (beam search
// for the most likely continuation up to the end of the sentence or --tokens; the states are
// reordered as beams are chosen). Prints the text; the speed goes to standard error. `--weights f16` decodes with
// float16 copies of the weight matrices (the linear layers' and a tied output projection's: use_half_weights in
// layers/transformer.h): about half the time per token where reading the weights is most of it, with logits that move
// by about 2e-4 of their size.

#include <fmt/format.h>

#include <chrono>
#include <cstdio>

#include "apps/commands.h"
#include "data/special_tokens.h"
#include "layers/decoding/search.h"
#include "layers/decoding/threads.h"
#include "layers/transformer.h"
#include "train/evaluate.h"

namespace kat::cli {
namespace {

struct GenerateArgs {
  std::string run;
  std::string prompt;
  std::string checkpoint = "best";
  std::int64_t tokens = 200;
  double temperature = 0.8;
  std::int64_t top_k = 0;
  double top_p = 0.95;
  std::uint64_t seed = 1;
  bool stop_at_eos = false;
  std::string weights = "f32";
  std::string strategy = "sample";
  std::int64_t beam = 4;
  double length_penalty = 1.0;
};

int run_generate(const GenerateArgs& a) {
  LoadedRun run = load_run(a.run, a.checkpoint);
  if (run.experiment.task != Task::lm) throw Error(fmt::format("kat generate: {} is not a language model", a.run));
  if (!run.tgt_tokenizer) throw Error(fmt::format("kat generate: {} trained on synthetic data: no text", a.run));
  if (a.weights == "f16") use_half_weights(run.model->module(), true);
  // Windows of running text put eos between sentences; sentence rows start with bos.
  std::vector<std::int64_t> context{run.experiment.data.sentence_level ? run.data.bos_id : run.data.eos_id};
  for (std::int64_t id : run.tgt_tokenizer->encode(a.prompt)) context.push_back(id);
  const std::vector<std::string> unknown = unknown_characters(*run.tgt_tokenizer, a.prompt);
  if (!unknown.empty()) {
    std::fprintf(stderr, "kat generate: the model's tokenizer does not know %s of the prompt: encoded as <unk>\n",
                 list_characters(unknown).c_str());
  }
  const std::int64_t limit = run.experiment.model.positional == PositionalKind::learned
                                 ? run.experiment.model.max_len
                                 : std::numeric_limits<std::int64_t>::max();
  if (static_cast<std::int64_t>(context.size()) + a.tokens > limit) {
    throw Error(fmt::format("kat generate: prompt ({} tokens) and --tokens {} exceed the model's {} positions",
                            context.size(), a.tokens, limit));
  }
  SamplingOptions s;
  s.temperature = a.temperature;
  s.top_k = a.top_k;
  s.top_p = a.top_p;
  Rng rng(a.seed);
  // Whether a second core pays for batch-1 decoding is measured (layers/decoding/threads.h).
  const Tensor first = Tensor::from_vector<std::int64_t>({context.front()});
  const DecodingThreads dt = choose_decoding_threads([&] { return run.model->start_generation(1); },
                                                     [&](DecodeState& st) { run.model->generation_step(first, st); });
  if (dt.measured) {
    std::fprintf(stderr,
                 "kat generate: decoding on %d thread%s (measured %.3f ms/token on 1 thread, %.3f on %d; kat "
                 "--threads N chooses)\n",
                 dt.threads, dt.threads == 1 ? "" : "s", dt.ms_one, dt.ms_all, dt.all);
  }
  const int threads = dt.threads;
  DecodeState state = run.model->start_generation(1);
  Tensor logits;
  const bool beam = a.strategy == "beam";
  const auto t0 = std::chrono::steady_clock::now();
  // Beam search starts from the prompt's last token, so it is fed the others.
  for (std::size_t i = 0; i + (beam ? 1 : 0) < context.size(); ++i) {
    logits = run.model->generation_step(Tensor::from_vector<std::int64_t>({context[i]}), state);
  }
  const auto t1 = std::chrono::steady_clock::now();
  std::vector<std::int64_t> out;
  if (beam) {
    SearchOptions so;
    so.bos = context.back();
    so.eos = run.data.eos_id;
    so.beam = a.beam;
    so.length_penalty = a.length_penalty;
    const StepFn step = [&](const Tensor& ids, DecodeState& st) { return run.model->generation_step(ids, st); };
    out = beam_search(step, state, {a.tokens}, so).front().tokens;
  } else {
    for (std::int64_t i = 0; i < a.tokens; ++i) {
      const std::int64_t next =
          (a.strategy == "greedy" ? greedy_tokens(logits) : sample_tokens(logits, s, rng)).to_vector<std::int64_t>()[0];
      if (next == run.data.eos_id && a.stop_at_eos) break;
      out.push_back(next == run.data.eos_id ? -1 : next);  // a line break where a sentence ends
      logits = run.model->generation_step(Tensor::from_vector<std::int64_t>({next}), state);
    }
  }
  const auto t2 = std::chrono::steady_clock::now();
  std::string text = a.prompt;
  std::vector<std::int64_t> piece;
  for (std::int64_t id : out) {
    if (id < 0) {
      text += run.tgt_tokenizer->decode(piece) + "\n";
      piece.clear();
    } else {
      piece.push_back(id);
    }
  }
  text += run.tgt_tokenizer->decode(piece);
  std::printf("%s\n", text.c_str());
  const double prompt_s = std::chrono::duration<double>(t1 - t0).count();
  const double gen_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr,
               "kat generate: prompt %zu token%s in %.3f s; %zu token%s in %.3f s: %.3f ms/token, %.0f tokens/s (%s, "
               "%s weights, %s, %d thread%s)\n",
               context.size(), context.size() == 1 ? "" : "s", prompt_s, out.size(), out.size() == 1 ? "" : "s", gen_s,
               out.empty() ? 0.0 : 1e3 * gen_s / static_cast<double>(out.size()),
               gen_s > 0 ? static_cast<double>(out.size()) / gen_s : 0.0, run.experiment.model.attention.type.c_str(),
               a.weights.c_str(), beam ? fmt::format("beam {}", a.beam).c_str() : a.strategy.c_str(), threads,
               threads == 1 ? "" : "s");
  return 0;
}

}  // namespace

Runner add_generate(CLI::App& app) {
  auto args = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Sample text from a trained language model");
  cmd->add_option("run", args->run, "Run folder of a language model")->required();
  cmd->add_option("--prompt", args->prompt, "Text to continue");
  cmd->add_option("--checkpoint", args->checkpoint, "best, last, or a checkpoint file")->capture_default_str();
  cmd->add_option("--tokens", args->tokens, "Tokens to generate")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--temperature", args->temperature, "Sampling temperature")
      ->check(CLI::Range(1e-3, 100.0))
      ->capture_default_str();
  cmd->add_option("--top-k", args->top_k, "Keep the k most likely tokens (0: all)")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--top-p", args->top_p, "Nucleus: keep the most likely tokens up to this probability")
      ->check(CLI::Range(1e-6, 1.0))
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Sampling seed")->capture_default_str();
  cmd->add_flag("--stop-at-eos", args->stop_at_eos, "Stop at the end of the first sentence");
  cmd->add_option("--strategy", args->strategy, "sample, greedy, or beam (to the end of the sentence)")
      ->check(CLI::IsMember({"sample", "greedy", "beam"}))
      ->capture_default_str();
  cmd->add_option("--beam", args->beam, "Beam size of --strategy beam")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--length-penalty", args->length_penalty, "Length penalty alpha of --strategy beam")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--weights", args->weights, "Weight matrices while decoding: f32, or f16 (faster)")
      ->check(CLI::IsMember({"f32", "f16"}))
      ->capture_default_str();
  return [args] { return run_generate(*args); };
}

}  // namespace kat::cli
