#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>

#include "core/error.h"
#include "data/batch_builder.h"
#include "data/char_tokenizer.h"
#include "data/corpus_datasets.h"
#include "data/loaders.h"
#include "tests/data/data_test_util.h"

using namespace kat;
using kat::test::ScratchDir;

namespace {

// Sentences of varied length: "w0 w1 ... wk." with k drawn from the seed.
std::vector<std::string> corpus_lines(int n, std::uint64_t seed, int max_words) {
  Rng rng(seed);
  std::vector<std::string> lines;
  for (int i = 0; i < n; ++i) {
    std::string s = "s" + std::to_string(i);
    const int words = 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(max_words)));
    for (int w = 0; w < words; ++w) {
      s += ' ';
      s.append(1 + rng.below(5), static_cast<char>('a' + rng.below(26)));
    }
    s += '.';
    lines.push_back(s);
  }
  return lines;
}

struct Fixture {
  ScratchDir dir;
  std::vector<std::string> en = corpus_lines(300, 1, 12);
  std::vector<std::string> es = corpus_lines(300, 2, 16);
  std::unique_ptr<CharTokenizer> tok;
  std::string lm_path, mt_path;

  Fixture() {
    std::vector<std::string> all = en;
    all.insert(all.end(), es.begin(), es.end());
    tok = CharTokenizer::train(all);
    const auto write = [&](const std::string& name, const std::vector<std::string>& lines) {
      std::string s;
      for (const auto& l : lines) s += l + "\n";
      return dir.write(name, s);
    };
    lm_path = dir.file("lm.h5");
    mt_path = dir.file("mt.h5");
    write_text_dataset(lm_path, "test", "train", {{"en", write("lm.en", en), tok.get()}});
    write_text_dataset(mt_path, "test", "train",
                       {{"en", write("mt.en", en), tok.get()}, {"es", write("mt.es", es), tok.get()}});
  }

  // Every sentence's ids followed by eos.
  std::vector<std::int64_t> stream() const {
    std::vector<std::int64_t> s;
    for (const auto& line : en) {
      const auto ids = tok->encode(line);
      s.insert(s.end(), ids.begin(), ids.end());
      s.push_back(kEosId);
    }
    return s;
  }
};

std::vector<std::int64_t> row(const Tensor& t, std::int64_t r, std::int64_t len = -1) {
  const auto all = t.to_vector<std::int64_t>();
  const std::int64_t width = t.size(1);
  if (len < 0) len = width;
  return {all.begin() + r * width, all.begin() + r * width + len};
}

bool same(const Batch& a, const Batch& b) {
  const auto eq = [](const Tensor& x, const Tensor& y) {
    if (x.defined() != y.defined()) return false;
    return !x.defined() || (x.shape() == y.shape() && x.to_vector<std::int64_t>() == y.to_vector<std::int64_t>());
  };
  return eq(a.src, b.src) && eq(a.input, b.input) && eq(a.target, b.target) && a.lengths == b.lengths &&
         a.src_lengths == b.src_lengths && a.tokens == b.tokens && a.sentences == b.sentences;
}

}  // namespace

TEST_CASE("LM windows: (B, T) rows of the token stream, target shifted by one, each window once an epoch") {
  Fixture f;
  LmBatchOptions o;
  o.batch_size = 4;
  o.seq_len = 16;
  const auto stream = f.stream();
  const std::int64_t windows = static_cast<std::int64_t>(stream.size() - 1) / o.seq_len;
  const auto source = open_lm_source(f.lm_path, o, 7);
  std::map<std::vector<std::int64_t>, int> seen;
  const std::int64_t per_epoch = windows / o.batch_size;
  for (std::int64_t step = 0; step < per_epoch; ++step) {
    const Batch b = source->next();
    REQUIRE(b.input.shape() == Shape{4, 16});
    REQUIRE(b.target.shape() == Shape{4, 16});
    CHECK(b.lengths.empty());
    CHECK_FALSE(b.src.defined());
    CHECK(b.tokens == 64);
    CHECK(b.sentences == 4);
    for (std::int64_t r = 0; r < 4; ++r) {
      const auto in = row(b.input, r);
      const auto out = row(b.target, r);
      // The window sits at a multiple of seq_len in the stream, and the target is one token later.
      bool found = false;
      for (std::int64_t w = 0; w < windows && !found; ++w) {
        found = std::equal(in.begin(), in.end(), stream.begin() + w * 16) &&
                std::equal(out.begin(), out.end(), stream.begin() + w * 16 + 1);
        if (found) ++seen[{w}];
      }
      CHECK(found);
    }
  }
  CHECK(source->epoch() == 0);
  for (const auto& [w, count] : seen) CHECK(count == 1);
  CHECK(static_cast<std::int64_t>(seen.size()) == per_epoch * 4);
  source->next();
  CHECK(source->epoch() == 1);
}

