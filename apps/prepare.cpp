// `kat prepare`: builds corpora and tokenized datasets.
//   kat prepare bible OUT_DIR [--tokenizer chars|bytes|spm|none] [--vocab N] [--model-type unigram|bpe]
//                             [--separate-vocab] [--no-install]
//   kat prepare dataset OUT.h5 --side en=train.en [--side es=train.es] --tokenizer TOK [--tokenizer TOK2]

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "apps/commands.h"
#include "core/error.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "data/bible/bible_corpus.h"
#include "data/bible/sword_module.h"
#include "data/corpus_datasets.h"

namespace kat::cli {
namespace {

struct BibleOptions {
  std::string out_dir;
  std::string tokenizer = "chars";
  std::int64_t vocab = 8000;
  std::string model_type = "unigram";
  bool separate_vocab = false;
  bool no_install = false;
};

struct DatasetOptions {
  std::string out;
  std::string corpus = "text";
  std::string split = "train";
  std::vector<std::string> sides;       // name=path
  std::vector<std::string> tokenizers;  // one for all sides, or one per side
};

const BibleCorpusOptions kBible;

bool sword_ready() {
  return mod2imp_available() && sword_module_installed(kBible.english_module) &&
         sword_module_installed(kBible.spanish_module);
}

// Installs the SWORD Bibles and mod2imp through the project's script when any is missing.
void ensure_sword(bool no_install) {
  if (sword_ready()) return;
  const std::string script = std::string(KAT_SOURCE_DIR) + "/scripts/install-deps.sh";
  if (no_install || !std::filesystem::exists(script)) {
    throw Error("SWORD modules " + kBible.english_module + " and " + kBible.spanish_module +
                " with mod2imp are needed: install them with scripts/install-deps.sh --sword "
                "(Debian packages sword-text-web sword-text-sparv libsword-utils)");
  }
  spdlog::info("prepare bible: installing the SWORD Bibles with {} --sword", script);
  ProcessOptions to_stderr;  // its progress is not the output of kat
  to_stderr.stdout_fd = 2;
  if (!run_program({script, "--sword"}, to_stderr).ok() || !sword_ready()) {
    throw Error(script + " --sword did not install the SWORD modules and mod2imp");
  }
}

int run_bible(const BibleOptions& o) {
  ensure_sword(o.no_install);
  spdlog::info("prepare bible: exporting {} and {} with mod2imp", kBible.english_module, kBible.spanish_module);
  const ImpExport en{export_sword_module(kBible.english_module), "mod2imp " + kBible.english_module};
  const ImpExport es{export_sword_module(kBible.spanish_module), "mod2imp " + kBible.spanish_module};
  write_bible_corpus(en, es, o.out_dir, kBible);
  if (o.tokenizer == "none") return 0;
  TokenizerSpec spec;
  spec.kind = o.tokenizer == "char" ? "chars" : o.tokenizer;
  spec.spm.vocab_size = o.vocab;
  spec.spm.model_type = o.model_type;
  write_bible_datasets(o.out_dir, spec, o.separate_vocab);
  return 0;
}

int run_dataset(const DatasetOptions& o) {
  if (o.tokenizers.size() != 1 && o.tokenizers.size() != o.sides.size()) {
    throw Error("prepare dataset: give one --tokenizer for all sides or one per side (" +
                std::to_string(o.sides.size()) + " sides, " + std::to_string(o.tokenizers.size()) + " tokenizers)");
  }
  refuse_overwriting_input(o.out, o.tokenizers, "prepare dataset: the output");
  std::vector<std::unique_ptr<Tokenizer>> tokenizers;
  for (const std::string& path : o.tokenizers) tokenizers.push_back(load_tokenizer(path));
  std::vector<SideFile> sides;
  for (std::size_t i = 0; i < o.sides.size(); ++i) {
    const std::size_t eq = o.sides[i].find('=');
    if (eq == std::string::npos || eq == 0) {
      throw Error("prepare dataset: --side '" + o.sides[i] + "' (expected NAME=PATH, e.g. en=train.en)");
    }
    const Tokenizer* tok = tokenizers.size() == 1 ? tokenizers[0].get() : tokenizers[i].get();
    sides.push_back({o.sides[i].substr(0, eq), o.sides[i].substr(eq + 1), tok});
  }
  const TokenDataset data = write_text_dataset(o.out, o.corpus, o.split, sides);
  spdlog::info("prepare dataset: {} ({} sentences, {} tokens on side {})", o.out, data.sides[0].sentences(),
               data.sides[0].tokens(), data.sides[0].name);
  return 0;
}

}  // namespace

Runner add_prepare(CLI::App& app) {
  auto bible = std::make_shared<BibleOptions>();
  auto dataset = std::make_shared<DatasetOptions>();
  CLI::App* cmd = app.add_subcommand("prepare", "Build corpora and tokenized HDF5 datasets");
  cmd->require_subcommand(1);

  CLI::App* b = cmd->add_subcommand(
      "bible", "English-Spanish Bible corpus from Debian's SWORD modules (engWEB2015eb, spaRV1909eb)");
  b->add_option("out_dir", bible->out_dir, "Output folder")->required();
  b->add_option("--tokenizer", bible->tokenizer, "Tokenizer for the HDF5 datasets (none: text files only)")
      ->check(CLI::IsMember({"chars", "char", "bytes", "spm", "none"}));
  b->add_option("--vocab", bible->vocab, "SentencePiece vocabulary size")->check(CLI::Range(261, 1 << 20));
  b->add_option("--model-type", bible->model_type, "SentencePiece model")->check(CLI::IsMember({"unigram", "bpe"}));
  b->add_flag("--separate-vocab", bible->separate_vocab, "One tokenizer per language instead of a joint one");
  b->add_flag("--no-install", bible->no_install, "Fail instead of installing missing SWORD packages");

  CLI::App* d = cmd->add_subcommand("dataset", "Tokenize text files (one sentence a line) into one HDF5 dataset");
  d->add_option("out", dataset->out, "Output .h5 file")->required();
  d->add_option("--side", dataset->sides, "NAME=PATH, once per side (two for translation, source first)")->required();
  d->add_option("--tokenizer", dataset->tokenizers, "Tokenizer file: one for all sides or one per side")->required();
  d->add_option("--corpus", dataset->corpus, "Corpus name stored in the file");
  d->add_option("--split", dataset->split, "Split name stored in the file");

  return [b, d, bible, dataset] { return b->parsed() ? run_bible(*bible) : run_dataset(*dataset); };
}

}  // namespace kat::cli
