#include "train/run_folder/run_log.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace kat {

std::string metrics_line(const MetricsRecord& record) {
  nlohmann::ordered_json line = nlohmann::ordered_json::object();
  for (const auto& [key, v] : record) {
    if (std::isfinite(v) && v == std::trunc(v) && std::abs(v) < 9.0e15) {
      line[key] = static_cast<std::int64_t>(v);  // steps and counts read as integers
    } else if (std::isfinite(v)) {
      line[key] = v;
    } else {
      line[key] = nullptr;
    }
  }
  return line.dump();
}

namespace {

// One flat JSON object of numbers (or null, read as NaN); false on anything else.
bool parse_record(const std::string& line, std::map<std::string, double>& out) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  for (const auto& [key, value] : j.items()) {
    if (value.is_null()) {
      out[key] = std::nan("");
    } else if (value.is_number()) {
      out[key] = value.get<double>();
    } else {
      return false;
    }
  }
  return true;
}

// Calls fn(line number, line, whether it ended with '\n') for each line of `text` that is not blank;
// stops early when fn returns false.
template <typename Fn>
void for_each_record_line(const std::string& text, Fn&& fn) {
  std::size_t start = 0;
  for (int n = 1; start < text.size(); ++n) {
    std::size_t end = text.find('\n', start);
    const bool complete = end != std::string::npos;
    if (!complete) end = text.size();
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!fn(n, line, complete)) return;
  }
}

}  // namespace

std::string truncate_metrics(const Dir& run, const std::string& name, std::int64_t step) {
  if (!run.exists(name)) return "";
  const std::string text = run.read(name);
  std::string kept;
  std::vector<std::string> unreadable;
  for_each_record_line(text, [&](int n, const std::string& line, bool complete) {
    std::map<std::string, double> r;
    if (!parse_record(line, r)) {
      unreadable.push_back(fmt::format("line {}{}", n, complete ? "" : " (cut off)"));
    } else if (!(r.count("step") && r["step"] > static_cast<double>(step))) {
      kept += line + "\n";
    }
    return true;
  });
  if (kept.size() != text.size()) run.write_atomic(name, kept);
  if (unreadable.empty()) return "";
  return fmt::format("{}: dropped {} unreadable line{} ({})", run.file(name), unreadable.size(),
                     unreadable.size() == 1 ? "" : "s", fmt::join(unreadable, ", "));
}

std::vector<std::map<std::string, double>> read_metrics(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read the metrics file", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::map<std::string, double>> out;
  for_each_record_line(text, [&](int n, const std::string& line, bool complete) {
    std::map<std::string, double> r;
    if (!parse_record(line, r)) {
      if (!complete) return false;  // still being written, or cut off by a kill
      throw Error(fmt::format("{}:{}: not a flat JSON object of numbers", path, n));
    }
    out.push_back(std::move(r));
    return true;
  });
  return out;
}

void RunLogSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  file_.append(std::string_view(formatted.data(), formatted.size()));
}

void RunLogSink::flush_pending() {
  std::lock_guard<std::mutex> lock(mutex_);
  file_.flush();
}

bool RunLogSink::pending() {
  std::lock_guard<std::mutex> lock(mutex_);
  return file_.pending();
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
