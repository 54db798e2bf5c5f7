#pragma once
// A fuzz input written to a file in the temporary folder (for the readers that take a path),
// removed when done. One name per process and suffix: libFuzzer runs one input at a time.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_targets.h"

namespace kat::fuzz {

class TempFile {
 public:
  TempFile(std::string_view bytes, const std::string& suffix)
      : path_((std::filesystem::temp_directory_path() / ("kat-fuzz-" + std::to_string(::getpid()) + suffix)).string()) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    expect(out.good(), "cannot write " + path_);
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kat::fuzz