TEST_CASE("LM sources: same seed same batches, another seed another order") {
  Fixture f;
  LmBatchOptions o;
  o.batch_size = 3;
  o.seq_len = 20;
  const auto a = open_lm_source(f.lm_path, o, 1), b = open_lm_source(f.lm_path, o, 1),
             c = open_lm_source(f.lm_path, o, 2);
  int differ = 0;
  for (int i = 0; i < 10; ++i) {
    const Batch x = a->next();
    CHECK(same(x, b->next()));
    differ += !same(x, c->next());
  }
  CHECK(differ > 5);
}

TEST_CASE("LM sources resume exactly mid-epoch and across epochs, with and without prefetch") {
  Fixture f;
  for (const bool sentences : {false, true}) {
    CAPTURE(sentences);
    LmBatchOptions o;
    o.batch_size = 8;
    o.seq_len = 24;
    o.sentence_level = sentences;
    const auto source = open_lm_source(f.lm_path, o, 3);
    for (int i = 0; i < 5; ++i) source->next();
    const auto saved = source->state();
    std::vector<Batch> expected;
    for (int i = 0; i < 60; ++i) expected.push_back(source->next());  // crosses an epoch end
    CHECK(source->epoch() >= 1);

    const auto resumed = open_lm_source(f.lm_path, o, 3);
    resumed->set_state(saved);
    for (const Batch& b : expected) REQUIRE(same(b, resumed->next()));

    // A prefetching source reports the position of what it handed out, not of what it read ahead.
    LmBatchOptions p = o;
    p.prefetch = 4;
    const auto ahead = open_lm_source(f.lm_path, p, 3);
    for (int i = 0; i < 5; ++i) ahead->next();
    CHECK(ahead->state() == saved);
    for (int i = 0; i < 10; ++i) REQUIRE(same(expected[static_cast<std::size_t>(i)], ahead->next()));
    ahead->set_state(saved);
    for (int i = 0; i < 10; ++i) REQUIRE(same(expected[static_cast<std::size_t>(i)], ahead->next()));

    // States of another seed, dataset layout or kind are refused.
    const auto other = open_lm_source(f.lm_path, o, 4);
    CHECK_THROWS_AS(other->set_state(saved), Error);
    CHECK_THROWS_AS(resumed->set_state({1, 2, 3}), Error);
    CHECK_THROWS_AS(ahead->set_state({}), Error);
    CHECK(same(expected[10], ahead->next()));  // a refused state leaves the position alone
  }
}

TEST_CASE("LM sentence batches: bos + ids, ids + eos, padded with pad_id, lengths filled") {
  Fixture f;
  LmBatchOptions o;
  o.batch_size = 5;
  o.seq_len = 30;
  o.sentence_level = true;
  const auto source = open_lm_source(f.lm_path, o, 9);
  for (int step = 0; step < 20; ++step) {
    const Batch b = source->next();
    const std::int64_t T = b.input.size(1);
    CHECK(T <= 30);
    std::int64_t tokens = 0;
    for (std::int64_t r = 0; r < 5; ++r) {
      const std::int64_t len = b.lengths.empty() ? T : b.lengths[static_cast<std::size_t>(r)];
      const auto in = row(b.input, r), out = row(b.target, r);
      CHECK(in[0] == kBosId);
      for (std::int64_t t = 1; t < len; ++t)
        CHECK(in[static_cast<std::size_t>(t)] == out[static_cast<std::size_t>(t - 1)]);
      for (std::int64_t t = len; t < T; ++t) CHECK(out[static_cast<std::size_t>(t)] == kPadId);
      // A sentence that fits ends with eos; it decodes to one line of the corpus.
      if (len < 30) {
        CHECK(out[static_cast<std::size_t>(len - 1)] == kEosId);
        const std::string text = f.tok->decode(std::vector<std::int64_t>(out.begin(), out.begin() + len));
        CHECK(std::find(f.en.begin(), f.en.end(), text) != f.en.end());
      }
      tokens += len;
    }
    CHECK(b.tokens == tokens);
  }
}

