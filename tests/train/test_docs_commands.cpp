// Every `kat` command quoted in the README and docs/ (in fenced code blocks) is a command the
// current `kat` accepts: each is run with KAT_CHECK_ARGS=1, which parses the arguments (options,
// subcommands, their values) and stops. A renamed option or a changed argument order fails here.
#include <doctest/doctest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "tests/train/train_test_util.h"

using kat::test::run_command;

namespace {

struct Quoted {
  std::string where;    // FILE:LINE
  std::string command;  // from `kat` on, without comments, redirections or a launcher
};

std::vector<std::string> words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The part of a pipeline's command after `kat` ("" when it is not a kat command): leading VAR=value
// words and an `mpirun -np N` launcher are skipped, shell redirections dropped (the files need not
// exist to check the arguments), and a line of output such as "kat train: ..." is not a command.
std::string kat_arguments(const std::string& command) {
  const auto w = words(command);
  std::size_t i = 0;
  while (i < w.size() && w[i].find('=') != std::string::npos && std::isupper(static_cast<unsigned char>(w[i][0]))) ++i;
  if (i + 2 < w.size() && w[i] == "mpirun" && w[i + 1] == "-np") i += 3;
  if (i >= w.size() || w[i] != "kat" || i + 1 >= w.size() || w[i + 1].back() == ':') return "";
  std::string out;
  for (std::size_t k = i + 1; k < w.size(); ++k) {
    if (w[k] == "<" || w[k] == ">") {
      ++k;  // and its file
      continue;
    }
    out += (out.empty() ? "" : " ") + w[k];
  }
  return out;
}

// One command line of a code block, cut into the kat commands of its pipeline.
std::vector<std::string> kat_commands(std::string line) {
  // A comment: " #" (the docs' commands quote no '#').
  if (const auto hash = line.find(" #"); hash != std::string::npos) line.resize(hash);
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= line.size()) {
    const std::size_t bar = std::min(line.find(" | ", start), line.size());
    if (auto args = kat_arguments(line.substr(start, bar - start)); !args.empty()) out.push_back(args);
    start = bar + 3;
  }
  return out;
}

std::vector<Quoted> quoted_commands() {
  std::vector<std::string> files = {"README.md", "data/README.md"};
  for (const auto& entry : std::filesystem::directory_iterator(std::string(KAT_SOURCE_DIR) + "/docs")) {
    if (entry.path().extension() == ".md") files.push_back("docs/" + entry.path().filename().string());
  }
  std::vector<Quoted> out;
  for (const auto& file : files) {
    std::ifstream in(std::string(KAT_SOURCE_DIR) + "/" + file);
    bool block = false;
    int n = 0;
    for (std::string line; std::getline(in, line);) {
      ++n;
      if (line.rfind("```", 0) == 0) {
        block = !block;
        continue;
      }
      if (!block) continue;
      for (auto& c : kat_commands(line)) out.push_back({file + ":" + std::to_string(n), c});
    }
  }
  return out;
}

}  // namespace

TEST_CASE("docs: every kat command quoted in the README and docs/ is one kat accepts") {
  const auto commands = quoted_commands();
  CHECK(commands.size() >= 25);  // the README alone quotes 15
  for (const auto& q : commands) {
    CAPTURE(q.where);
    CAPTURE(q.command);
    const auto r = run_command("cd " + std::string(KAT_SOURCE_DIR) + " && KAT_CHECK_ARGS=1 " + KAT_BINARY + " " +
                               q.command + " </dev/null");
    CHECK_MESSAGE(r.exit_code == 0, r.output);
  }
  // The check can fail: an option kat does not have.
  const auto bad = run_command(std::string("KAT_CHECK_ARGS=1 ") + KAT_BINARY + " eval runs/x --no-such-option");
  CHECK(bad.exit_code == 2);
  const auto old_bleu = run_command(std::string("KAT_CHECK_ARGS=1 ") + KAT_BINARY + " bleu ref.txt -tok nosuch");
  CHECK(old_bleu.exit_code == 2);
}
