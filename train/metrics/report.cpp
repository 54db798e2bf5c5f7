#include "train/metrics/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

namespace kat {

MetricReport bleu_report(const BleuScore& score, const BleuOptions& options, std::size_t references) {
  return {"BLEU", score.score, score.verbose(), bleu_signature(options, references)};
}

MetricReport chrf_report(const ChrfScore& score, const ChrfOptions& options, std::size_t references) {
  return {score.name(), score.score, "", chrf_signature(options, references)};
}

std::string format_reports(const std::vector<MetricReport>& reports, const ReportFormat& format) {
  std::vector<std::string> entries;
  for (const MetricReport& r : reports) {
    const std::string score = fmt::format("{:.{}f}", r.score, std::max(format.width, 0));
    if (format.score_only) {
      entries.push_back(score);
    } else if (format.json) {
      nlohmann::ordered_json j;
      j["name"] = r.name;
      j["score"] = std::stod(score);  // the printed digits, as a number
      j["signature"] = r.signature.format();
      if (!r.verbose.empty()) j["verbose_score"] = r.verbose;
      for (const SignatureField& f : r.signature.fields) j[f.key] = f.value;
      entries.push_back(j.dump(1));
    } else {
      std::string line = fmt::format("{}|{} = {}", r.name, r.signature.format(format.short_signature), score);
      if (!r.verbose.empty()) line += " " + r.verbose;
      entries.push_back(std::move(line));
    }
  }
  std::string out;
  if (format.json && entries.size() > 1) {
    out = "[\n";
    for (std::size_t i = 0; i < entries.size(); ++i) out += entries[i] + (i + 1 < entries.size() ? ",\n" : "\n");
    return out + "]\n";
  }
  if (!format.json && !format.score_only && entries.size() > 1) {
    // Right-aligned on the " = " that follows each name and signature (all ASCII).
    std::size_t width = 0;
    for (const std::string& e : entries) width = std::max(width, e.find(" = "));
    for (const std::string& e : entries) out += std::string(width - e.find(" = "), ' ') + e + "\n";
    return out;
  }
  for (const std::string& e : entries) out += e + "\n";
  return out;
}

}  // namespace kat