TEST_CASE("LM evaluation batches: fixed order, every target token exactly once") {
  Fixture f;
  LmBatchOptions o;
  o.batch_size = 6;
  o.seq_len = 50;
  const auto batches = lm_eval_batches(f.lm_path, o);
  CHECK(batches.size() == lm_eval_batches(f.lm_path, o).size());
  std::vector<std::int64_t> targets;
  for (const Batch& b : batches) {
    for (std::int64_t r = 0; r < b.input.size(0); ++r) {
      const std::int64_t len = b.lengths.empty() ? b.input.size(1) : b.lengths[static_cast<std::size_t>(r)];
      const auto out = row(b.target, r, len);
      targets.insert(targets.end(), out.begin(), out.end());
    }
  }
  const auto stream = f.stream();
  CHECK(targets == std::vector<std::int64_t>(stream.begin() + 1, stream.end()));

  o.sentence_level = true;
  std::int64_t sentences = 0;
  for (const Batch& b : lm_eval_batches(f.lm_path, o)) sentences += b.sentences;
  CHECK(sentences == static_cast<std::int64_t>(f.en.size()));
}

TEST_CASE("translation batches: token budget, length buckets, padding, lengths, long pairs skipped") {
  Fixture f;
  TranslationBatchOptions o;
  o.max_tokens = 200;
  o.max_len = 60;
  o.bucket_size = 64;
  const auto source = open_translation_source(f.mt_path, o, 5);
  std::int64_t total_padding = 0, total_cells = 0;
  for (int step = 0; step < 30; ++step) {
    const Batch b = source->next();
    const std::int64_t B = b.sentences, S = b.src.size(1), T = b.input.size(1);
    REQUIRE(b.src.size(0) == B);
    CHECK(B * std::max(S, T) <= 200);
    CHECK(std::max(S, T) <= 60);
    for (std::int64_t r = 0; r < B; ++r) {
      const std::int64_t ls = b.src_lengths.empty() ? S : b.src_lengths[static_cast<std::size_t>(r)];
      const std::int64_t lt = b.lengths.empty() ? T : b.lengths[static_cast<std::size_t>(r)];
      const auto src = row(b.src, r), in = row(b.input, r), out = row(b.target, r);
      CHECK(src[static_cast<std::size_t>(ls - 1)] == kEosId);
      CHECK(in[0] == kBosId);
      CHECK(out[static_cast<std::size_t>(lt - 1)] == kEosId);
      for (std::int64_t t = ls; t < S; ++t) CHECK(src[static_cast<std::size_t>(t)] == kPadId);
      for (std::int64_t t = lt; t < T; ++t) CHECK(out[static_cast<std::size_t>(t)] == kPadId);
      // Source and target are one pair of the corpus.
      const std::string en = f.tok->decode(src), es = f.tok->decode(out);
      const auto it = std::find(f.en.begin(), f.en.end(), en);
      REQUIRE(it != f.en.end());
      CHECK(f.es[static_cast<std::size_t>(it - f.en.begin())] == es);
      total_padding += T - lt;
      total_cells += T;
    }
  }
  // Bucketing keeps padding low: under a fifth of the target cells.
  CHECK(total_padding * 5 < total_cells);

  // Every pair longer than max_len is skipped, the others kept.
  std::int64_t too_long = 0;
  for (std::size_t k = 0; k < f.en.size(); ++k) {
    too_long += std::max(f.tok->encode(f.en[k]).size(), f.tok->encode(f.es[k]).size()) + 1 > 60;
  }
  REQUIRE(too_long > 0);
  std::int64_t pairs = 0;
  const auto counting = open_translation_source(f.mt_path, o, 5);
  while (counting->epoch() == 0) pairs += counting->next().sentences;
  // The first batch of epoch 1 was counted too; remove it by counting epoch 0 exactly.
  const auto exact = open_translation_source(f.mt_path, o, 5);
  std::int64_t epoch0 = 0;
  for (Batch b = exact->next(); exact->epoch() == 0; b = exact->next()) epoch0 += b.sentences;
  CHECK(epoch0 == static_cast<std::int64_t>(f.en.size()) - too_long);
  CHECK(pairs > epoch0);

  // Reversed direction: es -> en.
  TranslationBatchOptions r = o;
  r.src = "es";
  r.tgt = "en";
  const Batch rb = open_translation_source(f.mt_path, r, 5)->next();
  const std::string src_text = f.tok->decode(row(rb.src, 0));
  CHECK(std::find(f.es.begin(), f.es.end(), src_text) != f.es.end());
  CHECK_THROWS_AS(open_translation_source(f.lm_path, o, 5), Error);  // one side only
}

