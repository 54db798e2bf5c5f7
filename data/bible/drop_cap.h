#pragma once
// The printed Bibles' drop capital, carried into the module text as the first word or two of a
// chapter in capitals ("EN el principio crió Dios...", "LUEGO que oyó...", "NAAMÁN, general del
// ejército", "Y SIGUIÓ Jacob su camino", "HE AQUÍ que..."): a verse that opens with one or two
// words written all in capitals (one of two letters or more), followed by a word that is not,
// gets ordinary case ("En el principio", "Luego que", "Naamán, general", "Y siguió Jacob", "He aquí
// que"). The first word keeps its capital initial; a second word takes the case the rest of the
// Bible writes it in most often ("Y JEHOVÁ habló" -> "Y Jehová habló", as the text writes Jehová
// everywhere else). Capitals that run on past two words (an inscription, "HOLY TO YAHWEH"; a
// heading, "SIN AND SHIN") and capitals later in a verse are kept. Letters are those of Latin-1
// and Latin Extended-A, which the English and Spanish Bibles use; a word with another letter is
// left as it is.

#include <cstdint>
#include <string>
#include <unordered_map>

namespace kat {

// How often each written form of a word occurs in a text, the first word of each verse left out
// (it is capitalized as the start of a sentence, or a drop capital).
class WordForms {
 public:
  void add_verse(const std::string& verse);
  std::int64_t count(const std::string& form) const;

 private:
  std::unordered_map<std::string, std::int64_t> counts_;
};

std::string restore_drop_cap(const std::string& verse, const WordForms& forms = {});

}  // namespace kat
