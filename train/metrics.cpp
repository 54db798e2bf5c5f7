#include "train/metrics.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/error.h"

namespace kat {

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)), out_(path_, std::ios::app) {
  if (!out_) throw Error(fmt::format("metrics: cannot open {} for appending", path_));
}

void MetricsLog::append(const MetricsRecord& record) {
  std::string line = "{";
  for (std::size_t i = 0; i < record.size(); ++i) {
    const auto& [key, v] = record[i];
    line += fmt::format("{}\"{}\": {}", i ? ", " : "", key, std::isfinite(v) ? fmt::format("{}", v) : "null");
  }
  line += "}\n";
  out_ << line;
  out_.flush();
}

namespace {

// Parses one flat JSON object of numbers (or null); returns false on anything else.
bool parse_record(const std::string& line, std::map<std::string, double>& out) {
  std::size_t i = 0;
  auto skip = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  skip();
  if (i >= line.size() || line[i++] != '{') return false;
  skip();
  if (i < line.size() && line[i] == '}') return true;
  while (i < line.size()) {
    skip();
    if (line[i++] != '"') return false;
    const auto end = line.find('"', i);
    if (end == std::string::npos) return false;
    const std::string key = line.substr(i, end - i);
    i = end + 1;
    skip();
    if (i >= line.size() || line[i++] != ':') return false;
    skip();
    double v = 0;
    if (line.compare(i, 4, "null") == 0) {
      v = std::nan("");
      i += 4;
    } else {
      char* stop = nullptr;
      v = std::strtod(line.c_str() + i, &stop);
      if (stop == line.c_str() + i) return false;
      i = static_cast<std::size_t>(stop - line.c_str());
    }
    out[key] = v;
    skip();
    if (i >= line.size()) return false;
    if (line[i] == ',') {
      ++i;
      continue;
    }
    if (line[i] == '}') return true;
    return false;
  }
  return false;
}

}  // namespace

void truncate_metrics(const std::string& path, std::int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    std::map<std::string, double> r;
    if (parse_record(line, r) && r.count("step") && r["step"] > static_cast<double>(step)) continue;
    kept += line + "\n";
  }
  in.close();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << kept;
    out.close();
    if (!out) throw Error(fmt::format("metrics: cannot write {}", tmp));
  }
  std::filesystem::rename(tmp, path);
}

std::vector<std::map<std::string, double>> read_metrics(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(fmt::format("{}: cannot read the metrics file", path));
  std::vector<std::map<std::string, double>> out;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::map<std::string, double> r;
    if (!parse_record(line, r)) throw Error(fmt::format("{}:{}: not a flat JSON object of numbers", path, n));
    out.push_back(std::move(r));
  }
  return out;
}

double peak_rss_mb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<std::int64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h {:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m {:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace kat
