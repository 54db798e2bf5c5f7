#pragma once
// The run folder's logs, written as training goes:
//  - metrics.jsonl: one flat JSON object per line. Training records carry step, epoch,
//    train_loss, lr, grad_norm, tokens_per_s, wall_time, peak_rss_mb; validation records carry
//    step, val_loss, val_ppl, bleu (translation), wall_time, peak_rss_mb. `kat plot` and
//    `kat compare` read them back.
//  - train.log: the log lines, through an spdlog sink.
// Both append through kat::AppendFile: a line the disk refuses waits in memory and is written
// first when there is room again, so neither file is left with a gap or a cut-off line; the
// trainer flushes both before each checkpoint and stops the run (naming the file) when it cannot.

#include <spdlog/sinks/base_sink.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/os/files.h"

namespace kat {

using MetricsRecord = std::vector<std::pair<std::string, double>>;

// `record` as one line of JSON (without its '\n'); non-finite values are written as null.
std::string metrics_line(const MetricsRecord& record);

class MetricsLog {
 public:
  MetricsLog(const Dir& run, const std::string& name = "metrics.jsonl") : file_(run, name) {}
  // Appends one line. Returns false when the disk refused it (it waits; see AppendFile).
  bool append(const MetricsRecord& record) { return file_.append(metrics_line(record) + "\n"); }
  AppendFile& file() { return file_; }

 private:
  AppendFile file_;
};

// Prepares metrics.jsonl of `run` for a run continuing from `step`: drops the records after it
// (steps that will run again) and any line that is not a record, such as a line cut off when a
// process was killed in the middle of writing it. Returns a note of the unreadable lines dropped
// ("" when there were none) for the log.
std::string truncate_metrics(const Dir& run, const std::string& name, std::int64_t step);

// Reads every record of a metrics.jsonl; null values read as NaN. A last line without its '\n'
// that does not parse is a line still being written (or cut off) and is skipped; any other line
// that is not a flat JSON object of numbers throws kat::Error naming the file and line.
std::vector<std::map<std::string, double>> read_metrics(const std::string& path);

// An spdlog sink appending formatted lines to a file of the run folder (train.log).
class RunLogSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  RunLogSink(const Dir& run, const std::string& name) : file_(run, name) {}
  // Writes what waits; throws kat::SystemError naming the file when it still cannot.
  void flush_pending();
  bool pending();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  AppendFile file_;
};

// The process's peak resident set size in MiB.
double peak_rss_mb();

// "3h 02m", "4m 05s", "12s".
std::string format_duration(double seconds);

}  // namespace kat
