// `kat bleu` as a user runs it: references first, hypotheses from -i or standard input, sacreBLEU's
// text and JSON output on standard output alone, and errors that name the file, with exit code 2.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/train/train_test_util.h"
#include "train/metrics/signature.h"

using namespace kat;
using namespace kat::test;

namespace {

struct Run {
  int exit_code = -1;
  std::string out, err;  // standard output and standard error apart
};

// Runs `kat bleu ARGS` with standard input from `input` (a file, or /dev/null) and standard error
// into a file of the scratch folder, so standard output holds what kat wrote there and nothing else.
Run kat_bleu(const ScratchDir& dir, const std::string& args, const std::string& input = "/dev/null") {
  const std::string err = dir.file("stderr.txt");
  // Without SACREBLEU_FORMAT, which would override -f as it does for sacreBLEU.
  const std::string command =
      fmt::format("env -u SACREBLEU_FORMAT {} bleu {} <'{}' 2>'{}'", KAT_BINARY, args, input, err);
  Run r;
  FILE* p = ::popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = read_file(err);
  return r;
}

// The README example of sacreBLEU: BLEU 48.53 and chrF2 59.73 against both reference files.
struct Corpus {
  ScratchDir dir{"bleu-cli"};
  std::string hyp =
      write_file(dir.file("hyp.txt"), "The dog bit the man.\nIt wasn't surprising.\nThe man had just bitten him.\n");
  std::string ref1 =
      write_file(dir.file("ref1.txt"), "The dog bit the man.\nIt was not unexpected.\nThe man bit him first.\n");
  std::string ref2 = write_file(dir.file("ref2.txt"),
                                "The dog had bit the man.\nNo one was surprised.\nThe man had bitten the dog.\n");
};

std::string in_quotes(const std::string& path) { return "'" + path + "'"; }

}  // namespace

TEST_CASE("kat bleu: hypotheses on standard input or with -i, several references, text output") {
  Corpus c;
  const std::string v = signature_version();
  const std::string refs = in_quotes(c.ref1) + " " + in_quotes(c.ref2);
  const Run in = kat_bleu(c.dir, refs + " -f text", c.hyp);
  CHECK(in.exit_code == 0);
  CHECK(in.err.empty());
  CHECK(in.out == "  BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:" + v +
                      " = 48.5 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)\n"
                      "chrF2|nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" +
                      v + " = 59.7\n");
  // -i FILE and -i - read the same hypotheses.
  const Run file = kat_bleu(c.dir, refs + " -f text -i " + in_quotes(c.hyp));
  CHECK(file.exit_code == 0);
  CHECK(file.out == in.out);
  const Run dash = kat_bleu(c.dir, refs + " -f text -i -", c.hyp);
  CHECK(dash.out == in.out);
  // One reference, BLEU only, two decimals; chrF++ alone with sacreBLEU's short signature keys.
  const Run one = kat_bleu(c.dir, in_quotes(c.ref1) + " -i " + in_quotes(c.hyp) + " -m bleu -f text -w 2");
  CHECK(one.out == "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" + v +
                       " = 45.07 70.6/42.9/36.4/37.5 (BP = 1.000 ratio = 1.000 hyp_len = 17 ref_len = 17)\n");
  const Run pp = kat_bleu(c.dir, refs + " -i " + in_quotes(c.hyp) + " -m chrf -cw 2 -f text -sh");
  CHECK(pp.out == "chrF2++|#:2|c:mixed|e:yes|nc:6|nw:2|s:no|v:" + v + " = 59.2\n");
  // sacreBLEU's single-dash options and the score alone.
  const Run opts = kat_bleu(c.dir, refs + " -i " + in_quotes(c.hyp) + " -tok intl -lc -b -w 3 -f text");
  CHECK(opts.exit_code == 0);
  CHECK(opts.out == "43.916\n59.728\n");
}

TEST_CASE("kat bleu: JSON output parses and holds the scores and signatures") {
  Corpus c;
  const Run r = kat_bleu(c.dir, in_quotes(c.ref1) + " " + in_quotes(c.ref2) + " -i " + in_quotes(c.hyp) + " -w 4");
  REQUIRE(r.exit_code == 0);
  CHECK(r.err.empty());
  const nlohmann::json j = nlohmann::json::parse(r.out);  // standard output is the JSON and nothing else
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 2);
  CHECK(j[0]["name"] == "BLEU");
  CHECK(j[0]["score"].get<double>() == doctest::Approx(48.5308));
  CHECK(j[0]["signature"] == "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:" + signature_version());
  CHECK(j[0]["verbose_score"] == "82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
  CHECK(j[0]["nrefs"] == "2");
  CHECK(j[0]["tok"] == "13a");
  CHECK(j[0]["version"] == signature_version());
  CHECK(j[1]["name"] == "chrF2");
  CHECK(j[1]["score"].get<double>() == doctest::Approx(59.7275));
  CHECK(j[1]["nc"] == "6");
  CHECK_FALSE(j[1].contains("verbose_score"));
  // One metric: an object rather than a list.
  const Run one = kat_bleu(c.dir, in_quotes(c.ref1) + " -m chrf", c.hyp);
  const nlohmann::json o = nlohmann::json::parse(one.out);
  CHECK(o.is_object());
  CHECK(o["score"].get<double>() == doctest::Approx(50.0));
  CHECK(o["signature"] == "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" + signature_version());
}

