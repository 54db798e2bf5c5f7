#pragma once
// The errors kat throws at its API boundary. Messages name the op (or file and key), the sizes
// involved, and what would be right.
//  - Error: bad input (shapes, arguments, files, configs); the command line exits 2.
//  - SystemError: the system failed something valid (a full disk, a file that cannot be written,
//    memory that cannot be had); the command line exits 1.

#include <stdexcept>
#include <string>

namespace kat {

class Error : public std::invalid_argument {
 public:
  explicit Error(const std::string& what) : std::invalid_argument(what) {}
};

class SystemError : public std::runtime_error {
 public:
  explicit SystemError(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace kat
