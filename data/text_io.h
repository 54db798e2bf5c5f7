#pragma once
// Reading corpora one sentence a line, and writing any output whole or not at all: outputs go to a
// temporary file beside the target and are renamed into place once complete.

#include <cstddef>
#include <string>
#include <vector>

namespace kat {

// The most kat reads from one input (1 GiB): its corpora are a few MB, and a device or an endless
// pipe given by mistake would otherwise be read until memory runs out.
inline constexpr std::size_t kMaxInputBytes = std::size_t{1} << 30;

// The whole file as bytes; "-" reads standard input. Throws kat::Error naming the path when it
// cannot be read, is a folder, or holds more than max_bytes (the message gives the limit).
std::string read_file(const std::string& path, std::size_t max_bytes = kMaxInputBytes);

// The same for a text input: also refuses a NUL byte as soon as it is read, so a binary file or a
// device such as /dev/zero fails on its first block instead of filling the memory.
std::string read_text(const std::string& path, std::size_t max_bytes = kMaxInputBytes);

// How an input path reads in messages: "standard input" for "-", else the path.
std::string input_name(const std::string& path);

// The lines of a UTF-8 text file ("-": standard input), without their '\n'. Throws kat::Error for
// a missing or empty file and for invalid UTF-8, naming the file and the line: "corpus.en:12:
// invalid UTF-8 at byte 7". Empty lines are kept unless skip_empty.
std::vector<std::string> read_text_lines(const std::string& path, bool skip_empty = false);

// The lines of a text input as line-oriented tools (sacreBLEU among them) read them: an empty
// input has no lines (not an error), a last line without '\n' counts, a '\r' before '\n' is
// dropped. Invalid UTF-8 is refused naming the line.
std::vector<std::string> read_lines(const std::string& path, std::size_t max_bytes = kMaxInputBytes);

// Splits text held in memory the same way as read_text_lines; `source` names it in errors.
std::vector<std::string> split_text_lines(const std::string& text, const std::string& source, bool skip_empty = false);

// Writes `content` to a temporary file in the same folder, then renames it to `path`, so a
// reader never sees a half-written file. Throws kat::Error on any failure (the temporary is
// removed). The temporary is created new (never through a link planted at its name).
void write_file_atomic(const std::string& path, const std::string& content);

// A unique temporary name beside `path` (same folder, so a rename is atomic).
std::string temporary_path_for(const std::string& path);

// Renames a finished temporary file into place; throws kat::Error naming both paths on failure.
void commit_temporary(const std::string& tmp_path, const std::string& path);

}  // namespace kat
