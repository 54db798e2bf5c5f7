#pragma once
// metrics.jsonl: one flat JSON object per line, appended as training goes. Training records carry
// step, epoch, train_loss, lr, grad_norm, tokens_per_s, wall_time, peak_rss_mb; validation records
// carry step, val_loss, val_ppl, bleu (translation), wall_time, peak_rss_mb. `kat plot` reads them
// back.

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kat {

using MetricsRecord = std::vector<std::pair<std::string, double>>;

class MetricsLog {
 public:
  explicit MetricsLog(std::string path);
  // Writes one line; non-finite values are written as null. Flushed at once.
  void append(const MetricsRecord& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

// Drops the records after `step` (a resumed run continues from its checkpoint's step).
void truncate_metrics(const std::string& path, std::int64_t step);

// Reads every record of a metrics.jsonl; null values read as NaN. Lines that are not flat JSON
// objects of numbers throw kat::Error naming the file and line.
std::vector<std::map<std::string, double>> read_metrics(const std::string& path);

// The process's peak resident set size in MiB.
double peak_rss_mb();

// "3h 02m", "4m 05s", "12s".
std::string format_duration(double seconds);

}  // namespace kat
