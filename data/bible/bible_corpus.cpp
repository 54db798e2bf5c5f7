#include "data/bible/bible_corpus.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "data/bible/chapter_split.h"
#include "data/bible/drop_cap.h"
#include "data/bible/osis_text.h"
#include "data/text_io.h"
#include "data/utf8.h"

namespace kat {
namespace {

std::int64_t key_id(const VerseKey& k) { return static_cast<std::int64_t>(k.chapter) * 1000 + k.verse; }

// The verses with text of each book, in module order.
std::map<std::string, std::vector<const Verse*>> by_book(const std::vector<Verse>& verses,
                                                         std::vector<std::string>& order) {
  std::map<std::string, std::vector<const Verse*>> books;
  for (const Verse& v : verses) {
    if (v.text.empty()) continue;
    auto [it, inserted] = books.try_emplace(v.key.book);
    if (inserted) order.push_back(v.key.book);
    it->second.push_back(&v);
  }
  return books;
}

struct Pair {
  const Verse* en;
  const Verse* es;
};

void count(SplitCounts& c, const std::string& en, const std::string* es) {
  ++c.lines;
  const std::int64_t n_en = count_code_points(en);
  c.chars_en += n_en;
  c.max_chars_en = std::max(c.max_chars_en, n_en);
  if (es != nullptr) {
    const std::int64_t n_es = count_code_points(*es);
    c.chars_es += n_es;
    c.max_chars_es = std::max(c.max_chars_es, n_es);
  }
}

std::string mean(std::int64_t total, std::int64_t n) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << (n > 0 ? static_cast<double>(total) / static_cast<double>(n) : 0.0);
  return s.str();
}

}  // namespace

std::vector<Verse> read_bible_verses(const ImpExport& exported, std::int64_t* drop_caps) {
  const std::vector<ImpRecord> records = parse_imp(exported.text, exported.source);
  std::vector<Verse> verses;
  std::unordered_map<std::string, std::int64_t> seen;
  for (const ImpRecord& r : records) {
    auto key = parse_verse_key(r.key);
    if (!key) continue;
    const auto [it, inserted] = seen.emplace(r.key, r.line);
    if (!inserted) {
      throw Error(exported.source + ":" + std::to_string(r.line) + ": verse " + r.key +
                  " appears twice (first at line " + std::to_string(it->second) + ")");
    }
    verses.push_back({std::move(*key), osis_to_text(r.body), r.line});
  }
  // Drop capitals, with the case of each word as the whole text writes it.
  WordForms forms;
  for (const Verse& v : verses) forms.add_verse(v.text);
  std::int64_t restored = 0;
  for (Verse& v : verses) {
    std::string text = restore_drop_cap(v.text, forms);
    restored += text != v.text;
    v.text = std::move(text);
  }
  if (drop_caps != nullptr) *drop_caps = restored;
  if (verses.empty()) {
    throw Error(exported.source + ": no verse records (expected keys such as '$$$Genesis 1:1'; is it a Bible?)");
  }
  return verses;
}

