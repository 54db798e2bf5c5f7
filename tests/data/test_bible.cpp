#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "data/bible/bible_corpus.h"
#include "data/bible/chapter_split.h"
#include "data/bible/drop_cap.h"
#include "data/bible/imp_reader.h"
#include "data/bible/osis_text.h"
#include "data/bible/sword_module.h"
#include "data/bible/verse_align.h"
#include "data/char_tokenizer.h"
#include "data/corpus_datasets.h"
#include "data/loaders.h"
#include "data/spm_tokenizer.h"
#include "data/text_io.h"
#include "tests/data/data_test_util.h"

using namespace kat;
using kat::test::ScratchDir;
using kat::test::slurp;

namespace {

std::string error_of(const auto& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Records in mod2imp's format, the markup as the two Debian Bibles write it.
const char* kEnglishExport =
    "$$$[ Module Heading ]\n"
    "\n"
    "$$$Genesis 0:0\n"
    "<div sID=\"gen2\" type=\"front\"/> <title type=\"main\">Preface</title> Intro text.\n"
    "$$$Genesis 1:0\n"
    "<chapter n=\"1\" osisID=\"Gen.1\" sID=\"Gen.1\"/>\n"
    "$$$Genesis 1:1\n"
    "<w lemma=\"strong:H0430\">In</w> <w lemma=\"strong:H0853\">the</w> beginning, <w>God</w><note "
    "placement=\"foot\"><reference type=\"annotateRef\">1:1 </reference>The Hebrew word rendered "
    "“God” is “אֱלֹהִ֑ים” (Elohim).</note><w>created</w> the heavens and the earth.\n"
    "$$$Genesis 1:2\n"
    "<div type=\"x-milestone\" subType=\"x-preverse\" sID=\"pv1\"/><div sID=\"gen26\" type=\"x-p\"/>The "
    "earth was formless.<note type=\"crossReference\"><reference>Job 1:1</reference></note> Darkness &amp; "
    "deep.<l eID=\"x\" level=\"1\"/><l sID=\"y\" level=\"2\"/>God’s Spirit\n"
    "was hovering.\n"
    "$$$Psalms 3:1\n"
    "<title canonical=\"true\" type=\"psalm\">A Psalm by David.</title> <lg sID=\"a\"/><l sID=\"b\"/>Yahweh, "
    "how my adversaries have increased!<l eID=\"b\"/>\n"
    "$$$Song of Solomon 1:2\n"
    "<speaker>Beloved</speaker> <lg sID=\"c\"/>Let him kiss me<note placement=\"foot\">x</note>.\n"
    "$$$Revelation of John 22:21\n"
    "The grace be with all. Amen. <chapter eID=\"Rev.22\"/><div eID=\"g1\" type=\"x-p\"/> <div "
    "canonical=\"true\" eID=\"g2\" osisID=\"Rev\" type=\"book\"/> <div sID=\"g3\" type=\"glossary\"/> <title "
    "level=\"1\" type=\"main\">Glossary</title> Abaddon is Hebrew for destruction.\n";

}  // namespace

TEST_CASE("mod2imp records: keys, bodies, lines, and verse keys parsed") {
  const auto records = parse_imp(kEnglishExport, "web.imp");
  REQUIRE(records.size() == 8);
  CHECK(records[0].key == "[ Module Heading ]");
  CHECK(records[0].body.empty());
  CHECK(records[3].key == "Genesis 1:1");
  CHECK(records[3].line == 7);
  CHECK(records[4].body.find("God’s Spirit\nwas hovering.") != std::string::npos);
  CHECK_FALSE(parse_verse_key("[ Module Heading ]"));
  CHECK_FALSE(parse_verse_key("Genesis 0:0"));
  CHECK_FALSE(parse_verse_key("Genesis 1:0"));
  const auto key = parse_verse_key("Song of Solomon 2:13");
  REQUIRE(key);
  CHECK(key->book == "Song of Solomon");
  CHECK(key->chapter == 2);
  CHECK(key->verse == 13);
}

TEST_CASE("mod2imp records: bad exports are refused naming the source and line") {
  CHECK(error_of([] { parse_imp("", "web.imp"); }).find("web.imp: empty export") != std::string::npos);
  CHECK(error_of([] { parse_imp("hello\n$$$Genesis 1:1\nx\n", "web.imp"); }).find("web.imp:1: text before") !=
        std::string::npos);
  CHECK(error_of([] {
          parse_imp("$$$Genesis 1:1\nok\n$$$Genesis 1:2\nbad \xC3\x28\n", "web.imp");
        }).find("web.imp:4: invalid UTF-8 at byte 5") != std::string::npos);
  CHECK(error_of([] {
          read_bible_verses({"$$$Genesis 1:1\na\n$$$Genesis 1:1\nb\n", "rv.imp"});
        }).find("rv.imp:3: verse Genesis 1:1 appears twice (first at line 1)") != std::string::npos);
  CHECK(error_of([] {
          read_bible_verses({"$$$[ Module Heading ]\n\n", "dict.imp"});
        }).find("dict.imp: no verse records") != std::string::npos);
}

TEST_CASE("OSIS cleaning: notes, headings, speakers dropped, psalm titles kept, spaces restored") {
  const auto verses = read_bible_verses({kEnglishExport, "web.imp"});
  REQUIRE(verses.size() == 5);
  CHECK(verses[0].text == "In the beginning, God created the heavens and the earth.");
  CHECK(verses[1].text == "The earth was formless. Darkness & deep. God’s Spirit was hovering.");
  CHECK(verses[2].text == "A Psalm by David. Yahweh, how my adversaries have increased!");
  CHECK(verses[3].text == "Let him kiss me.");
  CHECK(verses[4].text == "The grace be with all. Amen.");
  // Two word elements that touch are two words; entities decode; a note before a quote adds no space.
  CHECK(osis_to_text("<w>enviada</w><transChange type=\"added\">por</transChange><w>medio</w>") == "enviada por medio");
  CHECK(osis_to_text("a&#233;&#x20AC;&lt;b&gt; &unknown; x") == "aé€<b> &unknown; x");
  // Entities for white space collapse like white space: no line break or tab inside a verse.
  CHECK(osis_to_text("a&#10;b&#x9;c &#13;&#32; d&nbsp;&#10;") == "a b c d");
  CHECK(osis_to_text("heart.<note placement=\"foot\">n</note>” Then") == "heart.” Then");
  CHECK(osis_to_text("<title type=\"x-heading\">The Creation</title>Text <note>a <note>b</note> c</note>end") ==
        "Text end");
}

TEST_CASE("drop capitals: a chapter's first word in capitals gets ordinary case, other capitals stay") {
  CHECK(restore_drop_cap("EN el principio crió Dios los cielos y la tierra.") ==
        "En el principio crió Dios los cielos y la tierra.");
  CHECK(restore_drop_cap("LUEGO que oyó esto") == "Luego que oyó esto");
  CHECK(restore_drop_cap("NAAMÁN, general del ejército") == "Naamán, general del ejército");
  CHECK(restore_drop_cap("ÉSTE es el libro") == "Éste es el libro");
  CHECK(restore_drop_cap("¿QUIÉN es éste?") == "¿Quién es éste?");
  CHECK(restore_drop_cap("“OÍD esto”") == "“Oíd esto”");
  CHECK(restore_drop_cap("ŁÓDŹ x") == "Łódź x");  // Latin Extended-A pairs, upper before lower and after
  // Kept: a one-letter word, capitals that run on (an inscription), capitals later in the verse,
  // a verse that starts with a number, and a word with a letter outside the covered ones.
  CHECK(restore_drop_cap("I am Yahweh.") == "I am Yahweh.");
  CHECK(restore_drop_cap("A wise son") == "A wise son");
  CHECK(restore_drop_cap("HOLY TO YAHWEH was written") == "HOLY TO YAHWEH was written");
  CHECK(restore_drop_cap("and wrote HOLY TO YAHWEH") == "and wrote HOLY TO YAHWEH");
  CHECK(restore_drop_cap("12 men") == "12 men");
  CHECK(restore_drop_cap("ΑΛΦΑ and") == "ΑΛΦΑ and");
  CHECK(restore_drop_cap("") == "");
  CHECK(restore_drop_cap("KİLİM x") == "KİLİM x");  // İ has no one-letter lower case
  CHECK(restore_drop_cap("SIN AND SHIN Princes have persecuted me") == "SIN AND SHIN Princes have persecuted me");
  CHECK(restore_drop_cap("HOLY TO") == "HOLY TO");  // nothing but capitals
  // Two words in capitals, the second in the case the rest of the text writes it in.
  WordForms forms;
  forms.add_verse("Habló Jehová á Moisés, y Jehová dijo.");
  forms.add_verse("Jehová es mi pastor; he aquí que siguió.");
  CHECK(forms.count("Jehová") == 2);  // not the second verse's first word
  CHECK(forms.count("Habló") == 0);   // a verse's first word is not counted
  CHECK(forms.count("Jehov") == 0);
  CHECK(restore_drop_cap("Y JEHOVÁ habló á Moisés", forms) == "Y Jehová habló á Moisés");
  CHECK(restore_drop_cap("Y SIGUIÓ Jacob su camino", forms) == "Y siguió Jacob su camino");
  CHECK(restore_drop_cap("HE AQUÍ que todas estas cosas", forms) == "He aquí que todas estas cosas");
  CHECK(restore_drop_cap("LA SEGUNDA suerte salió", forms) == "La segunda suerte salió");  // unseen: lower case
  CHECK(restore_drop_cap("Y A", forms) == "Y A");                                          // no word of two letters
}

TEST_CASE("chapter split: stable, about 90/5/5, same for every verse of a chapter") {
  CHECK(stable_hash("Genesis 1") == stable_hash("Genesis 1"));
  CHECK(stable_hash("Genesis 1") != stable_hash("Genesis 2"));
  int counts[3] = {0, 0, 0};
  for (int c = 1; c <= 2000; ++c) ++counts[static_cast<int>(split_of_chapter("Book", c))];
  CHECK(counts[0] > 1700);
  CHECK(counts[0] < 1900);
  CHECK(counts[1] > 50);
  CHECK(counts[2] > 50);
}

TEST_CASE("length alignment: finds a shifted run, drops what does not match") {
  // Side b is side a's verses with lengths scaled by 1.1, numbered one key later from index 10 on
  // (a verse inserted there), and one verse of a replaced by text of a very different length.
  Rng rng(3);
  AlignmentSide a, b;
  for (int i = 0; i < 40; ++i) {
    a.lengths.push_back(20 + static_cast<std::int64_t>(rng.below(150)));
    a.keys.push_back(i);
  }
  for (int i = 0; i < 40; ++i) {
    if (i == 10) {
      b.lengths.push_back(400);  // a verse a lacks
      b.keys.push_back(10);
    }
    b.lengths.push_back(static_cast<std::int64_t>(1.1 * static_cast<double>(a.lengths[i])));
    b.keys.push_back(i < 10 ? i : i + 1);
  }
  b.lengths[30] = 5 * b.lengths[30];  // verse 29 of a carries extra text in b
  const LengthModel model{1.1, 2.0};
  const AlignmentResult result = align_by_length(a, b, model, {});
  int kept_shifted = 0;
  for (const AlignedPair& p : result.pairs) {
    CHECK(p.b == (p.a < 10 ? p.a : p.a + 1));  // every kept pair is a true pair
    CHECK(p.posterior >= 0.9);
    kept_shifted += p.a >= 10;
  }
  CHECK(result.pairs.size() >= 36);
  CHECK(kept_shifted >= 26);
  for (const AlignedPair& p : result.pairs) CHECK(p.a != 29);
}

TEST_CASE("length model: ratio and spread from same-key pairs") {
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
  for (int i = 1; i <= 200; ++i) pairs.emplace_back(50 + i, static_cast<std::int64_t>((50 + i) * 0.9) + (i % 5) - 2);
  const LengthModel m = estimate_length_model(pairs);
  CHECK(m.ratio == doctest::Approx(0.9).epsilon(0.02));
  CHECK(m.variance < 1.0);
  CHECK(log_match_probability(100, 90, m) > log_match_probability(100, 60, m));
}

TEST_CASE("bible corpus from exports written here: files, alignment, splits, determinism") {
  // Two small Bibles in mod2imp's format: 60 chapters of 8 verses; the Spanish side translates
  // with lengths about 0.9 times, shifts Exodus 7 by one verse (its verse 1 is empty, and what the
  // English calls 7:8 is missing) and adds a sign-off to one verse.
  std::string en = "$$$[ Module Heading ]\n\n", es = en;
  Rng rng(11);
  for (int c = 1; c <= 60; ++c) {
    const std::string book = c <= 30 ? "Genesis" : "Exodus";
    const int ch = c <= 30 ? c : c - 30;
    std::vector<std::string> words;
    for (int v = 1; v <= 8; ++v) {
      std::string text;
      const int n = 4 + static_cast<int>(rng.below(25));
      for (int w = 0; w < n; ++w) {
        if (w > 0) text += ' ';
        text.append(3 + rng.below(6), static_cast<char>('a' + rng.below(26)));
      }
      words.push_back(text + ".");
    }
    for (int v = 1; v <= 8; ++v) {
      const std::string key = "$$$" + book + " " + std::to_string(ch) + ":" + std::to_string(v) + "\n";
      en += key + "<w lemma=\"x\">" + words[v - 1] + "</w>\n";
      const bool shifted = book == "Exodus" && ch == 7;
      std::string es_text = shifted ? (v == 1 ? "" : words[v - 2]) : words[v - 1];
      es_text = es_text.substr(0, es_text.size() * 9 / 10);
      if (book == "Exodus" && ch == 20 && v == 8)
        es_text += " Fue escrita desde Roma con Timoteo por el apóstol y los hermanos que están allí con él.";
      es += key + es_text + "\n";
    }
  }
  ScratchDir dir;
  const std::string out = dir.file("bible");
  const BibleCorpusStats stats = write_bible_corpus({en, "en.imp"}, {es, "es.imp"}, out);
  CHECK(stats.english_keys == 480);
  CHECK(stats.spanish_verses == 479);
  CHECK(stats.shifted_pairs >= 5);  // Exodus 7's verses paired across keys
  CHECK(stats.dropped >= 1);        // the sign-off at least
  CHECK(stats.dropped <= 12);
  std::int64_t total = 0;
  for (const Split split : kSplits) {
    const std::string name(split_name(split));
    const auto en_lines = read_text_lines(out + "/en-es." + name + ".en");
    const auto es_lines = read_text_lines(out + "/en-es." + name + ".es");
    CHECK(en_lines.size() == es_lines.size());
    total += static_cast<std::int64_t>(en_lines.size());
    CHECK(read_text_lines(out + "/en." + name + ".txt").size() ==
          static_cast<std::size_t>(stats.english[static_cast<int>(split)].lines));
  }
  CHECK(total == stats.pairs);
  // Every kept pair is a true translation: the Spanish line is a prefix of its English line.
  for (const Split split : kSplits) {
    const std::string name(split_name(split));
    const auto en_lines = read_text_lines(out + "/en-es." + name + ".en");
    const auto es_lines = read_text_lines(out + "/en-es." + name + ".es");
    for (std::size_t i = 0; i < en_lines.size(); ++i) CHECK(en_lines[i].rfind(es_lines[i], 0) == 0);
  }
  CHECK(slurp(out + "/STATS").find("alignment.pairs_kept " + std::to_string(stats.pairs) + "\n") != std::string::npos);

  // A second run writes the same bytes, and leaves no temporary file behind.
  const std::string again = dir.file("again");
  write_bible_corpus({en, "en.imp"}, {es, "es.imp"}, again);
  for (const auto& entry : std::filesystem::directory_iterator(out)) {
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);
    CHECK(slurp(entry.path().string()) == slurp(again + "/" + entry.path().filename().string()));
  }

