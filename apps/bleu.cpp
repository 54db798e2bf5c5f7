// `kat bleu REF... [-i HYP]`: corpus BLEU and chrF of a system's output against one or more
// references, with sacreBLEU 2.x's command line, scores and output (docs/bleu.md). The hypotheses
// come from -i FILE or standard input. Scores go to standard output; messages to standard error
// (bad arguments and input throw kat::Error, which the command line reports with exit code 2).
//
// sacreBLEU spells several options with one dash and several letters (-tok, -lc, -cw), which
// CLI11 reads as bundled one-letter flags, so this command takes its arguments whole from CLI11
// and reads them itself.

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apps/commands.h"
#include "core/error.h"
#include "data/text_io.h"
#include "train/metrics/bleu.h"
#include "train/metrics/chrf.h"
#include "train/metrics/report.h"
#include "train/metrics/text.h"

namespace kat::cli {
namespace {

constexpr std::string_view kUsage = "kat bleu REF [REF...] [-i HYP] [options]";

constexpr std::string_view kHelp = R"(Usage: kat bleu REF [REF...] [-i HYP] [options]

Corpus BLEU and chrF of a system's output against references, as sacreBLEU 2.x computes and prints
them. References come first (one or more files, one sentence a line, line-aligned with the
hypotheses); the hypotheses come from -i HYP, or from standard input without -i ("-" also names it).
Signatures end with version:kat-<version>. Scores go to standard output, messages to standard error.

Input and output:
  -i, --input FILE           hypotheses (default: standard input)
  -nr, --num-refs N          each reference line holds N references separated by tabs (one file)
  -m, --metrics M [M]        bleu, chrf or both (default: bleu chrf)
  -f, --format json|text     output format (default: json, as sacreBLEU; SACREBLEU_FORMAT overrides it)
  -w, --width N              decimals of the scores (default: 1)
  -b, --score-only           print the scores only
  -sh, --short               abbreviated signature keys (text format)
  -q, --quiet                accepted for sacreBLEU's sake: kat bleu prints no progress messages
BLEU:
  -tok, --tokenize T         13a (default), intl, char or none
  -lc, --lowercase           case-insensitive BLEU
  -s, --smooth-method S      exp (default), floor, add-k or none
  -sv, --smooth-value X      for floor (default 0.1) and add-k (default 1)
  --force                    no warning when the hypotheses look tokenized
chrF:
  -cc, --chrf-char-order N   character n-gram order (default: 6)
  -cw, --chrf-word-order N   word n-gram order (default: 0; 2 gives chrF++)
  --chrf-beta N              weight of recall against precision (default: 2)
  --chrf-whitespace          keep white space in the character n-grams
  --chrf-lowercase           case-insensitive chrF
  --chrf-eps-smoothing       chrF++.py's epsilon smoothing instead of the effective order
)";

struct BleuArgs {
  std::vector<std::string> references;
  std::optional<std::string> input;
  bool bleu = true, chrf = true;
  int num_refs = 1;
  bool force = false, help = false;
  BleuOptions bleu_options;
  ChrfOptions chrf_options;
  ReportFormat format;
};

int parse_int(std::string_view option, const std::string& value, int lo, int hi) {
  int v = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc{} || end != value.data() + value.size() || v < lo || v > hi) {
    throw Error(fmt::format("kat bleu: {} expects an integer from {} to {}, got '{}'", option, lo, hi, value));
  }
  return v;
}

double parse_double(std::string_view option, const std::string& value) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size()) {
    throw Error(fmt::format("kat bleu: {} expects a number, got '{}'", option, value));
  }
  return v;
}

bool is_metric(std::string_view s) { return s == "bleu" || s == "chrf" || s == "ter"; }

