// `kat compare configs/lm/*.yaml [--out DIR]`: trains each experiment (or reuses a run that has
// finished, or resumes one that has not), evaluates it on the test split, measures its speed, and
// writes DIR/comparison.md (a table: quality, training tokens/s, peak memory, generation ms/token,
// parameters), DIR/comparison.json and DIR/curves.png (validation curves side by side).

#include <fmt/format.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "core/parallel.h"
#include "data/text_io.h"
#include "train/config/config_error.h"
#include "train/config/experiment_config.h"
#include "train/evaluate.h"
#include "train/run_folder/plot.h"
#include "train/run_folder/run_log.h"

extern char** environ;

namespace kat::cli {
namespace fs = std::filesystem;
namespace {

struct CompareArgs {
  std::vector<std::string> configs;
  std::vector<std::string> sets;
  std::string out;
  std::string split = "test";
  std::int64_t beam = 4;
  std::int64_t gen_tokens = 512;
  bool retrain = false;
};

struct Row {
  std::string config, run, label;
  Task task = Task::lm;
  std::int64_t params = 0, steps = 0;
  double train_minutes = 0;
  double quality = 0, quality2 = 0;  // lm: bits/char, perplexity; translation: BLEU, chrF
  double tail = std::nan("");        // lm: bits/char over the last quarter of each window
  std::int64_t tokens_seen = 0;      // target tokens trained on
  double tokens_per_s = 0, peak_mb = 0, gen_ms = 0;
};

// The attention in a few words; a run made by kat convert says what it was converted from and how
// long it was fine-tuned (its conversion.json).
std::string label_of(const Experiment& e) {
  std::string label = describe_attention(e);
  const std::string record = e.output.dir + "/conversion.json";
  if (!fs::exists(record)) return label;
  try {
    std::ifstream in(record);
    const nlohmann::json j = nlohmann::json::parse(in);
    label += fmt::format(", converted from {} (step {})", j.at("source_attention").get<std::string>(),
                         j.at("source_step").get<std::int64_t>());
    const auto distill = j.at("distill_steps").get<std::int64_t>();
    label += fmt::format(", {}{} fine-tuning steps", distill > 0 ? fmt::format("{} distillation + ", distill) : "",
                         j.at("finetune_steps").get<std::int64_t>());
  } catch (const std::exception& err) {
    std::fprintf(stderr, "kat compare: %s: %s (the table shows the attention alone)\n", record.c_str(), err.what());
  }
  return label;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Trains the experiment unless its run folder holds a finished run; resumes an unfinished one. The
// training runs as a child `kat train`, so each run's peak memory is its own.
void ensure_trained(const std::string& config, const std::vector<std::string>& sets, const Experiment& e,
                    bool retrain) {
  const std::string dir = e.output.dir;
  if (retrain && fs::exists(dir + "/conversion.json")) {
    throw Error(fmt::format(
        "kat compare --retrain: {} was made by kat convert, and deleting it would lose the converted model; run "
        "kat convert again into a new folder instead",
        dir));
  }
  if (retrain && fs::exists(dir)) fs::remove_all(dir);
  if (fs::exists(dir + "/outcome")) {
    std::fprintf(stderr, "kat compare: %s has finished; reusing it\n", dir.c_str());
    return;
  }
  const bool resume = fs::exists(dir + "/checkpoints/last.h5");
  std::fprintf(stderr, "kat compare: %s %s\n", resume ? "resuming" : "training", dir.c_str());
  std::vector<std::string> args{"kat", "--threads", std::to_string(num_threads()), "train", config};
  for (const std::string& plugin : plugin_options()) {
    args.push_back("--plugin");
    args.push_back(plugin);
  }
  for (const auto& s : sets) {
    args.push_back("--set");
    args.push_back(s);
  }
  if (resume) {
    args.push_back("--resume");
    args.push_back(dir);
  }
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) {
    throw Error(fmt::format("kat compare: cannot start kat train for {}", config));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(fmt::format("kat compare: training {} failed ({}); see {}/train.log", config,
                            WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status)) : "killed by a signal",
                            dir));
  }
  if (!fs::exists(dir + "/outcome")) {
    throw Error(
        fmt::format("kat compare: {} stopped before the end (interrupted?); run kat compare again to continue", dir));
  }
}

