#include "core/os/shared_library.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <cstdint>
#include <fstream>

#include "core/error.h"

namespace kat {

SharedLibrary SharedLibrary::open(const std::string& path) {
  ::dlerror();
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    throw Error(fmt::format("{}: cannot load it as a shared library ({})", path, why ? why : "unknown reason"));
  }
  return SharedLibrary(handle, path);
}

void* SharedLibrary::symbol(const std::string& name) const {
  ::dlerror();
  return ::dlsym(handle_, name.c_str());
}

std::string file_fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(fmt::format("{}: cannot read it", path));
  std::uint64_t h = 0xcbf29ce484222325ULL;
  char buffer[1 << 16];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<unsigned char>(buffer[i]);
      h *= 0x100000001b3ULL;
    }
  }
  return fmt::format("fnv1a64:{:016x}", h);
}

}  // namespace kat
