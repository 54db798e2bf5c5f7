#pragma once
// Each subcommand of `kat` registers itself on the CLI11 app and runs from its own file.

#include <CLI/CLI.hpp>
#include <functional>

namespace kat::cli {

// Adds the subcommand and returns the function that runs it (an exit code) once parsed.
using Runner = std::function<int()>;
Runner add_demo(CLI::App& app);
Runner add_prepare(CLI::App& app);    // apps/prepare.cpp
Runner add_tokenizer(CLI::App& app);  // apps/tokenizer.cpp

}  // namespace kat::cli
