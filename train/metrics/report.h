#pragma once
// Scores printed as sacreBLEU 2.x prints them for one system, in text or JSON.
//
// Text, one line per metric, the lines right-aligned on their '=':
//   BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:kat-0.1.0 = 35.4 75.0/33.3/25.0/25.0 (BP = ...)
// JSON (Python's json.dumps with indent=1), a list when there are several metrics:
//   {"name": "BLEU", "score": 35.4, "signature": "...", "verbose_score": "75.0/33.3/...", "nrefs": "1", ...}
// with one key per signature field after the others.

#include <string>
#include <vector>

#include "train/metrics/bleu.h"
#include "train/metrics/chrf.h"
#include "train/metrics/signature.h"

namespace kat {

struct MetricReport {
  std::string name;  // "BLEU", "chrF2++"
  double score = 0.0;
  std::string verbose;  // printed after the score; BLEU's precisions and lengths, empty for chrF
  Signature signature;
};

MetricReport bleu_report(const BleuScore& score, const BleuOptions& options, std::size_t references);
MetricReport chrf_report(const ChrfScore& score, const ChrfOptions& options, std::size_t references);

struct ReportFormat {
  bool json = true;
  int width = 1;                 // decimals of the score (sacreBLEU's --width)
  bool score_only = false;       // only the scores, one a line (--score-only)
  bool short_signature = false;  // abbreviated keys in text (--short); JSON keeps the full ones
};

// The reports in that format, ending with a newline.
std::string format_reports(const std::vector<MetricReport>& reports, const ReportFormat& format);

}  // namespace kat
