#pragma once
// What goes wrong in an experiment file, located as FILE:LINE:COL (1-based), and the error that
// carries every problem found at once.

#include <string>
#include <vector>

#include "core/error.h"
#include "core/names.h"

namespace kat {

struct ConfigDiagnostic {
  std::string file;  // the YAML file, or "--set KEY=VALUE" for a command-line override
  int line = 0;      // 0 when the problem has no position (a missing file, a missing key)
  int column = 0;
  std::string message;

  std::string to_string() const;  // FILE:LINE:COL: message, or FILE: message without a position
};

class ConfigError : public Error {
 public:
  explicit ConfigError(std::vector<ConfigDiagnostic> diagnostics);
  const std::vector<ConfigDiagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<ConfigDiagnostic> diagnostics_;
};

}  // namespace kat
