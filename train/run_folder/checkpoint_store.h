#pragma once
// The checkpoints/ folder of a run:
//   step-00000500.h5 ...  the last train.keep_last step checkpoints
//   last.h5               the newest checkpoint (a hard link to a step file, replaced atomically)
//   best.h5               the checkpoint with the best validation loss so far
// Each step file is written through a temporary name and renamed, and last.h5 and best.h5 are
// replaced by renaming a new link over them, so each name always holds a complete checkpoint.
// Every file is reached through the folder's descriptor and created new (kat::Dir): a symbolic
// link planted at any of these names is replaced, never written through.

#include <optional>
#include <string>
#include <vector>

#include "train/run_folder/checkpoint.h"

namespace kat {

class CheckpointStore {
 public:
  CheckpointStore(std::string dir, std::int64_t keep_last);

  // Writes the checkpoint of c.progress.step, points last.h5 (and best.h5 when best) at it, and
  // removes the oldest step files beyond keep_last. Returns the step file's path.
  std::string save(const Checkpoint& c, bool best);

  const std::string& dir() const { return dir_.path(); }
  std::string last_path() const { return dir_.file("last.h5"); }
  std::string best_path() const { return dir_.file("best.h5"); }
  std::string step_path(std::int64_t step) const;
  // Step files on disk, oldest first.
  std::vector<std::string> step_files() const;

 private:
  void point(const std::string& name, const std::string& target);

  Dir dir_;
  std::int64_t keep_last_;
};

}  // namespace kat
