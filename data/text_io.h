#pragma once
// Reading corpora one sentence a line, and writing any output whole or not at all: outputs go to a
// temporary file beside the target and are renamed into place once complete.

#include <string>
#include <vector>

namespace kat {

// The whole file as bytes; throws kat::Error naming the path when it cannot be read.
std::string read_file(const std::string& path);

// The lines of a UTF-8 text file, without their '\n'. Throws kat::Error for a missing or empty
// file and for invalid UTF-8, naming the file and the line: "corpus.en:12: invalid UTF-8 at
// byte 7". Empty lines are kept unless skip_empty.
std::vector<std::string> read_text_lines(const std::string& path, bool skip_empty = false);

// Splits text held in memory the same way; `source` names it in errors.
std::vector<std::string> split_text_lines(const std::string& text, const std::string& source, bool skip_empty = false);

// Writes `content` to a temporary file in the same folder, then renames it to `path`, so a
// reader never sees a half-written file. Throws kat::Error on any failure (the temporary is removed).
void write_file_atomic(const std::string& path, const std::string& content);

// A unique temporary name beside `path` (same folder, so a rename is atomic).
std::string temporary_path_for(const std::string& path);

// Renames a finished temporary file into place; throws kat::Error naming both paths on failure.
void commit_temporary(const std::string& tmp_path, const std::string& path);

}  // namespace kat
