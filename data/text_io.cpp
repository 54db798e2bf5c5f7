#include "data/text_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/error.h"
#include "data/utf8.h"

namespace kat {

std::string input_name(const std::string& path) { return path == "-" ? "standard input" : path; }

namespace {

// Reads `path` ("-": standard input) up to max_bytes; with refuse_nul, fails at the first NUL.
std::string read_input(const std::string& path, std::size_t max_bytes, bool refuse_nul) {
  const std::string name = input_name(path);
  const bool stdin_input = path == "-";
  const int fd = stdin_input ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(name + ": cannot open for reading (" + std::strerror(errno) + ")");
  struct Closer {
    int fd;
    bool owned;
    ~Closer() {
      if (owned) ::close(fd);
    }
  } closer{fd, !stdin_input};
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) throw Error(name + ": a folder, not a file");
  std::string out;
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) <= max_bytes) {
    out.reserve(static_cast<std::size_t>(st.st_size));
  }
  std::vector<char> buffer(std::size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error(name + ": read error (" + std::strerror(errno) + ")");
    if (n == 0) break;
    const auto got = static_cast<std::size_t>(n);
    if (refuse_nul) {
      if (const void* nul = std::memchr(buffer.data(), '\0', got)) {
        const std::size_t at = out.size() + static_cast<std::size_t>(static_cast<const char*>(nul) - buffer.data());
        throw Error(name + ": a NUL byte at byte " + std::to_string(at + 1) +
                    ": not a text file (expected UTF-8 text, one sentence a line)");
      }
    }
    if (out.size() + got > max_bytes) {
      const bool mib = max_bytes % (std::size_t{1} << 20) == 0;
      throw Error(name + ": more than " + std::to_string(mib ? max_bytes >> 20 : max_bytes) +
                  (mib ? " MiB" : " bytes") + ", the most kat reads from one input");
    }
    out.append(buffer.data(), got);
  }
  return out;
}

}  // namespace

std::string read_file(const std::string& path, std::size_t max_bytes) { return read_input(path, max_bytes, false); }

std::string read_text(const std::string& path, std::size_t max_bytes) { return read_input(path, max_bytes, true); }

std::vector<std::string> read_lines(const std::string& path, std::size_t max_bytes) {
  const std::string text = read_text(path, max_bytes);
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (const auto bad = find_invalid_utf8(line)) {
      throw Error(input_name(path) + ":" + std::to_string(lines.size() + 1) + ": invalid UTF-8 at byte " +
                  std::to_string(*bad + 1) + " of the line (expected UTF-8 text)");
    }
    lines.emplace_back(line);
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> split_text_lines(const std::string& text, const std::string& source, bool skip_empty) {
  if (text.empty()) throw Error(source + ": empty file, expected UTF-8 text, one sentence a line");
  std::vector<std::string> lines;
  std::size_t start = 0;
  std::int64_t line_no = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    std::string_view line(text.data() + start, end - start);
    if (const auto bad = find_invalid_utf8(line)) {
      throw Error(source + ":" + std::to_string(line_no) + ": invalid UTF-8 at byte " + std::to_string(*bad + 1) +
                  " of the line (expected UTF-8 text)");
    }
    if (!line.empty() || !skip_empty) lines.emplace_back(line);
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> read_text_lines(const std::string& path, bool skip_empty) {
  return split_text_lines(read_text(path), input_name(path), skip_empty);
}

std::string temporary_path_for(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

void commit_temporary(const std::string& tmp_path, const std::string& path) {
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp_path.c_str());
    throw SystemError(path + ": cannot rename " + tmp_path + " into place (" + reason + ")");
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = temporary_path_for(path);
  // A new file (O_EXCL): a link planted at the temporary name is never followed.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw SystemError(path + ": cannot create " + tmp + " (" + std::strerror(errno) + ")");
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  const std::string why = done < content.size() ? std::strerror(errno) : "";
  if (::close(fd) != 0 || done < content.size()) {
    std::remove(tmp.c_str());
    throw SystemError(path + ": write error on " + tmp + (why.empty() ? "" : " (" + why + ")"));
  }
  commit_temporary(tmp, path);
}

}  // namespace kat
