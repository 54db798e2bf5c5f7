#include "core/os/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace kat {
namespace {

std::string reason() { return std::strerror(errno); }

// Writes all of `bytes` to `fd`; returns the count written before a failure (errno set).
std::size_t write_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return done;
}

}  // namespace

Dir Dir::open(const std::string& path, bool create) {
  const std::string name = path.empty() ? "." : path;
  if (create) {
    std::error_code ec;
    std::filesystem::create_directories(name, ec);
    if (ec) throw SystemError(fmt::format("{}: cannot create the folder: {}", name, ec.message()));
  }
  const int fd = ::open(name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw SystemError(fmt::format("{}: cannot open the folder: {}", name, reason()));
  return Dir(fd, name);
}

Dir::Dir(Dir&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) { other.fd_ = -1; }

Dir& Dir::operator=(Dir&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

Dir::~Dir() {
  if (fd_ >= 0) ::close(fd_);
}

void Dir::write_new(const std::string& name, std::string_view bytes) const {
  remove(name);
  const int fd = ::openat(fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw SystemError(fmt::format("{}: cannot create: {}", file(name), reason()));
  std::string failed;
  if (write_all(fd, bytes) != bytes.size()) {
    failed = "write";
  } else if (::fsync(fd) != 0) {
    failed = "fsync";
  }
  const std::string why = failed.empty() ? "" : reason();
  if (::close(fd) != 0 && failed.empty()) failed = "close";
  if (!failed.empty()) {
    const std::string message = fmt::format("{}: {} failed: {}", file(name), failed, why.empty() ? reason() : why);
    ::unlinkat(fd_, name.c_str(), 0);
    throw SystemError(message);
  }
}

void Dir::write_atomic(const std::string& name, std::string_view bytes) const {
  const std::string tmp = name + ".tmp";
  write_new(tmp, bytes);
  try {
    rename(tmp, name);
  } catch (...) {
    remove(tmp);
    throw;
  }
}

void Dir::rename(const std::string& from, const std::string& to) const {
  if (::renameat(fd_, from.c_str(), fd_, to.c_str()) != 0) {
    throw SystemError(fmt::format("{}: cannot rename {} into place: {}", file(to), from, reason()));
  }
  sync();
}

bool Dir::link(const std::string& target, const std::string& name) const {
  remove(name);
  if (::linkat(fd_, target.c_str(), fd_, name.c_str(), 0) == 0) return true;
  if (errno == EPERM || errno == EOPNOTSUPP || errno == EMLINK) return false;
  throw SystemError(fmt::format("{}: cannot link to {}: {}", file(name), target, reason()));
}

void Dir::remove(const std::string& name) const {
  if (::unlinkat(fd_, name.c_str(), 0) != 0 && errno != ENOENT) {
    throw SystemError(fmt::format("{}: cannot remove: {}", file(name), reason()));
  }
}

bool Dir::exists(const std::string& name) const {
  struct stat st {};
  return ::fstatat(fd_, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::string Dir::read(const std::string& name) const {
  const int fd = ::openat(fd_, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    throw SystemError(fmt::format("{}: cannot open: {}{}", file(name), reason(),
                                  errno == ELOOP ? " (a symbolic link; kat does not read one in a run folder)" : ""));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw SystemError(fmt::format("{}: not a regular file", file(name)));
  }
  std::string out;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = reason();
      ::close(fd);
      throw SystemError(fmt::format("{}: read failed: {}", file(name), why));
    }
    if (n == 0) break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

int Dir::open_append(const std::string& name) const {
  const int fd = ::openat(fd_, name.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw SystemError(fmt::format("{}: cannot open for appending: {}{}", file(name), reason(),
                                  errno == ELOOP ? " (a symbolic link; kat does not write through one)" : ""));
  }
  return fd;
}

void Dir::sync() const { ::fsync(fd_); }  // best effort: not every file system syncs a folder

AppendFile::AppendFile(const Dir& dir, const std::string& name) : fd_(dir.open_append(name)), path_(dir.file(name)) {}

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool AppendFile::write_pending() {
  if (pending_.empty()) return true;
  const std::size_t done = write_all(fd_, pending_);
  if (done < pending_.size()) last_error_ = reason();
  pending_.erase(0, done);
  return pending_.empty();
}

bool AppendFile::append(std::string_view bytes) {
  pending_.append(bytes);
  return write_pending();
}

void AppendFile::flush() {
  if (!write_pending()) {
    throw SystemError(fmt::format("{}: cannot append {} bytes: {}", path_, pending_.size(), last_error_));
  }
}

FolderLock::FolderLock(const Dir& dir, const std::string& what) {
  const std::string name = ".lock";
  fd_ = ::openat(dir.fd(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd_ < 0) throw SystemError(fmt::format("{}: cannot open the lock file: {}", dir.file(name), reason()));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const bool busy = errno == EWOULDBLOCK;
    const std::string why = reason();
    char buffer[32] = {};
    const ssize_t n = ::pread(fd_, buffer, sizeof buffer - 1, 0);
    std::string holder = n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : "";
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    ::close(fd_);
    fd_ = -1;
    if (!busy) throw SystemError(fmt::format("{}: cannot lock: {}", dir.file(name), why));
    throw Error(fmt::format("{} {} is in use by another kat process{}; wait for it to end or stop it first", what,
                            dir.path(), holder.empty() ? "" : fmt::format(" (pid {})", holder)));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0) (void)::pwrite(fd_, pid.data(), pid.size(), 0);
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the lock
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void refuse_overwriting_input(const std::string& output, const std::vector<std::string>& inputs,
                              const std::string& what) {
  for (const auto& input : inputs) {
    if (input == "-" || output == "-") continue;
    if (same_file(output, input)) {
      throw Error(
          fmt::format("{} {} is also an input of the command ({}): it would be overwritten; write the output "
                      "to another file",
                      what, output, input));
    }
  }
}

}  // namespace kat