BleuArgs parse_args(const std::vector<std::string>& args) {
  BleuArgs a;
  std::vector<std::string> metrics;
  bool positional_only = false;  // after "--"
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::optional<std::string> attached;  // --name=value
    if (!positional_only && arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      attached = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    auto is = [&](std::initializer_list<std::string_view> names) {
      for (std::string_view n : names) {
        if (arg == n) return true;
      }
      return false;
    };
    auto value = [&]() -> std::string {
      if (attached) return *attached;
      if (i + 1 >= args.size()) throw Error(fmt::format("kat bleu: {} expects a value", arg));
      return args[++i];
    };
    auto flag = [&]() {
      if (attached) throw Error(fmt::format("kat bleu: {} takes no value", arg));
      return true;
    };
    if (positional_only || arg == "-" || arg.empty() || arg[0] != '-') {
      if (a.input) {
        throw Error(
            fmt::format("kat bleu: '{}' after -i: the references come before -i, and -i takes one hypothesis file ({})",
                        arg, kUsage));
      }
      a.references.push_back(arg);
    } else if (arg == "--") {
      positional_only = true;
    } else if (is({"-h", "--help"})) {
      a.help = flag();
    } else if (is({"-i", "--input"})) {
      if (a.input) throw Error("kat bleu: -i given twice: kat bleu scores one hypothesis file");
      a.input = value();
    } else if (is({"-m", "--metrics"})) {
      if (attached) metrics.push_back(*attached);
      while (!attached && i + 1 < args.size() && is_metric(args[i + 1])) metrics.push_back(args[++i]);
      if (metrics.empty()) throw Error("kat bleu: -m expects bleu, chrf or both");
    } else if (is({"-nr", "--num-refs"})) {
      a.num_refs = parse_int(arg, value(), 1, 1000);
    } else if (is({"-f", "--format"})) {
      const std::string f = value();
      if (f != "json" && f != "text" && f != "latex") {
        throw Error(fmt::format("kat bleu: --format expects json or text, got '{}'", f));
      }
      // latex is text for one system, as in sacreBLEU (it only makes tables of several)
      a.format.json = f == "json";
    } else if (is({"-w", "--width"})) {
      a.format.width = parse_int(arg, value(), 0, 16);
    } else if (is({"-b", "--score-only"})) {
      a.format.score_only = flag();
    } else if (is({"-sh", "--short"})) {
      a.format.short_signature = flag();
    } else if (is({"-q", "--quiet"})) {
      flag();
    } else if (is({"--threads"})) {
      parse_int(arg, value(), 1, 1024);  // kat's option, read here after `bleu`: scoring runs on one thread
    } else if (is({"-tok", "--tokenize"})) {
      a.bleu_options.tokenizer = tokenizer_from_name(value());
    } else if (is({"-lc", "--lowercase"})) {
      a.bleu_options.lowercase = flag();
    } else if (is({"-s", "--smooth-method"})) {
      a.bleu_options.smoothing = smoothing_from_name(value());
    } else if (is({"-sv", "--smooth-value"})) {
      a.bleu_options.smooth_value = parse_double(arg, value());
    } else if (is({"--force"})) {
      a.force = flag();
    } else if (is({"-cc", "--chrf-char-order"})) {
      a.chrf_options.char_order = parse_int(arg, value(), 0, 100);
    } else if (is({"-cw", "--chrf-word-order"})) {
      a.chrf_options.word_order = parse_int(arg, value(), 0, 100);
    } else if (is({"--chrf-beta"})) {
      a.chrf_options.beta = parse_int(arg, value(), 0, 1000);
    } else if (is({"--chrf-whitespace"})) {
      a.chrf_options.whitespace = flag();
    } else if (is({"--chrf-lowercase"})) {
      a.chrf_options.lowercase = flag();
    } else if (is({"--chrf-eps-smoothing"})) {
      a.chrf_options.eps_smoothing = flag();
    } else {
      throw Error(fmt::format("kat bleu: unknown option '{}' (kat bleu --help lists the options)", arg));
    }
  }
  if (!metrics.empty()) {
    a.bleu = a.chrf = false;
    for (const std::string& m : metrics) {
      if (m == "bleu") {
        a.bleu = true;
      } else if (m == "chrf") {
        a.chrf = true;
      } else {
        throw Error(fmt::format("kat bleu: metric '{}' is not available (bleu, chrf)", m));
      }
    }
  }
  // As sacreBLEU, the environment has the last word on the format.
  if (const char* env = std::getenv("SACREBLEU_FORMAT")) {
    std::string f = env;
    for (char& c : f) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (f == "json") a.format.json = true;
    if (f == "text" || f == "latex") a.format.json = false;  // latex differs from text for several systems only
  }
  return a;
}

// Lines as sacreBLEU reads them: without trailing white space.
std::vector<std::string> read_stripped(const std::string& path) {
  std::vector<std::string> lines = read_lines(path);
  for (std::string& line : lines) line.resize(unicode::rstrip(line).size());
  return lines;
}