BibleCorpusStats write_bible_corpus(const ImpExport& english, const ImpExport& spanish, const std::string& out_dir,
                                    const BibleCorpusOptions& options) {
  BibleCorpusStats stats;
  const std::vector<Verse> en = read_bible_verses(english, &stats.english_drop_caps);
  const std::vector<Verse> es = read_bible_verses(spanish, &stats.spanish_drop_caps);
  stats.english_keys = static_cast<std::int64_t>(en.size());
  stats.spanish_keys = static_cast<std::int64_t>(es.size());
  for (const Verse& v : en) stats.english_verses += !v.text.empty();
  for (const Verse& v : es) stats.spanish_verses += !v.text.empty();

  // The length model, from the keys both modules fill.
  std::map<std::pair<std::string, std::int64_t>, const Verse*> en_by_key;
  for (const Verse& v : en) {
    if (!v.text.empty()) en_by_key.emplace(std::make_pair(v.key.book, key_id(v.key)), &v);
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> same_key;
  for (const Verse& v : es) {
    if (v.text.empty()) continue;
    const auto it = en_by_key.find({v.key.book, key_id(v.key)});
    if (it != en_by_key.end()) {
      same_key.emplace_back(count_code_points(it->second->text), count_code_points(v.text));
    }
  }
  stats.candidates = static_cast<std::int64_t>(same_key.size());
  if (same_key.empty()) {
    throw Error(english.source + " and " + spanish.source + ": no verse key has text in both (not the same Bible?)");
  }
  stats.length_model = estimate_length_model(same_key);

  // Alignment, book by book, in the English module's order.
  std::vector<std::string> en_order, es_order;
  const auto en_books = by_book(en, en_order);
  const auto es_books = by_book(es, es_order);
  std::vector<Pair> pairs;
  for (const std::string& book : en_order) {
    const auto other = es_books.find(book);
    if (other == es_books.end()) continue;
    ++stats.shared_books;
    const auto& a = en_books.at(book);
    const auto& b = other->second;
    AlignmentSide side_a, side_b;
    for (const Verse* v : a)
      side_a.lengths.push_back(count_code_points(v->text)), side_a.keys.push_back(key_id(v->key));
    for (const Verse* v : b)
      side_b.lengths.push_back(count_code_points(v->text)), side_b.keys.push_back(key_id(v->key));
    const AlignmentResult result = align_by_length(side_a, side_b, stats.length_model, options.alignment);
    stats.length_mismatch += result.length_mismatch;
    stats.unpaired_english += static_cast<std::int64_t>(a.size() - result.pairs.size());
    stats.unpaired_spanish += static_cast<std::int64_t>(b.size() - result.pairs.size());
    for (const AlignedPair& p : result.pairs) {
      pairs.push_back({a[p.a], b[p.b]});
      stats.shifted_pairs += !(a[p.a]->key == b[p.b]->key);
    }
  }
  stats.pairs = static_cast<std::int64_t>(pairs.size());
  stats.dropped = stats.candidates - stats.pairs;

  // Split by the English chapter, the same rule for both corpora.
  std::string par_en[3], par_es[3], lm[3];
  std::set<std::string> chapters[3], lm_chapters[3];
  for (const Pair& p : pairs) {
    const auto s = static_cast<std::size_t>(split_of_chapter(p.en->key.book, p.en->key.chapter));
    par_en[s] += p.en->text + "\n";
    par_es[s] += p.es->text + "\n";
    count(stats.parallel[s], p.en->text, &p.es->text);
    chapters[s].insert(p.en->key.book + " " + std::to_string(p.en->key.chapter));
  }
  for (const Verse& v : en) {
    if (v.text.empty()) continue;
    const auto s = static_cast<std::size_t>(split_of_chapter(v.key.book, v.key.chapter));
    lm[s] += v.text + "\n";
    count(stats.english[s], v.text, nullptr);
    lm_chapters[s].insert(v.key.book + " " + std::to_string(v.key.chapter));
  }
  for (std::size_t s = 0; s < 3; ++s) {
    stats.parallel[s].chapters = static_cast<std::int64_t>(chapters[s].size());
    stats.english[s].chapters = static_cast<std::int64_t>(lm_chapters[s].size());
    if (stats.parallel[s].lines == 0 || stats.english[s].lines == 0) {
      throw Error("bible corpus: the " + std::string(split_name(kSplits[s])) + " split is empty (too few chapters in " +
                  english.source + "?)");
    }
  }

  // Write everything to temporary files, then rename all into place.
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) throw Error(out_dir + ": cannot create the output folder (" + ec.message() + ")");
  std::vector<std::pair<std::string, std::string>> outputs;  // (final path, content)
  for (const Split split : kSplits) {
    const auto s = static_cast<std::size_t>(split);
    const std::string name(split_name(split));
    outputs.emplace_back(out_dir + "/en-es." + name + ".en", std::move(par_en[s]));
    outputs.emplace_back(out_dir + "/en-es." + name + ".es", std::move(par_es[s]));
    outputs.emplace_back(out_dir + "/en." + name + ".txt", std::move(lm[s]));
  }
  outputs.emplace_back(out_dir + "/STATS", stats.to_text(options));
  std::vector<std::string> temporaries;
  try {
    for (const auto& [path, content] : outputs) {
      temporaries.push_back(temporary_path_for(path));
      write_file_atomic(temporaries.back(), content);
    }
  } catch (...) {
    for (const std::string& tmp : temporaries) std::filesystem::remove(tmp, ec);
    throw;
  }
  for (std::size_t i = 0; i < outputs.size(); ++i) commit_temporary(temporaries[i], outputs[i].first);
  spdlog::info("bible: {} pairs aligned of {} shared keys ({} dropped), {} English verses; written to {}", stats.pairs,
               stats.candidates, stats.dropped, stats.english_verses, out_dir);
  return stats;
}

std::string BibleCorpusStats::to_text(const BibleCorpusOptions& options) const {
  std::ostringstream s;
  s << "# kat prepare bible: the English-Spanish parallel corpus and the English LM corpus\n";
  s << "modules " << options.english_module << " " << options.spanish_module << "\n";
  s << "english.verse_keys " << english_keys << "\n";
  s << "english.verses_with_text " << english_verses << "\n";
  s << "spanish.verse_keys " << spanish_keys << "\n";
  s << "spanish.verses_with_text " << spanish_verses << "\n";
  s << "english.drop_capitals_restored " << english_drop_caps << "\n";
  s << "spanish.drop_capitals_restored " << spanish_drop_caps << "\n";
  s << "alignment.shared_books " << shared_books << "\n";
  s << "alignment.keys_with_text_in_both " << candidates << "\n";
  s << "alignment.pairs_kept " << pairs << "\n";
  s << "alignment.pairs_kept_across_different_keys " << shifted_pairs << "\n";
  s << "alignment.dropped " << dropped << " (" << mean(1000 * dropped, candidates) << " per mille)\n";
  s << "alignment.dropped_for_length " << length_mismatch << "\n";
  s << "alignment.english_verses_unpaired " << unpaired_english << "\n";
  s << "alignment.spanish_verses_unpaired " << unpaired_spanish << "\n";
  std::ostringstream model;
  model.precision(6);
  model << "alignment.length_ratio " << length_model.ratio << "\nalignment.length_variance " << length_model.variance;
  s << model.str() << "\n";
  s << "# split lines chapters chars_en mean_chars_en max_chars_en [chars_es mean_chars_es max_chars_es]\n";
  for (const Split split : kSplits) {
    const SplitCounts& c = parallel[static_cast<std::size_t>(split)];
    s << "en-es." << split_name(split) << " " << c.lines << " " << c.chapters << " " << c.chars_en << " "
      << mean(c.chars_en, c.lines) << " " << c.max_chars_en << " " << c.chars_es << " " << mean(c.chars_es, c.lines)
      << " " << c.max_chars_es << "\n";
  }
  for (const Split split : kSplits) {
    const SplitCounts& c = english[static_cast<std::size_t>(split)];
    s << "en." << split_name(split) << " " << c.lines << " " << c.chapters << " " << c.chars_en << " "
      << mean(c.chars_en, c.lines) << " " << c.max_chars_en << "\n";
  }
  return s.str();
}

}  // namespace kat
