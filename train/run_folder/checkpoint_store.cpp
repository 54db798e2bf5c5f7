#include "train/run_folder/checkpoint_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace kat {

namespace fs = std::filesystem;

CheckpointStore::CheckpointStore(std::string dir, std::int64_t keep_last)
    : dir_(Dir::open(dir, true)), keep_last_(keep_last) {
  if (keep_last_ < 1) throw Error(fmt::format("checkpoints: keep_last must be >= 1, got {}", keep_last_));
}

std::string CheckpointStore::step_path(std::int64_t step) const {
  return dir_.file(fmt::format("step-{:08d}.h5", step));
}

std::vector<std::string> CheckpointStore::step_files() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_.path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step-", 0) == 0 && entry.path().extension() == ".h5") out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());  // zero-padded steps sort by number
  return out;
}

void CheckpointStore::point(const std::string& name, const std::string& target) {
  // A new hard link under a temporary name, renamed over the old one: atomic on POSIX. Where hard
  // links are not supported, a copy takes its place.
  const std::string tmp = name + ".tmp";
  try {
    if (!dir_.link(target, tmp)) dir_.write_new(tmp, dir_.read(target));
    dir_.rename(tmp, name);
  } catch (const SystemError& e) {
    dir_.remove(tmp);
    throw SystemError(fmt::format("checkpoints: cannot point {} at {}: {}", dir_.file(name), target, e.what()));
  }
}

std::string CheckpointStore::save(const Checkpoint& c, bool best) {
  const std::string name = fmt::format("step-{:08d}.h5", c.progress.step);
  write_checkpoint(dir_, name, c);
  point("last.h5", name);
  if (best) point("best.h5", name);
  auto files = step_files();
  while (static_cast<std::int64_t>(files.size()) > keep_last_) {
    try {
      dir_.remove(fs::path(files.front()).filename().string());  // last.h5 and best.h5 are links of their own
    } catch (const SystemError&) {
      // An old step file that cannot be removed costs disk space, not a checkpoint.
    }
    files.erase(files.begin());
  }
  return dir_.file(name);
}

}  // namespace kat
