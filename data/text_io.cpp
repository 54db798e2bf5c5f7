#include "data/text_io.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "data/utf8.h"

namespace kat {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open for reading (" + std::strerror(errno) + ")");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw Error(path + ": read error");
  return buffer.str();
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
  return split_text_lines(read_file(path), path, skip_empty);
}

std::string temporary_path_for(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

void commit_temporary(const std::string& tmp_path, const std::string& path) {
  if (std::rename(tmp_path.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(tmp_path.c_str());
    throw Error(path + ": cannot rename " + tmp_path + " into place (" + reason + ")");
  }
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = temporary_path_for(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot open " + tmp + " for writing (" + std::strerror(errno) + ")");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error(path + ": write error on " + tmp);
    }
  }
  commit_temporary(tmp, path);
}

}  // namespace kat