// The reference sets: one per file, or num_refs per file's tab-separated lines.
std::vector<std::vector<std::string>> read_references(const BleuArgs& a) {
  if (a.num_refs == 1) {
    std::vector<std::vector<std::string>> sets;
    for (const std::string& path : a.references) sets.push_back(read_stripped(path));
    return sets;
  }
  if (a.references.size() != 1) {
    throw Error(fmt::format("kat bleu: --num-refs {} reads one file of tab-separated references, got {} files",
                            a.num_refs, a.references.size()));
  }
  const std::string& path = a.references.front();
  const std::vector<std::string> lines = read_stripped(path);
  std::vector<std::vector<std::string>> sets(static_cast<std::size_t>(a.num_refs));
  for (std::size_t line = 0; line < lines.size(); ++line) {
    // At most num_refs fields: tabs past the last separator stay in the last reference.
    std::vector<std::string> fields;
    std::size_t start = 0;
    while (fields.size() + 1 < sets.size()) {
      const std::size_t tab = lines[line].find('\t', start);
      if (tab == std::string::npos) break;
      fields.push_back(lines[line].substr(start, tab - start));
      start = tab + 1;
    }
    fields.push_back(lines[line].substr(start));
    if (fields.size() != sets.size()) {
      throw Error(fmt::format("{}:{}: {} tab-separated references, expected {} (--num-refs)", input_name(path),
                              line + 1, fields.size(), a.num_refs));
    }
    for (std::size_t k = 0; k < sets.size(); ++k) sets[k].push_back(std::move(fields[k]));
  }
  return sets;
}

// Scores, or throws kat::Error for bad arguments or input.
std::string run(const BleuArgs& a) {
  if (a.references.empty()) {
    throw Error(fmt::format("kat bleu: no reference file ({}; kat bleu --help)", kUsage));
  }
  const std::string hyp_path = a.input.value_or("-");
  if (!a.input && ::isatty(STDIN_FILENO)) {
    throw Error(fmt::format(
        "kat bleu: no hypotheses: give them with -i HYP or on standard input.\n"
        "  Usage, as sacreBLEU's: {}   or   {} < HYP\n"
        "  The references come first; the former order 'kat bleu HYP REF' now reads as two reference files.",
        kUsage, "kat bleu REF [REF...]"));
  }
  int stdin_uses = hyp_path == "-" ? 1 : 0;
  for (const std::string& r : a.references) stdin_uses += r == "-" ? 1 : 0;
  if (stdin_uses > 1) throw Error("kat bleu: standard input ('-') can give one input only");

  const std::vector<std::vector<std::string>> refs = read_references(a);
  const std::vector<std::string> hyps = read_stripped(hyp_path);
  if (hyps.empty()) {
    throw Error(
        fmt::format("{}: no hypotheses (the input is empty). Usage: {}: the references come first, the "
                    "hypotheses from -i or standard input",
                    input_name(hyp_path), kUsage));
  }
  for (std::size_t k = 0; k < refs.size(); ++k) {
    if (refs[k].size() != hyps.size()) {
      const std::string ref_name =
          a.num_refs > 1 ? fmt::format("{} (references {} of each line)", input_name(a.references.front()), k + 1)
                         : input_name(a.references[k]);
      throw Error(fmt::format("{} has {} lines but {} has {}: one reference per hypothesis line", input_name(hyp_path),
                              hyps.size(), ref_name, refs[k].size()));
    }
  }

  std::vector<MetricReport> reports;
  if (a.bleu) {
    if (!a.force) {
      std::size_t tokenized = 0;
      for (const std::string& h : hyps) tokenized += h.ends_with(" .") ? 1 : 0;
      if (tokenized >= 100) {
        std::fprintf(stderr,
                     "kat bleu: warning: %zu hypotheses end with a detached period (' .'): if they are tokenized, "
                     "detokenize them, as BLEU tokenizes itself (--force silences this)\n",
                     tokenized);
      }
    }
    reports.push_back(bleu_report(corpus_bleu(hyps, refs, a.bleu_options), a.bleu_options, refs.size()));
  }
  if (a.chrf) {
    reports.push_back(chrf_report(corpus_chrf(hyps, refs, a.chrf_options), a.chrf_options, refs.size()));
  }
  return format_reports(reports, a.format);
}

int run_bleu(const std::vector<std::string>& args) {
  const BleuArgs a = parse_args(args);
  if (checking_arguments_only()) return 0;
  if (a.help) {
    std::fwrite(kHelp.data(), 1, kHelp.size(), stdout);
    return 0;
  }
  const std::string out = run(a);
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    throw SystemError("kat bleu: cannot write the scores to standard output");
  }
  return 0;
}

}  // namespace

Runner add_bleu(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "bleu", "sacreBLEU-compatible corpus BLEU and chrF: kat bleu REF [REF...] [-i HYP] (kat bleu --help)");
  // Everything after `bleu` is read by parse_args, including -h/--help and kat's --threads.
  cmd->prefix_command();
  cmd->fallthrough(false);
  cmd->set_help_flag();
  return [cmd] { return run_bleu(cmd->remaining()); };
}

}  // namespace kat::cli
