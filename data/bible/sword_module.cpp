#include "data/bible/sword_module.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/os/process.h"

namespace kat {
namespace {

void check_name(const std::string& module) {
  const bool ok = !module.empty() && std::all_of(module.begin(), module.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-';
  });
  if (!ok) throw Error("SWORD module name '" + module + "': expected letters, digits, '_' or '-'");
}

}  // namespace

bool sword_module_installed(const std::string& module) {
  check_name(module);
  std::string lower = module;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  std::vector<std::filesystem::path> roots;
  if (const char* env = std::getenv("SWORD_PATH")) roots.emplace_back(env);
  if (const char* home = std::getenv("HOME")) roots.emplace_back(std::filesystem::path(home) / ".sword");
  roots.emplace_back("/usr/share/sword");
  std::error_code ec;
  for (const auto& root : roots) {
    if (std::filesystem::exists(root / "mods.d" / (lower + ".conf"), ec) ||
        std::filesystem::exists(root / "mods.d" / (module + ".conf"), ec)) {
      return true;
    }
  }
  return false;
}

bool mod2imp_available() { return program_on_path("mod2imp"); }

std::string export_sword_module(const std::string& module) {
  check_name(module);
  if (!mod2imp_available()) {
    throw Error("mod2imp not found (needed to read SWORD module " + module +
                "): install libsword-utils (scripts/install-deps.sh --sword)");
  }
  if (!sword_module_installed(module)) {
    throw Error("SWORD module " + module + " is not installed (scripts/install-deps.sh --sword installs the Bibles)");
  }
  ProcessOptions options;
  options.discard_stderr = true;
  const ProcessResult r = run_program({"mod2imp", module}, options);
  if (!r.started) throw Error("mod2imp " + module + ": cannot start");
  if (!r.ok()) {
    throw Error("mod2imp " + module + ": exit status " + std::to_string(r.exit_code) + " (is the module installed?)");
  }
  const std::string& out = r.output;
  if (out.empty()) throw Error("mod2imp " + module + ": empty export");
  return out;
}

}  // namespace kat
