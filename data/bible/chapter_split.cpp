#include "data/bible/chapter_split.h"

namespace kat {

std::string_view split_name(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::valid: return "valid";
    case Split::test: return "test";
  }
  return "?";
}

std::uint64_t stable_hash(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

Split split_of_chapter(const std::string& book, int chapter) {
  const std::uint64_t bucket = stable_hash(book + " " + std::to_string(chapter)) % 1000;
  if (bucket < 900) return Split::train;
  if (bucket < 950) return Split::valid;
  return Split::test;
}

}  // namespace kat