TEST_CASE("translation sources resume exactly, also through prefetch") {
  Fixture f;
  TranslationBatchOptions o;
  o.max_tokens = 300;
  o.max_len = 80;
  o.bucket_size = 50;
  const auto a = open_translation_source(f.mt_path, o, 11);
  for (int i = 0; i < 7; ++i) a->next();
  const auto saved = a->state();
  std::vector<Batch> expected;
  for (int i = 0; i < 80; ++i) expected.push_back(a->next());
  CHECK(a->epoch() >= 1);
  TranslationBatchOptions p = o;
  p.prefetch = 3;
  const auto b = open_translation_source(f.mt_path, p, 11);
  b->set_state(saved);
  for (const Batch& x : expected) REQUIRE(same(x, b->next()));
  TranslationBatchOptions q = o;
  q.bucket_size = 51;
  CHECK_THROWS_AS(open_translation_source(f.mt_path, q, 11)->set_state(saved), Error);
}

TEST_CASE("translation evaluation batches: every pair once, in file order, within the budget") {
  Fixture f;
  TranslationBatchOptions o;
  o.max_tokens = 150;
  std::size_t k = 0;
  for (const Batch& b : translation_eval_batches(f.mt_path, o)) {
    const std::int64_t width = std::max(b.src.size(1), b.input.size(1));
    CHECK((b.sentences == 1 || b.sentences * width <= 150));
    for (std::int64_t r = 0; r < b.sentences; ++r, ++k) {
      REQUIRE(k < f.en.size());
      CHECK(f.tok->decode(row(b.src, r)) == f.en[k]);
      CHECK(f.tok->decode(row(b.target, r)) == f.es[k]);
    }
  }
  CHECK(k == f.en.size());
}

TEST_CASE("batch_rows: a slice keeps the whole batch's widths and lengths and counts its own tokens") {
  // Targets: row 0 full, row 1 padded, row 2 padded more.
  Batch b = decoder_batch({{1, 5, 6, 7}, {1, 5}, {1}}, {{5, 6, 7, 2}, {5, 2}, {2}});
  b.src = Tensor::from_vector<std::int64_t>({4, 4, 2, 4, 2, 0, 2, 0, 0}, {3, 3});
  b.src_lengths = {3, 2, 1};
  REQUIRE(b.tokens == 7);
  const Batch top = batch_rows(b, 0, 1, kPadId);
  CHECK(top.sentences == 1);
  CHECK(top.input.shape() == Shape{1, 4});
  CHECK(top.lengths == std::vector<std::int64_t>{4});  // kept although this row is full
  CHECK(top.tokens == 4);
  const Batch rest = batch_rows(b, 1, 3, kPadId);
  CHECK(rest.sentences == 2);
  CHECK(rest.target.shape() == Shape{2, 4});
  CHECK(rest.src.shape() == Shape{2, 3});
  CHECK(rest.src_lengths == std::vector<std::int64_t>{2, 1});
  CHECK(rest.lengths == std::vector<std::int64_t>{2, 1});
  CHECK(rest.tokens == 3);
  CHECK(rest.target.at({0, 1}) == 2.0);
  CHECK(top.tokens + rest.tokens == b.tokens);
  CHECK(batch_rows(b, 2, 2, kPadId).sentences == 0);
  CHECK_THROWS_AS(batch_rows(b, 2, 4, kPadId), Error);
  CHECK_THROWS_AS(batch_rows(b, -1, 1, kPadId), Error);
}

TEST_CASE("split_windows: long language-model windows cut into short ones, in order, targets still the next tokens") {
  // Two windows of 8 tokens over a running text 0..16: input t, target t + 1.
  std::vector<std::int64_t> in(16), out(16);
  for (std::int64_t i = 0; i < 16; ++i) {
    in[static_cast<std::size_t>(i)] = 10 + i;
    out[static_cast<std::size_t>(i)] = 11 + i;
  }
  Batch b;
  b.input = Tensor::from_vector(in, {2, 8});
  b.target = Tensor::from_vector(out, {2, 8});
  b.tokens = 16;
  b.sentences = 2;
  const Batch s = split_windows(b, 2);
  CHECK(s.input.shape() == Shape{8, 2});
  CHECK(s.target.shape() == Shape{8, 2});
  CHECK(s.sentences == 8);
  CHECK(s.tokens == 16);
  for (std::int64_t r = 0; r < 8; ++r) {
    CHECK(s.input.at({r, 0}) == 10.0 + 2.0 * static_cast<double>(r));
    CHECK(s.target.at({r, 1}) == s.input.at({r, 1}) + 1.0);  // the next token, as in the long window
  }
  CHECK(split_windows(b, 8).input.shape() == Shape{2, 8});
  CHECK_THROWS_WITH_AS(split_windows(b, 3), doctest::Contains("windows of 8 tokens cannot be cut into windows of 3"),
                       Error);
  Batch padded = b;
  padded.lengths = {8, 5};
  CHECK_THROWS_WITH_AS(split_windows(padded, 4), doctest::Contains("unpadded"), Error);
}
