#include "data/corpus_datasets.h"

#include <spdlog/spdlog.h>

#include "core/error.h"
#include "core/os/files.h"
#include "data/bible/chapter_split.h"
#include "data/char_tokenizer.h"
#include "data/text_io.h"

namespace kat {

std::unique_ptr<Tokenizer> train_tokenizer(const TokenizerSpec& spec, const std::vector<std::string>& lines) {
  if (spec.kind == "bytes") return CharTokenizer::bytes();
  if (spec.kind == "chars") return CharTokenizer::train(lines, 1, spec.max_chars);
  if (spec.kind == "spm") return SpmTokenizer::train(lines, spec.spm);
  throw Error("tokenizer kind '" + spec.kind + "' (expected bytes, chars or spm)");
}

TokenDataset write_text_dataset(const std::string& out_path, const std::string& corpus, const std::string& split,
                                const std::vector<SideFile>& sides) {
  std::vector<std::string> inputs;
  for (const SideFile& side : sides) inputs.push_back(side.path);
  refuse_overwriting_input(out_path, inputs, "dataset");
  TokenDataset data;
  data.path = out_path;
  data.corpus = corpus;
  data.split = split;
  std::size_t first_lines = 0;
  for (const SideFile& side : sides) {
    if (side.tokenizer == nullptr) throw Error(side.path + ": no tokenizer given for side " + side.name);
    const std::vector<std::string> lines = read_text_lines(side.path);
    if (data.sides.empty()) {
      first_lines = lines.size();
    } else if (lines.size() != first_lines) {
      throw Error(side.path + ": " + std::to_string(lines.size()) + " lines, but " + sides.front().path + " has " +
                  std::to_string(first_lines) + " (the two sides of a parallel corpus must have one line per pair)");
    }
    data.sides.push_back(tokenize_lines(side.name, lines, *side.tokenizer, side.path));
  }
  write_token_dataset(out_path, data);
  return data;
}

void write_bible_datasets(const std::string& dir, const TokenizerSpec& spec, bool separate_vocabularies) {
  const auto lines_of = [&](const std::vector<std::string>& names) {
    std::vector<std::string> all;
    for (const std::string& name : names) {
      auto lines = read_text_lines(dir + "/" + name);
      all.insert(all.end(), std::make_move_iterator(lines.begin()), std::make_move_iterator(lines.end()));
    }
    return all;
  };
  const bool all_splits = spec.kind == "chars";
  std::vector<std::string> en_files = {"en.train.txt"}, es_files = {"en-es.train.es"};
  if (all_splits) {
    en_files = {"en.train.txt", "en.valid.txt", "en.test.txt"};
    es_files = {"en-es.train.es", "en-es.valid.es", "en-es.test.es"};
  }
  std::unique_ptr<Tokenizer> en_tok, es_tok;
  if (separate_vocabularies) {
    en_tok = train_tokenizer(spec, lines_of(en_files));
    es_tok = train_tokenizer(spec, lines_of(es_files));
    save_tokenizer(*en_tok, dir + "/tokenizer.en.tok");
    save_tokenizer(*es_tok, dir + "/tokenizer.es.tok");
    spdlog::info("tokenizers: en {}, es {}", en_tok->describe(), es_tok->describe());
  } else {
    std::vector<std::string> both = en_files;
    both.insert(both.end(), es_files.begin(), es_files.end());
    en_tok = train_tokenizer(spec, lines_of(both));
    save_tokenizer(*en_tok, dir + "/tokenizer.tok");
    spdlog::info("tokenizer (joint): {}", en_tok->describe());
  }
  const Tokenizer& es = separate_vocabularies ? *es_tok : *en_tok;
  for (const Split split : kSplits) {
    const std::string name(split_name(split));
    const TokenDataset lm = write_text_dataset(dir + "/en." + name + ".h5", "bible-en", name,
                                               {{"en", dir + "/en." + name + ".txt", en_tok.get()}});
    const TokenDataset mt = write_text_dataset(
        dir + "/en-es." + name + ".h5", "bible-en-es", name,
        {{"en", dir + "/en-es." + name + ".en", en_tok.get()}, {"es", dir + "/en-es." + name + ".es", &es}});
    spdlog::info("datasets {}: en {} sentences {} tokens; en-es {} pairs, {} + {} tokens", name,
                 lm.sides[0].sentences(), lm.sides[0].tokens(), mt.sides[0].sentences(), mt.sides[0].tokens(),
                 mt.sides[1].tokens());
  }
}

}  // namespace kat
