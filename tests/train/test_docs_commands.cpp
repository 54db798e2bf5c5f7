// Every `kat` command quoted in the README and docs/ (in fenced code blocks) is a command the
// current `kat` accepts: each is run with KAT_CHECK_ARGS=1, which parses the arguments (options,
// subcommands, their values) and stops. A renamed option or a changed argument order fails here.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <vector>

#include "tests/train/train_test_util.h"

using kat::test::run_command;

namespace {

struct Quoted {
  std::string where;    // FILE:LINE
  std::string command;  // from `kat` on, without comments, redirections or a launcher
};

// One command line of a code block, cut into the kat commands of its pipeline.
std::vector<std::string> kat_commands(std::string line) {
  // A comment: " #" outside quotes (the docs' commands quote no '#').
  if (const auto hash = line.find(" #"); hash != std::string::npos) line.resize(hash);
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= line.size()) {
    const std::size_t bar = std::min(line.find(" | ", start), line.size());
    std::string part = line.substr(start, bar - start);
    start = bar + 3;
    // Redirections of the shell: the files need not exist to check the arguments.
    part = std::regex_replace(part, std::regex(R"(\s[<>]\s*\S+)"), "");
    std::smatch m;
    if (std::regex_match(part, m, std::regex(R"(^\s*(?:[A-Z_]+=\S+\s+)*(?:mpirun\s+-np\s+\d+\s+)?kat\s+(.*)$)")) &&
        !std::regex_search(part, std::regex(R"(^\s*kat\s+[a-z]+:)"))) {  // "kat train: ..." is output
      out.push_back(m[1].str());
    }
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