  // Tokenized datasets with separate vocabularies: the pairs read back as the text lines.
  write_bible_datasets(out, {}, true);
  CHECK(std::filesystem::exists(out + "/tokenizer.en.tok"));
  CHECK(std::filesystem::exists(out + "/tokenizer.es.tok"));
  const DatasetInfo info = read_dataset_info(out + "/en-es.valid.h5");
  REQUIRE(info.sides.size() == 2);
  CHECK(info.side("es").vocab_size != info.side("en").vocab_size);
  const auto valid_en = read_text_lines(out + "/en-es.valid.en");
  const auto valid_es = read_text_lines(out + "/en-es.valid.es");
  TranslationBatchOptions options;
  options.max_tokens = 1 << 14;
  std::size_t k = 0;
  for (const Batch& b : translation_eval_batches(out + "/en-es.valid.h5", options)) {
    const auto src = b.src.to_vector<std::int64_t>(), tgt = b.target.to_vector<std::int64_t>();
    for (std::int64_t r = 0; r < b.sentences; ++r, ++k) {
      const auto row = [&](const std::vector<std::int64_t>& v, std::int64_t width) {
        return std::vector<std::int64_t>(v.begin() + r * width, v.begin() + (r + 1) * width);
      };
      CHECK(info.side("en").tokenizer->decode(row(src, b.src.size(1))) == valid_en[k]);
      CHECK(info.side("es").tokenizer->decode(row(tgt, b.target.size(1))) == valid_es[k]);
    }
  }
  CHECK(k == valid_en.size());
  CHECK(read_dataset_info(out + "/en.train.h5").sides.size() == 1);
}

