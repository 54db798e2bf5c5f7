#include "data/hdf5_file.h"

#include <fstream>
#include <string_view>

namespace kat {

int hdf5_superblock_version(const std::string& path) {
  constexpr std::string_view kSignature = "\x89HDF\r\n\x1a\n";
  std::ifstream in(path, std::ios::binary);
  char head[kSignature.size() + 1] = {};
  if (!in.read(head, sizeof head) || std::string_view(head, kSignature.size()) != kSignature) return -1;
  return static_cast<unsigned char>(head[kSignature.size()]);
}

}  // namespace kat
