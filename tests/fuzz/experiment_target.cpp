#include <optional>

#include "tests/fuzz/fuzz_targets.h"
#include "train/config/experiment_config.h"

namespace kat::fuzz {

bool experiment_input(std::span<const std::uint8_t> data) {
  // The YAML text up to the first NUL byte; after it, one --set override a line (or between NULs:
  // a command-line argument holds none).
  const std::string_view text = as_text(data);
  const std::size_t nul = text.find('\0');
  const std::string yaml(text.substr(0, nul));
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::size_t start = nul + 1;
    while (start <= text.size()) {
      const std::size_t end = std::min(text.find_first_of(std::string_view("\n\0", 2), start), text.size());
      overrides.emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
  }
  std::optional<Experiment> e;
  try {
    e = parse_experiment(yaml, "fuzz.yaml", overrides);
  } catch (const ConfigError& error) {
    expect(!error.diagnostics().empty(), "ConfigError without a diagnostic");
    for (const ConfigDiagnostic& d : error.diagnostics()) {
      expect(d.line >= 0 && d.column >= 0 && !d.message.empty() && !d.file.empty(), "diagnostic without place or text");
      expect(std::string_view(error.what()).find(d.to_string()) != std::string_view::npos,
             "ConfigError message lacks the diagnostic " + d.to_string());
    }
    return false;
  }
  // The resolved experiment, written out and read again, is the same experiment.
  const std::string resolved = to_yaml(*e);
  std::optional<Experiment> again;
  try {
    again = parse_experiment(resolved, "resolved.yaml");
  } catch (const ConfigError& error) {
    throw Failure(std::string("the resolved experiment does not load again: ") + error.what() + "\n" + resolved);
  }
  const std::vector<std::string> differ = differing_keys(*e, *again);
  expect(differ.empty(), "the resolved experiment reloads with other values (" + (differ.empty() ? "" : differ[0]) +
                             ", ...):\n" + resolved);
  expect(to_yaml(*again) == resolved, "to_yaml of the reloaded experiment differs:\n" + resolved);
  return true;
}

}  // namespace kat::fuzz
