#pragma once
// The English-Spanish Bible corpus built from two SWORD exports (see data/sword_module.h):
// verses cleaned of their markup (data/osis_text.h), aligned book by book (data/verse_align.h),
// split by chapter (data/chapter_split.h), and written as
//   en-es.{train,valid,test}.{en,es}   one verse a line, line k of .en translates line k of .es
//   en.{train,valid,test}.txt          every English verse, for language modelling
//   STATS                              counts, characters and lengths
// Each file goes to a temporary name first; all are renamed into place at the end, so an
// interrupted run leaves no half-written corpus. Two runs write byte-identical files.

#include <cstdint>
#include <string>
#include <vector>

#include "data/bible/imp_reader.h"
#include "data/bible/verse_align.h"

namespace kat {

struct Verse {
  VerseKey key;
  std::string text;       // plain text, may be empty (a verse the module leaves out)
  std::int64_t line = 0;  // line of the record in the export
};

// An export held in memory and the name it is known by in errors (a path or "mod2imp NAME").
struct ImpExport {
  std::string text;
  std::string source;
};

// The verse records of an export in order, cleaned (drop capitals restored: *drop_caps counts the
// verses changed). Throws kat::Error naming the source and line for a key that appears twice, and
// when the export holds no verse at all.
std::vector<Verse> read_bible_verses(const ImpExport& exported, std::int64_t* drop_caps = nullptr);

struct BibleCorpusOptions {
  std::string english_module = "engWEB2015eb";  // names for STATS only
  std::string spanish_module = "spaRV1909eb";
  AlignmentOptions alignment;
};

struct SplitCounts {
  std::int64_t lines = 0;
  std::int64_t chapters = 0;
  std::int64_t chars_en = 0;
  std::int64_t chars_es = 0;
  std::int64_t max_chars_en = 0;
  std::int64_t max_chars_es = 0;
};

struct BibleCorpusStats {
  std::int64_t english_keys = 0, english_verses = 0;  // verse keys; those with text
  std::int64_t spanish_keys = 0, spanish_verses = 0;
  std::int64_t english_drop_caps = 0, spanish_drop_caps = 0;  // verses whose drop capital was restored
  std::int64_t shared_books = 0;
  std::int64_t candidates = 0;                              // keys with text on both sides
  std::int64_t pairs = 0;                                   // aligned pairs kept
  std::int64_t shifted_pairs = 0;                           // kept pairs whose two keys differ
  std::int64_t dropped = 0;                                 // candidates - pairs
  std::int64_t length_mismatch = 0;                         // sure 1-1 beads dropped for their lengths
  std::int64_t unpaired_english = 0, unpaired_spanish = 0;  // verses of shared books left out
  LengthModel length_model;
  SplitCounts parallel[3];  // by Split
  SplitCounts english[3];   // the LM corpus (chars_es unused)

  std::string to_text(const BibleCorpusOptions& options) const;
};

BibleCorpusStats write_bible_corpus(const ImpExport& english, const ImpExport& spanish, const std::string& out_dir,
                                    const BibleCorpusOptions& options = {});

}  // namespace kat
