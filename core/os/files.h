#pragma once
// Files as a training run needs them: written whole or not at all, never through a link planted at
// their name, appended to without losing a line when the disk fills, and a folder locked against a
// second writer. Every failure throws kat::SystemError naming the file and the system's reason.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kat {

// A folder opened once. Files in it are reached relative to it (openat and its kin) and created
// with O_EXCL | O_NOFOLLOW, so a symbolic link planted at a file's name, or a temporary name,
// never sends a write outside the folder.
class Dir {
 public:
  // Opens `path`, creating it and its parents first when `create` is set.
  static Dir open(const std::string& path, bool create);
  Dir(Dir&& other) noexcept;
  Dir& operator=(Dir&& other) noexcept;
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  ~Dir();

  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Writes a new file `name` and forces it to the disk: whatever had that name (a stale
  // temporary, a link) is removed first, never followed. On failure what was written is removed.
  void write_new(const std::string& name, std::string_view bytes) const;
  // `name` replaced whole or not at all: write_new(name + ".tmp"), then a rename over `name`.
  void write_atomic(const std::string& name, std::string_view bytes) const;
  // Renames `from` over `to` in this folder (atomic) and makes the rename durable.
  void rename(const std::string& from, const std::string& to) const;
  // A new hard link `name` to the file `target` of this folder; false where the file system has
  // no hard links (the caller copies instead).
  bool link(const std::string& target, const std::string& name) const;
  // Removes `name` (a file or a link, never what a link points to); nothing when it is missing.
  void remove(const std::string& name) const;
  // Whether `name` exists (a link counts, whatever it points to).
  bool exists(const std::string& name) const;
  // The bytes of the regular file `name`, opened without following a link; throws if it is not one.
  std::string read(const std::string& name) const;
  // A descriptor of `name` opened for appending (created when missing); refuses a link.
  int open_append(const std::string& name) const;
  void sync() const;

 private:
  Dir(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

// A file that grows by whole lines (a log, metrics.jsonl). A write the system refuses (a full
// disk) is not lost: the unwritten bytes are kept and written first by the next append or
// flush(), so the file never ends in a cut-off line once the disk has room again. pending() tells
// whether bytes wait; flush() throws when they still cannot be written.
class AppendFile {
 public:
  AppendFile(const Dir& dir, const std::string& name);
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;
  ~AppendFile();

  // Appends `bytes` (after any pending ones). Returns false when some could not be written yet;
  // they stay pending. Never throws for a failed write.
  bool append(std::string_view bytes);
  // Writes the pending bytes; throws kat::SystemError naming the file when that fails.
  void flush();
  bool pending() const { return !pending_.empty(); }
  std::size_t pending_bytes() const { return pending_.size(); }
  // The system's reason for the last failed write ("No space left on device"), or "".
  const std::string& last_error() const { return last_error_; }
  const std::string& path() const { return path_; }

 private:
  bool write_pending();
  int fd_ = -1;
  std::string path_;
  std::string pending_;
  std::string last_error_;
};

// An advisory lock (flock) on a folder, held while the object lives: a second process asking for
// it gets kat::Error naming the folder and the holder's process id. The lock file `.lock` stays
// in the folder; the lock goes with the process, so a killed holder leaves nothing to clean up.
class FolderLock {
 public:
  // `what` names the user of the folder in the error ("run folder").
  FolderLock(const Dir& dir, const std::string& what);
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();

 private:
  int fd_ = -1;
};

// Whether two paths name the same file (same device and inode); false when either is missing.
bool same_file(const std::string& a, const std::string& b);

// Throws kat::Error when `output` is one of `inputs` (the same file under any name): a command
// never overwrites what it reads. `what` names the output in the message ("--output").
void refuse_overwriting_input(const std::string& output, const std::vector<std::string>& inputs,
                              const std::string& what);

}  // namespace kat
