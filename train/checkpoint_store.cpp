#include "train/checkpoint_store.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "core/error.h"

namespace kat {

namespace fs = std::filesystem;

CheckpointStore::CheckpointStore(std::string dir, std::int64_t keep_last)
    : dir_(std::move(dir)), keep_last_(keep_last) {
  if (keep_last_ < 1) throw Error(fmt::format("checkpoints: keep_last must be >= 1, got {}", keep_last_));
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw Error(fmt::format("checkpoints: cannot create folder {}: {}", dir_, ec.message()));
}

std::string CheckpointStore::step_path(std::int64_t step) const { return fmt::format("{}/step-{:08d}.h5", dir_, step); }

std::vector<std::string> CheckpointStore::step_files() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step-", 0) == 0 && entry.path().extension() == ".h5") out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());  // zero-padded steps sort by number
  return out;
}

void CheckpointStore::point(const std::string& name, const std::string& target) {
  // A new hard link under a temporary name, renamed over the old one: atomic on POSIX. Where hard
  // links are not supported, a copy takes its place.
  const std::string final_path = dir_ + "/" + name;
  const std::string tmp = final_path + ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  if (::link(target.c_str(), tmp.c_str()) != 0) {
    fs::copy_file(target, tmp, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      const std::string reason = ec.message();
      fs::remove(tmp, ec);
      throw Error(fmt::format("checkpoints: cannot write {}: {}", tmp, reason));
    }
  }
  fs::rename(tmp, final_path, ec);
  if (ec) {
    const std::string reason = ec.message();
    fs::remove(tmp, ec);
    throw Error(fmt::format("checkpoints: cannot replace {}: {}", final_path, reason));
  }
}

std::string CheckpointStore::save(const Checkpoint& c, bool best) {
  std::string path = step_path(c.progress.step);
  write_checkpoint(path, c);
  point("last.h5", path);
  if (best) point("best.h5", path);
  auto files = step_files();
  while (static_cast<std::int64_t>(files.size()) > keep_last_) {
    std::error_code ec;
    fs::remove(files.front(), ec);  // last.h5 and best.h5 are links of their own and survive
    files.erase(files.begin());
  }
  return path;
}

}  // namespace kat
