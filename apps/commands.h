#pragma once
// Each subcommand of `kat` registers itself on the CLI11 app and runs from its own file.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace kat {
class ConfigError;
}

namespace kat::cli {

// Exit codes of every subcommand: 0 done; 1 a failure of the system (a disk that is full, a program
// that is missing) or a training run that diverged; 2 bad usage or bad input; 130 stopped by a
// signal (after `kat train` wrote its checkpoint).
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInterrupted = 130;

// KAT_CHECK_ARGS=1: each command parses its arguments and stops with exit 0 (or 2 for bad usage)
// before doing anything; the test of the commands the docs quote runs them this way.
inline bool checking_arguments_only() {
  const char* v = std::getenv("KAT_CHECK_ARGS");
  return v != nullptr && std::string(v) == "1";
}

// The plugins given with --plugin PATH (loaded by main before the command runs); kat train records
// them in the run's experiment, kat compare passes them on to the runs it trains.
inline std::vector<std::string>& plugin_options() {
  static std::vector<std::string> paths;
  return paths;
}

// Adds the subcommand and returns the function that runs it (an exit code) once parsed.
using Runner = std::function<int()>;
Runner add_demo(CLI::App& app);
Runner add_prepare(CLI::App& app);    // apps/prepare.cpp
Runner add_tokenizer(CLI::App& app);  // apps/tokenizer.cpp
Runner add_train(CLI::App& app);      // apps/train.cpp
Runner add_config(CLI::App& app);     // apps/config.cpp
Runner add_plot(CLI::App& app);       // apps/plot.cpp
Runner add_eval(CLI::App& app);       // apps/eval.cpp
Runner add_translate(CLI::App& app);  // apps/translate.cpp
Runner add_generate(CLI::App& app);   // apps/generate.cpp
Runner add_compare(CLI::App& app);    // apps/compare.cpp
Runner add_bleu(CLI::App& app);       // apps/bleu.cpp
Runner add_bench(CLI::App& app);      // apps/bench.cpp
Runner add_convert(CLI::App& app);    // apps/convert.cpp

// Prints every diagnostic of a bad experiment to stderr, one per line, and a count.
void print_config_errors(const ConfigError& err);

}  // namespace kat::cli