TEST_CASE("kat bleu: bad input exits 2 with a message on standard error naming the file") {
  Corpus c;
  const std::string short_ref = write_file(c.dir.file("short.txt"), "The dog bit the man.\n");
  const Run mismatch = kat_bleu(c.dir, in_quotes(short_ref) + " -i " + in_quotes(c.hyp));
  CHECK(mismatch.exit_code == 2);
  CHECK(mismatch.out.empty());
  CHECK(mismatch.err.find(c.hyp + " has 3 lines but " + short_ref + " has 1") != std::string::npos);

  const std::string bad = write_file(c.dir.file("bad.txt"), "a\nb\xff\nc\n");
  const Run utf8 = kat_bleu(c.dir, in_quotes(bad) + " -i " + in_quotes(c.hyp));
  CHECK(utf8.exit_code == 2);
  CHECK(utf8.out.empty());
  CHECK(utf8.err.find(bad + ":2: invalid UTF-8") != std::string::npos);

  const Run missing = kat_bleu(c.dir, in_quotes(c.dir.file("none.txt")) + " -i " + in_quotes(c.hyp));
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find(c.dir.file("none.txt")) != std::string::npos);

  // The former order `kat bleu HYP REF` reads two references and empty standard input here.
  const Run old = kat_bleu(c.dir, in_quotes(c.hyp) + " " + in_quotes(c.ref1));
  CHECK(old.exit_code == 2);
  CHECK(old.out.empty());
  CHECK(old.err.find("standard input: no hypotheses") != std::string::npos);
  CHECK(old.err.find("references come first") != std::string::npos);

  // Without -i, a terminal as standard input is refused with the usage (util-linux `script` gives
  // the command a terminal).
  if (std::filesystem::exists("/usr/bin/script")) {
    const std::string command =
        fmt::format("/usr/bin/script -qec \"{} bleu '{}'\" /dev/null </dev/null 2>&1", KAT_BINARY, c.ref1);
    const CommandResult terminal = run_command(command);
    CHECK(terminal.exit_code == 2);
    CHECK(terminal.output.find("former order 'kat bleu HYP REF'") != std::string::npos);
  } else {
    MESSAGE("no /usr/bin/script: the terminal case is not run");
  }

  // A file after -i, a second standard input, an unknown option or tokenizer.
  CHECK(kat_bleu(c.dir, "-i " + in_quotes(c.hyp) + " " + in_quotes(c.ref1)).err.find("references come before -i") !=
        std::string::npos);
  CHECK(kat_bleu(c.dir, "- -i -", c.hyp).exit_code == 2);
  const Run unknown = kat_bleu(c.dir, in_quotes(c.ref1) + " -i " + in_quotes(c.hyp) + " --bogus");
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown option '--bogus'") != std::string::npos);
  CHECK(kat_bleu(c.dir, in_quotes(c.ref1) + " -i " + in_quotes(c.hyp) + " -tok zh").err.find("choose 13a, intl") !=
        std::string::npos);
}

TEST_CASE("kat bleu: --help on standard output, the tokenized-text warning on standard error") {
  Corpus c;
  const Run help = kat_bleu(c.dir, "--help");
  CHECK(help.exit_code == 0);
  CHECK(help.out.find("Usage: kat bleu REF [REF...] [-i HYP]") != std::string::npos);

  std::string tokenized;
  for (int i = 0; i < 100; ++i) tokenized += "the cat sat on the mat .\n";
  const std::string t = write_file(c.dir.file("tokenized.txt"), tokenized);
  const Run warned = kat_bleu(c.dir, in_quotes(t) + " -i " + in_quotes(t));
  CHECK(warned.exit_code == 0);
  CHECK(warned.err.find("100 hypotheses end with a detached period") != std::string::npos);
  CHECK(nlohmann::json::parse(warned.out)[0]["score"].get<double>() == doctest::Approx(100.0));
  CHECK(kat_bleu(c.dir, in_quotes(t) + " -i " + in_quotes(t) + " --force").err.empty());
}
