#pragma once
// The error kat throws at its API boundary: bad shapes, bad arguments, bad input files.
// Messages name the op (or file and key), the sizes involved, and what would be right.

#include <stdexcept>
#include <string>

namespace kat {

class Error : public std::invalid_argument {
 public:
  explicit Error(const std::string& what) : std::invalid_argument(what) {}
};

}  // namespace kat
