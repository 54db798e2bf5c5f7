#pragma once
// A shared library opened at run time (dlopen), kept open for the life of the process: what it
// registered (factories of attention kernels and feature maps) points into its code.

#include <string>

namespace kat {

class SharedLibrary {
 public:
  // Opens the library at `path` with every symbol resolved now. Throws kat::Error naming the path
  // and the loader's reason (no such file, not a shared library, an undefined symbol).
  static SharedLibrary open(const std::string& path);
  // The address of `name`, or nullptr when the library does not define it.
  void* symbol(const std::string& name) const;
  const std::string& path() const { return path_; }

 private:
  SharedLibrary(void* handle, std::string path) : handle_(handle), path_(std::move(path)) {}
  void* handle_ = nullptr;
  std::string path_;
};

// A 64-bit FNV-1a hash of a file's bytes, as "fnv1a64:0123456789abcdef" (a record that the file is
// the one a run used, not a guard against tampering). Throws kat::Error when it cannot be read.
std::string file_fingerprint(const std::string& path);

}  // namespace kat
