#pragma once
// The printed Bibles' drop capital, carried into the module text as a word in capitals at the start
// of a chapter ("EN el principio crió Dios...", "LUEGO que oyó...", "NAAMÁN, general del ejército"):
// the first word of a verse written all in capitals, two letters or more, followed by a word that
// is not, gets ordinary case ("En el principio", "Luego que", "Naamán, general"). Capitals that
// run on past the first word (an inscription, "HOLY TO YAHWEH") and capitals later in a verse are
// kept. Letters are those of Latin-1 and Latin Extended-A, which the English and Spanish Bibles
// use; a word with another letter is left as it is.

#include <string>

namespace kat {

std::string restore_drop_cap(const std::string& verse);

}  // namespace kat
