#pragma once
// Checkpoints: one HDF5 file holds everything a run needs to continue exactly (layout documented in
// docs/checkpoints.md, readable with h5py):
//
//   /                     attrs format = "kat-checkpoint", format_version, config (resolved YAML),
//                         kat_version, blas_kernels (the OpenBLAS kernel family that trained it),
//                         strings_checksum, complete = 1 (written last)
//   /trainer              attrs step, epoch, tokens, wall_seconds, best_valid_loss, best_step,
//                         validations_since_best, bad_steps_in_row
//   /model/...            every tensor of the model's state_dict, its dotted name as groups
//                         (decoder/layers/0/self_attn/q_proj/weight); generator states are int64 (4)
//   /optimizer            attrs kind, steps; /optimizer/slots/<parameter path>/<slot> datasets
//   /distill_optimizer    as /optimizer, for the feature maps' optimizer of train.distill_attention
//                         (only in runs that distil)
//   /schedule             attrs type, lr, warmup, total_steps, min_lr
//   /data                 attrs kind; dataset train_state (int64): the BatchSource position
//
// Every dataset carries a `checksum` attribute (FNV-1a 64 of its little-endian bytes) and chunked
// ones also HDF5's Fletcher-32 filter, so a corrupted tensor is detected when read. A file is built
// in memory, written to a temporary name, flushed to disk and renamed: a crash never leaves a
// half-written file under the final name, and a failed write (a full disk) leaves the old one.

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/os/files.h"
#include "core/tensor.h"
#include "optim/optimizer.h"

namespace kat {

inline constexpr std::int64_t kCheckpointFormatVersion = 1;

// The trainer's counters that a resumed run continues from.
struct TrainerProgress {
  std::int64_t step = 0;    // steps done (skipped steps included)
  std::int64_t epoch = 0;   // epochs of the training stream completed
  std::int64_t tokens = 0;  // target tokens trained on
  double wall_seconds = 0.0;
  // Seconds spent in training steps alone (validation and checkpoints left out): what
  // train.time_budget counts. Checkpoints written before it existed read it as wall_seconds.
  double train_seconds = 0.0;
  double best_valid_loss = std::numeric_limits<double>::infinity();
  std::int64_t best_step = 0;
  std::int64_t validations_since_best = 0;
  std::int64_t bad_steps_in_row = 0;
};

struct ScheduleRecord {
  std::string type;
  double lr = 0.0;
  std::int64_t warmup = 0;
  std::int64_t total_steps = 0;
  double min_lr = 0.0;
};

struct Checkpoint {
  TrainerProgress progress;
  std::map<std::string, Tensor> model;  // Module::state_dict()
  OptimizerState optimizer;
  OptimizerState distill_optimizer;  // train.distill_attention's; kind "" when the run has none
  ScheduleRecord schedule;
  std::string data_kind;
  std::vector<std::int64_t> data_state;  // BatchSource::state()
  std::string config;                    // the resolved experiment (YAML)
  std::string blas_kernels;              // OpenBLAS's kernel family ("" in files written before it)
};

// Writes `c` to `name` in `dir` through a new temporary file (created with O_EXCL | O_NOFOLLOW,
// never through a link planted at its name), forced to the disk and renamed into place. Throws
// kat::SystemError naming the file and the system's reason on failure (the temporary file is
// removed; a file already at `name` is untouched).
void write_checkpoint(const Dir& dir, const std::string& name, const Checkpoint& c);
// The same for a path (its folder opened for the write).
void write_checkpoint(const std::string& path, const Checkpoint& c);

// Reads a checkpoint. A missing, truncated, corrupted or foreign file throws kat::Error naming the
// file and what is wrong; nothing is half-loaded.
Checkpoint read_checkpoint(const std::string& path);

}  // namespace kat
