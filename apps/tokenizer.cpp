// `kat tokenizer`: train a tokenizer from text files, and encode or decode with one.
//   kat tokenizer train --input a.txt [--input b.txt] --output tok [--kind chars|bytes|spm]
//                       [--vocab N] [--model-type unigram|bpe] [--config tokenizer.yaml]
//   kat tokenizer encode --model tok "some text"      prints the ids
//   kat tokenizer decode --model tok 17 5 9           prints the text

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <iostream>

#include "apps/commands.h"
#include "core/error.h"
#include "core/os/files.h"
#include "data/corpus_datasets.h"
#include "data/text_io.h"

namespace kat::cli {
namespace {

struct TrainOptions {
  std::vector<std::string> inputs;
  std::string output;
  std::string config;
  TokenizerSpec spec;
};

struct CodeOptions {
  std::string model;
  std::vector<std::string> args;
};

std::string where(const std::string& path, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return path + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

// Reads the `tokenizer:` section of a YAML file (or the whole file when it has no such key):
// kind, vocab_size, model_type, max_chars, inputs (list), output. Command-line options given
// explicitly win over the file.
void read_config(const std::string& path, TrainOptions& o, const CLI::App& cmd) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw Error(path + ": cannot read the tokenizer config");
  } catch (const YAML::ParserException& e) {
    throw Error(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  const YAML::Node node = root["tokenizer"] ? root["tokenizer"] : root;
  if (!node.IsMap()) throw Error(where(path, node) + "expected a map of tokenizer settings");
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    try {
      if (key == "kind") {
        if (cmd.count("--kind") == 0) o.spec.kind = value.as<std::string>();
      } else if (key == "vocab_size") {
        if (cmd.count("--vocab") == 0) o.spec.spm.vocab_size = value.as<std::int64_t>();
      } else if (key == "model_type") {
        if (cmd.count("--model-type") == 0) o.spec.spm.model_type = value.as<std::string>();
      } else if (key == "max_chars") {
        if (cmd.count("--max-chars") == 0) o.spec.max_chars = value.as<std::int64_t>();
      } else if (key == "inputs") {
        if (cmd.count("--input") == 0) o.inputs = value.as<std::vector<std::string>>();
      } else if (key == "output") {
        if (cmd.count("--output") == 0) o.output = value.as<std::string>();
      } else {
        throw Error(where(path, entry.first) + "unknown key '" + key +
                    "' (expected kind, vocab_size, model_type, max_chars, inputs, output)");
      }
    } catch (const YAML::BadConversion&) {
      throw Error(where(path, value) + "bad value for '" + key + "'");
    }
  }
}

int run_train(TrainOptions o, const CLI::App& cmd) {
  if (!o.config.empty()) read_config(o.config, o, cmd);
  if (o.spec.kind == "char") o.spec.kind = "chars";
  if (o.output.empty()) throw Error("tokenizer train: no output file (--output or 'output' in the config)");
  if (o.inputs.empty() && o.spec.kind != "bytes") {
    throw Error("tokenizer train: no input text (--input or 'inputs' in the config)");
  }
  std::vector<std::string> inputs = o.inputs;
  if (!o.config.empty()) inputs.push_back(o.config);
  refuse_overwriting_input(o.output, inputs, "tokenizer train: --output");
  std::vector<std::string> lines;
  for (const std::string& path : o.inputs) {
    auto more = read_text_lines(path, true);
    lines.insert(lines.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  }
  const auto tokenizer = train_tokenizer(o.spec, lines);
  save_tokenizer(*tokenizer, o.output);
  spdlog::info("tokenizer: {} trained on {} lines, saved to {}", tokenizer->describe(), lines.size(), o.output);
  return 0;
}

int run_encode(const CodeOptions& o) {
  const auto tokenizer = load_tokenizer(o.model);
  for (const std::string& text : o.args) {
    const auto ids = tokenizer->encode(text);
    for (std::size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
  }
  return 0;
}

int run_decode(const CodeOptions& o) {
  const auto tokenizer = load_tokenizer(o.model);
  std::vector<std::int64_t> ids;
  for (const std::string& a : o.args) {
    try {
      std::size_t used = 0;
      ids.push_back(std::stoll(a, &used));
      if (used != a.size()) throw std::invalid_argument(a);
    } catch (const std::exception&) {
      throw Error("tokenizer decode: '" + a + "' is not a token id");
    }
  }
  std::cout << tokenizer->decode(ids) << "\n";
  return 0;
}

}  // namespace

Runner add_tokenizer(CLI::App& app) {
  auto train = std::make_shared<TrainOptions>();
  auto encode = std::make_shared<CodeOptions>();
  auto decode = std::make_shared<CodeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenizer", "Train a tokenizer, or encode and decode with one");
  cmd->require_subcommand(1);

  CLI::App* t = cmd->add_subcommand("train", "Train a tokenizer on text files (one sentence a line)");
  t->add_option("--input", train->inputs, "Text file; repeat for several (both languages for a joint vocabulary)");
  t->add_option("--output", train->output, "Tokenizer file to write");
  t->add_option("--kind", train->spec.kind, "bytes, chars (code points) or spm (SentencePiece)")
      ->check(CLI::IsMember({"bytes", "chars", "char", "spm"}));
  t->add_option("--vocab", train->spec.spm.vocab_size, "SentencePiece vocabulary size")
      ->check(CLI::Range(261, 1 << 20));
  t->add_option("--model-type", train->spec.spm.model_type, "SentencePiece model")
      ->check(CLI::IsMember({"unigram", "bpe"}));
  t->add_option("--max-chars", train->spec.max_chars, "chars: largest vocabulary (0 = every character seen)");
  t->add_option("--config", train->config, "YAML file with a 'tokenizer:' section (command-line options win)");

  CLI::App* e = cmd->add_subcommand("encode", "Print the token ids of each text argument");
  e->add_option("--model", encode->model, "Tokenizer file")->required();
  e->add_option("text", encode->args, "Text to encode")->required();
  CLI::App* d = cmd->add_subcommand("decode", "Print the text of token ids");
  d->add_option("--model", decode->model, "Tokenizer file")->required();
  d->add_option("ids", decode->args, "Token ids")->required();

  return [t, e, train, encode, decode] {
    if (t->parsed()) return run_train(*train, *t);
    return e->parsed() ? run_encode(*encode) : run_decode(*decode);
  };
}

}  // namespace kat::cli
