#pragma once
// Reading SWORD modules installed from Debian's packages (sword-text-*), through `mod2imp`
// (libsword-utils).

#include <string>
#include <vector>

namespace kat {

// True when the module's configuration (mods.d/<name>.conf, the name as given or in lower case) is found under
// $SWORD_PATH,
// ~/.sword or /usr/share/sword.
bool sword_module_installed(const std::string& module);

// True when `mod2imp` is on the PATH.
bool mod2imp_available();

// The module's raw export (`mod2imp MODULE`). Throws kat::Error naming the module when mod2imp or
// the module is missing, or the export fails.
std::string export_sword_module(const std::string& module);

}  // namespace kat
