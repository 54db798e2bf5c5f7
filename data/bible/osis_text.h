#pragma once
// The plain text of one verse's OSIS markup, as SWORD Bibles store it:
// - footnotes and cross references (<note>), section headings (<title> other than a psalm's
//   title) and speaker labels (<speaker>) are dropped with their content;
// - psalm titles (<title type="psalm">) are kept, as the Spanish Bible keeps them inside verse 1;
// - everything after the end of the book (<div type="book" eID=...>: a glossary, an appendix) is
//   dropped;
// - all other tags are removed and their text kept; line, paragraph and division tags count as
//   white space, and two word elements that touch (</w><w>) are separated by a space;
// - entities are decoded, white space collapsed to single spaces, the ends trimmed;
// - where a removed note sat between two words with no space, one space is put back
//   ("God<note>...</note>created" -> "God created"), but not before punctuation
//   ("earth<note>...</note>." -> "earth.").

#include <string>
#include <string_view>

namespace kat {

std::string osis_to_text(std::string_view markup);

}  // namespace kat
