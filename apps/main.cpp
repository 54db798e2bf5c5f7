// kat: the command-line entry point. Subcommands live one per file (apps/<name>.cpp).

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/version.h"
#include "core/error.h"
#include "core/kernels/blas_kernels.h"
#include "core/parallel.h"
#include "layers/plugin.h"
#include "train/distributed/distributed.h"

namespace {

// Messages go to standard error, in colour only on a terminal that has it and where NO_COLOR is not
// set (https://no-color.org): standard output carries each command's data alone.
void log_to_stderr() {
  const char* no_color = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  const bool plain = (no_color != nullptr && *no_color != '\0') || (term != nullptr && std::string(term) == "dumb");
  auto logger = spdlog::stderr_color_mt("kat", plain ? spdlog::color_mode::never : spdlog::color_mode::automatic);
  logger->set_pattern("[%^%l%$] %v");
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  // First of all: may start kat again on faster OpenBLAS kernels (core/kernels/blas_kernels.h).
  kat::choose_blas_kernels(argc, argv);
  // Beyond a file-size limit (ulimit -f) a write fails with EFBIG, reported with the file's name,
  // instead of SIGXFSZ ending the process in the middle of writing it.
  std::signal(SIGXFSZ, SIG_IGN);
  log_to_stderr();
  CLI::App app{"kat: Kernelized Attention Trainer"};
  app.fallthrough();  // kat's own options (--threads) also after the subcommand
  app.set_version_flag("--version", std::string("kat ") + KAT_VERSION + "\n" + kat::describe_blas_kernels() + "\n" +
                                        kat::describe_blas_threads());
  app.require_subcommand(1);
  int threads = 0;
  app.add_option("--threads", threads, "Threads for oneTBB and OpenBLAS (default: KAT_NUM_THREADS or all cores)")
      ->check(CLI::Range(1, 1024));
  app.add_option("--plugin", kat::cli::plugin_options(),
                 "Load a plugin (a shared library registering attention types or feature maps); repeatable")
      ->allow_extra_args(false);

  std::vector<std::pair<CLI::App*, kat::cli::Runner>> commands;
  kat::cli::Runner demo = kat::cli::add_demo(app);
  commands.emplace_back(app.get_subcommand("demo"), demo);
  kat::cli::Runner prepare = kat::cli::add_prepare(app);
  commands.emplace_back(app.get_subcommand("prepare"), prepare);
  kat::cli::Runner tokenizer = kat::cli::add_tokenizer(app);
  commands.emplace_back(app.get_subcommand("tokenizer"), tokenizer);
  kat::cli::Runner train = kat::cli::add_train(app);
  commands.emplace_back(app.get_subcommand("train"), train);
  kat::cli::Runner config = kat::cli::add_config(app);
  commands.emplace_back(app.get_subcommand("config"), config);
  kat::cli::Runner plot = kat::cli::add_plot(app);
  commands.emplace_back(app.get_subcommand("plot"), plot);
  commands.emplace_back(app.get_subcommand("eval"), kat::cli::add_eval(app));
  commands.emplace_back(app.get_subcommand("translate"), kat::cli::add_translate(app));
  commands.emplace_back(app.get_subcommand("generate"), kat::cli::add_generate(app));
  commands.emplace_back(app.get_subcommand("compare"), kat::cli::add_compare(app));
  commands.emplace_back(app.get_subcommand("bleu"), kat::cli::add_bleu(app));
  commands.emplace_back(app.get_subcommand("bench"), kat::cli::add_bench(app));
  commands.emplace_back(app.get_subcommand("convert"), kat::cli::add_convert(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a usage error exits 2, like a bad config.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    kat::num_threads();  // a bad KAT_NUM_THREADS is refused before a command creates anything
    if (threads > 0) kat::set_num_threads(threads);
    for (const std::string& path : kat::cli::plugin_options()) kat::load_plugin(path);
    for (auto& [sub, run] : commands) {
      if (!sub->parsed()) continue;
      // kat bleu reads its own arguments when it runs (and stops there when checking).
      if (kat::cli::checking_arguments_only() && sub->get_name() != "bleu") return 0;
      // Several copies of any other command would do the same work into the same files.
      if (const int n = kat::launched_processes(); n > 1 && sub->get_name() != "train") {
        throw kat::Error(
            fmt::format("kat {} runs as one process, but an MPI launcher started {}: only kat train "
                        "trains on several (docs/distributed.md)",
                        sub->get_name(), n));
      }
      return run();
    }
  } catch (const kat::Error& e) {
    spdlog::error("{}", e.what());
    return kat::cli::kExitBadInput;
  } catch (const std::bad_alloc&) {
    spdlog::critical("out of memory (see the sizes in kat config --explain, or use a smaller model or batch)");
    return kat::cli::kExitFailure;
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return kat::cli::kExitFailure;
  }
  return 0;
}