TEST_CASE("the real Bibles: whole preparation from the installed SWORD modules") {
  if (!sword_module_installed("engWEB2015eb") || !sword_module_installed("spaRV1909eb") || !mod2imp_available()) {
    MESSAGE("SWORD modules not installed (scripts/install-deps.sh --sword): skipped");
    return;
  }
  ScratchDir dir;
  const BibleCorpusStats stats =
      write_bible_corpus({export_sword_module("engWEB2015eb"), "mod2imp engWEB2015eb"},
                         {export_sword_module("spaRV1909eb"), "mod2imp spaRV1909eb"}, dir.file("bible"));
  MESSAGE(slurp(dir.file("bible/STATS")));
  CHECK(stats.spanish_keys > 30000);
  CHECK(stats.candidates > 30000);
  CHECK(stats.dropped * 100 < stats.candidates * 3);  // a few per cent at most
  CHECK(stats.dropped > 0);                           // the modules do differ
  const double train_share = static_cast<double>(stats.parallel[0].lines) / static_cast<double>(stats.pairs);
  CHECK(train_share > 0.85);
  CHECK(train_share < 0.95);
  const auto en = read_text_lines(dir.file("bible/en-es.train.en"));
  for (const auto& line : en) {
    REQUIRE(line.find('<') == std::string::npos);
    REQUIRE(line.find("  ") == std::string::npos);
  }
  // Hundreds of Spanish chapters open in capitals in the module; none does in the corpus (but for
  // headings whose capitals run on past two words).
  CHECK(stats.spanish_drop_caps > 500);
  CHECK(stats.english_drop_caps > 10);
  CHECK(slurp(dir.file("bible/STATS")).find("spanish.drop_capitals_restored ") != std::string::npos);
  for (const char* name : {"en-es.train.es", "en-es.test.es", "en.train.txt"}) {
    for (const auto& line : read_text_lines(dir.file(std::string("bible/") + name))) {
      CAPTURE(line);
      CHECK(restore_drop_cap(line) == line);
    }
  }
  // Every line of the valid and test text round-trips through a chars and a SentencePiece tokenizer.
  std::vector<std::string> sample;
  for (const char* name : {"en-es.valid.en", "en-es.valid.es", "en-es.test.en", "en-es.test.es"}) {
    const auto lines = read_text_lines(dir.file(std::string("bible/") + name));
    sample.insert(sample.end(), lines.begin(), lines.end());
  }
  SpmTrainOptions spm;
  spm.vocab_size = 2000;
  const auto subword = SpmTokenizer::train(sample, spm);
  const auto chars = CharTokenizer::train(sample);
  for (const std::string& line : sample) {
    REQUIRE(chars->decode(chars->encode(line)) == line);
    REQUIRE(subword->decode(subword->encode(line)) == line);
  }
}

TEST_CASE("a missing SWORD module or corpus folder is named in the error") {
  CHECK(error_of([] { export_sword_module("noSuchModule"); }).find("noSuchModule") != std::string::npos);
  CHECK_FALSE(sword_module_installed("noSuchModule"));
  CHECK_THROWS_AS(export_sword_module("bad name; rm"), Error);
  ScratchDir dir;
  CHECK(error_of([&] { write_bible_datasets(dir.file("nothing"), {}, false); }).find("nothing/en.train.txt") !=
        std::string::npos);
}
