#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "data/char_tokenizer.h"
#include "data/special_tokens.h"
#include "data/spm_tokenizer.h"
#include "data/text_io.h"
#include "tests/data/data_test_util.h"

using namespace kat;
using kat::test::sample_lines;
using kat::test::ScratchDir;

namespace {

// A corpus big enough for a few hundred subword pieces: the sample lines recombined word by word.
std::vector<std::string> training_corpus() {
  const std::vector<std::string> base = sample_lines();
  std::vector<std::string> lines = base;
  Rng rng(5);
  for (int i = 0; i < 400; ++i) {
    const std::string& a = base[rng.below(base.size())];
    const std::string& b = base[rng.below(base.size())];
    // Cut both at a space so that the pieces stay valid UTF-8.
    lines.push_back(a.substr(0, a.find(' ', a.size() / 2)) + b.substr(b.find(' ', b.size() / 2)));
  }
  return lines;
}

void check_round_trip(const Tokenizer& tok, const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    const auto ids = tok.encode(line);
    for (const auto id : ids) {
      REQUIRE(id >= kUnkId);
      REQUIRE(id < tok.vocab_size());
    }
    CHECK(tok.decode(ids) == line);
  }
}

std::string error_of(const auto& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("bytes tokenizer: fixed vocabulary, exact round trip of every line") {
  const auto tok = CharTokenizer::bytes();
  CHECK(tok->vocab_size() == 260);
  check_round_trip(*tok, sample_lines());
  CHECK(tok->encode("A") == std::vector<std::int64_t>{'A' + kNumSpecialTokens});
  CHECK(unknown_characters(*tok, "\u2603\x01").empty());  // every byte has an id
  CHECK(tok->piece(kPadId) == "<pad>");
  CHECK(tok->piece(kEosId) == "</s>");
}

TEST_CASE("chars tokenizer: code point vocabulary, round trip, unk, saved and loaded") {
  const auto lines = sample_lines();
  const auto tok = CharTokenizer::train(lines);
  check_round_trip(*tok, lines);
  // One id per code point: "ñ" and "“" are single tokens.
  CHECK(tok->encode("aña").size() == 3);
  CHECK(tok->encode("“").size() == 1);
  // The most frequent character (the space) gets the first free id.
  CHECK(tok->encode(" ") == std::vector<std::int64_t>{kNumSpecialTokens});
  // A character outside the vocabulary is unk, and decodes as ⁇.
  const auto ids = tok->encode("a\u4e2d");
  REQUIRE(ids.size() == 2);
  CHECK(ids[1] == kUnkId);
  CHECK(tok->decode(ids) == "a\u2047");
  // unknown_characters names each character encoded as unk once, in order of appearance.
  CHECK(unknown_characters(*tok, "a\u4e2db\u2603\u4e2d") == std::vector<std::string>{"\u4e2d", "\u2603"});
  CHECK(unknown_characters(*tok, "God").empty());
  CHECK(unknown_characters(*tok, "a\x01").size() == 1);
  CHECK_THROWS_AS(unknown_characters(*tok, "a\xff"), Error);
  CHECK(list_characters({"\u4e2d", "\t", "\x7f"}) == "'\u4e2d', U+0009, U+007F");
  CHECK(list_characters({"a", "b", "c"}, 2) == "'a', 'b' and 1 more");
  // Specials are skipped by decode.
  auto with_specials = tok->encode("God");
  with_specials.insert(with_specials.begin(), kBosId);
  with_specials.push_back(kEosId);
  with_specials.push_back(kPadId);
  CHECK(tok->decode(with_specials) == "God");
  CHECK_THROWS_AS(tok->decode({tok->vocab_size()}), Error);

  ScratchDir dir;
  save_tokenizer(*tok, dir.file("chars.tok"));
  const std::string file = kat::test::slurp(dir.file("chars.tok"));
  CHECK(file.rfind("kat-tokenizer 1 chars\nU+0020\n", 0) == 0);
  const auto loaded = load_tokenizer(dir.file("chars.tok"));
  CHECK(loaded->kind() == "chars");
  CHECK(loaded->vocab_size() == tok->vocab_size());
  for (const auto& line : lines) CHECK(loaded->encode(line) == tok->encode(line));
}

TEST_CASE("chars tokenizer: max_vocab keeps the most frequent characters") {
  const auto tok = CharTokenizer::train(sample_lines(), 1, 20);
  CHECK(tok->vocab_size() == 20);
  const auto ids = tok->encode("e ¿");
  CHECK(ids[0] != kUnkId);
  CHECK(ids[2] == kUnkId);
}

TEST_CASE("invalid UTF-8 is refused with the position") {
  const auto tok = CharTokenizer::train(sample_lines());
  const std::string bad = "ab\xC3(";
  CHECK(error_of([&] { tok->encode(bad); }).find("invalid UTF-8 at byte 3") != std::string::npos);
  CHECK_THROWS_AS(CharTokenizer::train({"ok", "\xFF"}), Error);
  // Overlong encodings and surrogates are invalid too.
  CHECK_THROWS_AS(tok->encode("\xC0\xAF"), Error);
  CHECK_THROWS_AS(tok->encode("\xED\xA0\x80"), Error);
}

TEST_CASE("corpus files: invalid UTF-8 and empty files name the file and the line") {
  ScratchDir dir;
  const std::string bad = dir.write("bad.txt", "first line\nsecond \xE2\x82 line\nthird\n");
  const std::string msg = error_of([&] { read_text_lines(bad); });
  CHECK(msg.find(bad + ":2: invalid UTF-8 at byte 8") != std::string::npos);
  const std::string empty = dir.write("empty.txt", "");
  CHECK(error_of([&] { read_text_lines(empty); }).find(empty + ": empty file") != std::string::npos);
  CHECK(error_of([&] { read_text_lines(dir.file("missing.txt")); }).find("missing.txt: cannot open") !=
        std::string::npos);
  const auto lines = read_text_lines(dir.write("ok.txt", "a\n\nb\n"));
  CHECK(lines == std::vector<std::string>{"a", "", "b"});
  CHECK(read_text_lines(dir.file("ok.txt"), true) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("tokenizer files of another version, kind or format are refused naming the file") {
  ScratchDir dir;
  const std::string v2 = dir.write("v2.tok", "kat-tokenizer 2 chars\nU+0041\n");
  const std::string msg = error_of([&] { load_tokenizer(v2); });
  CHECK(msg.find(v2 + ":1: tokenizer format version 2, this kat reads version 1") != std::string::npos);
  const std::string foreign = dir.write("foreign.tok", "\x0a\x0bnot a tokenizer");
  CHECK(error_of([&] { load_tokenizer(foreign); }).find(foreign + ":1: not a kat tokenizer") != std::string::npos);
  const std::string kind = dir.write("kind.tok", "kat-tokenizer 1 words\n");
  CHECK(error_of([&] { load_tokenizer(kind); }).find("unknown tokenizer kind 'words'") != std::string::npos);
  const std::string line3 = dir.write("line3.tok", "kat-tokenizer 1 chars\nU+0041\nB\n");
  CHECK(error_of([&] { load_tokenizer(line3); }).find(line3 + ":3: expected a code point") != std::string::npos);
  const std::string spm = dir.write("spm.tok", "kat-tokenizer 1 spm\ngarbage");
  CHECK(error_of([&] { load_tokenizer(spm); }).find(spm + ": not a SentencePiece model") != std::string::npos);
}

TEST_CASE("sentencepiece BPE and unigram: fixed special ids, exact round trip, saved and loaded") {
  const auto corpus = training_corpus();
  for (const std::string type : {"bpe", "unigram"}) {
    CAPTURE(type);
    SpmTrainOptions options;
    options.model_type = type;
    options.vocab_size = 400;
    const auto tok = SpmTokenizer::train(corpus, options);
    CHECK(tok->vocab_size() == 400);
    CHECK(tok->piece(kPadId) == "<pad>");
    CHECK(tok->piece(kBosId) == "<s>");
    CHECK(tok->piece(kEosId) == "</s>");
    CHECK(tok->piece(kUnkId) == "<unk>");
    check_round_trip(*tok, sample_lines());
    check_round_trip(*tok, corpus);
    // Subwords: fewer tokens than characters on text like the training text.
    CHECK(tok->encode(corpus[0]).size() * 4 < corpus[0].size() * 3);
    // Byte fallback: a character never seen in training still round-trips, and is not unk.
    check_round_trip(*tok, {"日本 ok ☃"});
    CHECK(unknown_characters(*tok, "日本 ok ☃").empty());
    // Spaces anywhere, tabs, line breaks and NUL round-trip as well; U+2581, the symbol
    // SentencePiece writes for a space, comes back as a space.
    check_round_trip(*tok, {" two  spaces ", "\ttab\r\n", std::string("nul\0byte", 8), " "});
    CHECK(tok->decode(tok->encode("a\u2581b")) == "a b");

    ScratchDir dir;
    save_tokenizer(*tok, dir.file("spm.tok"));
    const auto loaded = load_tokenizer(dir.file("spm.tok"));
    CHECK(loaded->kind() == "spm");
    for (const auto& line : corpus) REQUIRE(loaded->encode(line) == tok->encode(line));
  }
}

TEST_CASE("sentencepiece training is deterministic and checks its options") {
  const auto corpus = training_corpus();
  SpmTrainOptions options;
  options.model_type = "bpe";
  options.vocab_size = 380;
  CHECK(SpmTokenizer::train(corpus, options)->payload() == SpmTokenizer::train(corpus, options)->payload());
  options.model_type = "word";
  CHECK_THROWS_AS(SpmTokenizer::train(corpus, options), Error);
  options.model_type = "bpe";
  options.vocab_size = 100;
  CHECK_THROWS_AS(SpmTokenizer::train(corpus, options), Error);
}
