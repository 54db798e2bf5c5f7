#pragma once
// Helpers for the data tests: a scratch folder removed at the end, and small files written on the fly.

#include <filesystem>
#include <fstream>
#include <string>

#include "core/rng.h"

namespace kat::test {

// A fresh folder under the system temporary directory, removed with its content on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    Rng rng(std::hash<std::string>{}(std::to_string(reinterpret_cast<std::uintptr_t>(this))) ^ ++counter());
    path_ = std::filesystem::temp_directory_path() / ("kat-test-" + std::to_string(rng.next_u64()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream out(file(name), std::ios::binary);
    out << content;
    return file(name);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  static std::uint64_t& counter() {
    static std::uint64_t c = 0;
    return c;
  }
  std::filesystem::path path_;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A few lines of English and Spanish verse text with accents, quotes, dashes and digits.
inline std::vector<std::string> sample_lines() {
  return {
      "In the beginning, God created the heavens and the earth.",
      "The earth was formless and empty. Darkness was on the surface of the deep.",
      "God said, “Let there be light,” and there was light.",
      "Jehoash said to the priests, “All the money of the holy things—",
      "EN el principio crió Dios los cielos y la tierra.",
      "Y la tierra estaba desordenada y vacía, y las tinieblas estaban sobre la haz del abismo.",
      "¿CAZARÁS tú la presa para el león? ¿y saciarás el hambre de los leoncillos,",
      "Salmo de David, cuando huía de delante de Absalom su hijo. ¡OH Jehová!",
      "He was 969 years old; Selah. (Selah.) Amén.",
      "Mas manifestado ahora, y por las Escrituras de los profetas, según el mandamiento del Dios eterno;",
  };
}

}  // namespace kat::test