// Mean ms per generated token of a language model, over the last half of `tokens` tokens.
double lm_generation_ms(LoadedRun& run, std::int64_t tokens) {
  if (run.experiment.model.positional == PositionalKind::learned)
    tokens = std::min(tokens, run.experiment.model.max_len - 1);
  DecodeState state = run.model->start_generation(1);
  Tensor logits = run.model->generation_step(Tensor::from_vector<std::int64_t>({run.data.eos_id}), state);
  Rng rng(7);
  SamplingOptions s;
  double ms = 0;
  std::int64_t timed = 0;
  for (std::int64_t i = 0; i < tokens; ++i) {
    const Tensor next = sample_tokens(logits, s, rng);
    const auto t0 = std::chrono::steady_clock::now();
    logits = run.model->generation_step(next, state);
    if (i >= tokens / 2) {
      ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      ++timed;
    }
  }
  return timed > 0 ? ms / static_cast<double>(timed) : std::nan("");
}

std::string machine_line() {
  utsname u{};
  uname(&u);
  std::string cpu = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  return fmt::format("{} ({} {}), {} hardware threads, kat using {}", cpu, u.sysname, u.machine,
                     std::thread::hardware_concurrency(), num_threads());
}

int run_compare(const CompareArgs& a) {
  std::vector<Experiment> experiments;
  std::vector<std::string> configs = a.configs;
  for (auto& c : configs) {
    if (fs::is_directory(c)) c += "/config.yaml";  // a run folder (one kat convert made, say)
  }
  for (const auto& c : configs) {
    try {
      experiments.push_back(load_experiment(c, a.sets));
    } catch (const ConfigError& err) {
      print_config_errors(err);
      return 2;
    }
  }
  for (std::size_t i = 1; i < experiments.size(); ++i) {
    if (experiments[i].task != experiments[0].task) {
      throw Error(fmt::format("kat compare: {} is a {} experiment but {} is {}", configs[i], experiments[i].task,
                              configs[0], experiments[0].task));
    }
  }
  const Task task = experiments.at(0).task;
  const std::string out = a.out.empty() ? fs::path(experiments[0].output.dir).parent_path().string() : a.out;
  fs::create_directories(out.empty() ? "." : out);

  std::vector<Row> rows;
  for (std::size_t i = 0; i < experiments.size(); ++i) {
    const Experiment& e = experiments[i];
    ensure_trained(configs[i], a.sets, e, a.retrain);
    LoadedRun run = load_run(e.output.dir, "best");
    Row r;
    r.config = configs[i];
    r.run = e.output.dir;
    r.label = label_of(e);
    r.task = task;
    r.params = run.model->module().parameter_count();
    const std::string path = split_path(e, a.split);
    if (task == Task::lm) {
      const LmEvaluation ev = evaluate_lm(run, path);
      r.quality = ev.bits_per_char;
      r.quality2 = ev.perplexity;
      r.tail = ev.tail_bits_per_char;
      r.gen_ms = lm_generation_ms(run, a.gen_tokens);
    } else {
      TranslationOptions o;
      o.search.beam = a.beam;
      const TranslationEvaluation ev = evaluate_translation(run, path, o);
      r.quality = ev.bleu;
      r.quality2 = ev.chrf;
      r.gen_ms =
          ev.generated_tokens > 0 ? 1e3 * ev.decode_seconds / static_cast<double>(ev.generated_tokens) : std::nan("");
    }
    std::vector<double> speeds;
    for (const auto& rec : read_metrics(e.output.dir + "/metrics.jsonl")) {
      if (auto it = rec.find("tokens_per_s"); it != rec.end() && std::isfinite(it->second))
        speeds.push_back(it->second);
      if (auto it = rec.find("peak_rss_mb"); it != rec.end() && std::isfinite(it->second)) {
        r.peak_mb = std::max(r.peak_mb, it->second);
      }
      if (auto it = rec.find("step"); it != rec.end())
        r.steps = std::max(r.steps, static_cast<std::int64_t>(it->second));
      if (auto it = rec.find("tokens"); it != rec.end() && std::isfinite(it->second)) {
        r.tokens_seen = std::max(r.tokens_seen, static_cast<std::int64_t>(it->second));
      }
      if (auto it = rec.find("wall_time"); it != rec.end() && std::isfinite(it->second)) {
        r.train_minutes = std::max(r.train_minutes, it->second / 60.0);
      }
    }
    r.tokens_per_s = median(speeds);
    r.tokens_seen = std::max(r.tokens_seen, run.progress.tokens);  // runs whose records lack the count
    rows.push_back(r);
    std::fprintf(stderr, "kat compare: %s: %s %.3f\n", r.label.c_str(), task == Task::lm ? "bits/char" : "BLEU",
                 r.quality);
  }

  // The table, the curves, the JSON.
  const std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::string cmd = "kat compare";
  for (const auto& c : a.configs) cmd += " " + c;
  for (const auto& s : a.sets) cmd += " --set " + s;
  std::string md = fmt::format("# {} comparison\n\n`{}` on {}, {}.\n\n",
                               task == Task::lm ? "Language model" : "Translation", cmd, date, machine_line());
  if (task == Task::lm) {
    md += fmt::format(
        "| attention | {} bits/char | bits/char, last quarter of each window | {} perplexity (per token) | training "
        "tokens/s | peak memory MB | generation ms/token | parameters | steps | tokens seen | training minutes |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        a.split, a.split);
  } else {
    md += fmt::format(
        "| attention | {} BLEU | {} chrF2 | training tokens/s | peak memory MB | decoding ms/token (beam {}) | "
        "parameters | steps | tokens seen | training minutes |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        a.split, a.split, a.beam);
  }
  nlohmann::ordered_json json = nlohmann::ordered_json::array();
  for (const Row& r : rows) {
    const std::string tail = task != Task::lm ? "" : std::isnan(r.tail) ? " — |" : fmt::format(" {:.3f} |", r.tail);
    md += fmt::format("| {} | {:.{}f} |{} {:.2f} | {:.0f} | {:.0f} | {:.3f} | {} | {} | {} | {:.1f} |\n", r.label,
                      r.quality, task == Task::lm ? 3 : 2, tail, r.quality2, r.tokens_per_s, r.peak_mb, r.gen_ms,
                      r.params, r.steps, r.tokens_seen, r.train_minutes);
    nlohmann::ordered_json row;
    row["config"] = r.config;
    row["run"] = r.run;
    row["attention"] = r.label;
    row["task"] = name(r.task);
    row[task == Task::lm ? "bits_per_char" : "bleu"] = r.quality;
    row[task == Task::lm ? "perplexity" : "chrf"] = r.quality2;
    if (task == Task::lm) row["tail_bits_per_char"] = r.tail;
    row["tokens_seen"] = r.tokens_seen;
    row["tokens_per_s"] = r.tokens_per_s;
    row["peak_rss_mb"] = r.peak_mb;
    row["generation_ms_per_token"] = r.gen_ms;
    row["parameters"] = r.params;
    row["steps"] = r.steps;
    row["training_minutes"] = r.train_minutes;
    json.push_back(std::move(row));
  }
  md += "\nTraining tokens/s is the median over the run's logged intervals; peak memory the process's resident set; ";
  md += task == Task::lm
            ? fmt::format("generation is batch 1, sampled, timed over tokens {}..{}.\n", a.gen_tokens / 2, a.gen_tokens)
            : "decoding time is beam search over the test set divided by the tokens produced.\n";
  std::vector<std::string> runs;
  runs.reserve(rows.size());
  for (const Row& r : rows) runs.push_back(r.run);
  const std::string folder = out.empty() ? "." : out;
  // Against steps, and against minutes of training (runs compared at equal time: train.time_budget);
  // a language model's in bits (per character for a character model).
  const std::string what = task == Task::lm ? "language model" : "translation";
  const PlotY y = task == Task::lm ? PlotY::bits : PlotY::loss;
  for (const auto& [file, x, caption] : {std::tuple{"curves.png", PlotX::step, "validation curves"},
                                         std::tuple{"curves-time.png", PlotX::time, "against training time"}}) {
    try {
      plot_runs(runs, folder + "/" + file, fmt::format("{}: {}", what, caption), y, false, x);
      md += fmt::format("\n![{}]({})\n", caption, file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kat compare: no plot %s: %s\n", file, e.what());
    }
  }
  write_file_atomic(folder + "/comparison.md", md);
  // NaN (a figure that could not be measured) is written as null.
  write_file_atomic(folder + "/comparison.json", json.dump(2) + "\n");
  std::printf("%s", md.c_str());
  std::fprintf(stderr, "kat compare: wrote %s/comparison.md, comparison.json, curves.png and curves-time.png\n",
               folder.c_str());
  return 0;
}

}  // namespace

Runner add_compare(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Train (or reuse), evaluate and compare experiments side by side: a Markdown table");
  cmd->add_option("configs", args->configs,
                  "Experiment files of one task (e.g. configs/lm/*.yaml), or run folders (a kat convert output)")
      ->required();
  cmd->add_option("--set", args->sets, "Override a key in every experiment (repeatable)")->take_all();
  cmd->add_option("--out", args->out, "Folder for comparison.md (default: the runs' common parent folder)");
  cmd->add_option("--split", args->split, "Split to evaluate on")
      ->check(CLI::IsMember({"test", "valid"}))
      ->capture_default_str();
  cmd->add_option("--beam", args->beam, "Beam size for translation")->check(CLI::Range(1, 64))->capture_default_str();
  cmd->add_option("--gen-tokens", args->gen_tokens, "Language models: tokens generated for the speed measurement")
      ->check(CLI::Range(2, 1000000))
      ->capture_default_str();
  cmd->add_flag("--retrain", args->retrain, "Delete the runs and train them again");
  return [args] { return run_compare(*args); };
}

}  // namespace kat::cli
