// Synthetic data: the copy, reverse and duplicate batches hold what they claim, the Markov chain's
// entropy rate matches its samples, and a source resumed from its state continues exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "data/synthetic.h"

using namespace kat;
namespace ids = kat::synthetic_ids;

namespace {

std::vector<std::int64_t> row(const Tensor& t, std::int64_t i, std::int64_t len) {
  std::vector<std::int64_t> out;
  for (std::int64_t j = 0; j < len; ++j) out.push_back(static_cast<std::int64_t>(t.at({i, j})));
  return out;
}

bool same_batch(const Batch& a, const Batch& b) {
  auto same = [](const Tensor& x, const Tensor& y) {
    if (x.defined() != y.defined()) return false;
    return !x.defined() || (x.shape() == y.shape() && x.to_vector<std::int64_t>() == y.to_vector<std::int64_t>());
  };
  return same(a.src, b.src) && same(a.input, b.input) && same(a.target, b.target) && a.lengths == b.lengths &&
         a.src_lengths == b.src_lengths && a.tokens == b.tokens && a.sentences == b.sentences;
}

}  // namespace

TEST_CASE("synthetic copy and reverse: target = source (reversed), bos-shifted input, eos, padding") {
  for (SyntheticTask task : {SyntheticTask::copy, SyntheticTask::reverse}) {
    CAPTURE(name(task));
    SyntheticOptions o;
    o.task = task;
    o.symbols = 5;
    o.min_len = 2;
    o.max_len = 6;
    o.batch_size = 16;
    SyntheticSource source(o, nullptr, Rng(3));
    const Batch b = source.next();
    REQUIRE(b.sentences == 16);
    REQUIRE(b.src.shape()[0] == 16);
    std::int64_t tokens = 0;
    bool padded = false;
    for (std::int64_t i = 0; i < 16; ++i) {
      const std::int64_t n = b.src_lengths.empty() ? b.src.size(1) : b.src_lengths[static_cast<std::size_t>(i)];
      REQUIRE(n >= 2);
      REQUIRE(n <= 6);
      std::vector<std::int64_t> x = row(b.src, i, n);
      for (auto t : x) CHECK((t >= ids::first_symbol && t < ids::first_symbol + 5));
      if (task == SyntheticTask::reverse) std::reverse(x.begin(), x.end());
      std::vector<std::int64_t> in = {ids::bos};
      in.insert(in.end(), x.begin(), x.end());
      std::vector<std::int64_t> out = x;
      out.push_back(ids::eos);
      CHECK(row(b.input, i, n + 1) == in);
      CHECK(row(b.target, i, n + 1) == out);
      CHECK(b.lengths[static_cast<std::size_t>(i)] == n + 1);
      for (std::int64_t j = n + 1; j < b.target.size(1); ++j) {
        CHECK(b.target.at({i, j}) == ids::pad);
        padded = true;
      }
      tokens += n + 1;
    }
    CHECK(padded);
    CHECK(b.tokens == tokens);
  }
}

TEST_CASE("synthetic duplicate: bos x sep x, only the copy is scored") {
  SyntheticOptions o;
  o.task = SyntheticTask::duplicate;
  o.min_len = o.max_len = 3;
  o.batch_size = 2;
  SyntheticSource source(o, nullptr, Rng(4));
  const Batch b = source.next();
  CHECK_FALSE(b.src.defined());
  REQUIRE(b.input.shape() == Shape{2, 7});  // bos x1 x2 x3 sep x1 x2 (x3 is only predicted)
  for (std::int64_t i = 0; i < 2; ++i) {
    const auto in = row(b.input, i, 7);
    const auto out = row(b.target, i, 7);
    CHECK(in[0] == ids::bos);
    CHECK(in[4] == ids::sep);
    CHECK(std::vector<std::int64_t>(out.begin(), out.begin() + 4) == std::vector<std::int64_t>(4, ids::pad));
    CHECK(std::vector<std::int64_t>(out.begin() + 4, out.end()) ==
          std::vector<std::int64_t>(in.begin() + 1, in.begin() + 4));
  }
  CHECK(b.tokens == 6);
}

TEST_CASE("markov chain: rows are distributions and the entropy rate matches the samples") {
  MarkovChain chain(12, 3, 99);
  double pi_sum = 0.0;
  for (std::int64_t i = 0; i < 12; ++i) {
    double row_sum = 0.0;
    int successors = 0;
    for (std::int64_t j = 0; j < 12; ++j) {
      row_sum += chain.probability(i, j);
      successors += chain.probability(i, j) > 0;
    }
    CHECK(row_sum == doctest::Approx(1.0));
    CHECK(successors == 3);
    CHECK(chain.probability(i, (i + 1) % 12) > 0);
    pi_sum += chain.stationary()[static_cast<std::size_t>(i)];
  }
  CHECK(pi_sum == doctest::Approx(1.0));
  // pi P = pi
  for (std::int64_t j = 0; j < 12; ++j) {
    double flow = 0.0;
    for (std::int64_t i = 0; i < 12; ++i)
      flow += chain.stationary()[static_cast<std::size_t>(i)] * chain.probability(i, j);
    CHECK(flow == doctest::Approx(chain.stationary()[static_cast<std::size_t>(j)]).epsilon(1e-9));
  }
  // The mean surprisal of sampled transitions converges to the entropy rate.
  SyntheticOptions o;
  o.task = SyntheticTask::markov;
  o.symbols = 12;
  o.seq_len = 50;
  o.batch_size = 40;
  auto shared = std::make_shared<MarkovChain>(12, 3, 99);
  SyntheticSource source(o, shared, Rng(5));
  double surprisal = 0.0;
  std::int64_t count = 0;
  for (int k = 0; k < 10; ++k) {
    const Batch b = source.next();
    CHECK(b.lengths.empty());
    for (std::int64_t i = 0; i < b.input.numel(); ++i) {
      const auto from = b.input.data<std::int64_t>()[i] - ids::first_symbol;
      const auto to = b.target.data<std::int64_t>()[i] - ids::first_symbol;
      const double p = shared->probability(from, to);
      REQUIRE(p > 0);
      surprisal -= std::log(p);
      ++count;
    }
  }
  CHECK(count == 20000);
  CHECK(surprisal / static_cast<double>(count) == doctest::Approx(chain.entropy_rate()).epsilon(0.03));
  CHECK(chain.entropy_rate() > 0.1);
  CHECK(chain.entropy_rate() < std::log(3.0) + 1e-12);
}

TEST_CASE("synthetic source: state() and set_state() resume the stream exactly") {
  for (SyntheticTask task : {SyntheticTask::copy, SyntheticTask::markov}) {
    CAPTURE(name(task));
    SyntheticOptions o;
    o.task = task;
    o.batch_size = 5;
    o.epoch_sentences = 12;
    auto chain = std::make_shared<MarkovChain>(o.symbols, 3, 1);
    SyntheticSource a(o, chain, Rng(11));
    a.next();
    a.next();
    const auto state = a.state();
    CHECK(a.epoch() == 0);
    const Batch next_a = a.next();
    CHECK(a.epoch() == 1);  // 15 sentences drawn, 12 per epoch
    SyntheticSource b(o, chain, Rng(999));
    b.set_state(state);
    CHECK(same_batch(b.next(), next_a));
    CHECK(b.epoch() == 1);
    CHECK(same_batch(b.next(), a.next()));
    CHECK_THROWS_WITH_AS(b.set_state({1, 2, 3}), doctest::Contains("not a synthetic source's"), Error);
  }
}

TEST_CASE("synthetic source: one batch of 2k sentences holds the sentences of two batches of k") {
  SyntheticOptions big;
  big.task = SyntheticTask::reverse;
  big.batch_size = 8;
  SyntheticOptions small = big;
  small.batch_size = 4;
  SyntheticSource a(big, nullptr, Rng(21)), b(small, nullptr, Rng(21));
  const Batch whole = a.next();
  const Batch first = b.next(), second = b.next();
  CHECK(whole.tokens == first.tokens + second.tokens);
  for (std::int64_t i = 0; i < 4; ++i) {
    CHECK(row(whole.src, i, first.src.size(1)) == row(first.src, i, first.src.size(1)));
    CHECK(row(whole.src, i + 4, second.src.size(1)) == row(second.src, i, second.src.size(1)));
  }
  // max_tokens: as many sentences as fit the longest sequence's padded size.
  SyntheticOptions by_tokens = big;
  by_tokens.max_tokens = 100;
  CHECK(SyntheticSource(by_tokens, nullptr, Rng(1)).sentences_per_batch() == 100 / 17);
}

TEST_CASE("synthetic validation set: fixed by its seed, any number of sentences") {
  SyntheticOptions o;
  o.task = SyntheticTask::copy;
  o.batch_size = 8;
  const auto v1 = synthetic_batches(o, nullptr, 5, 20);
  const auto v2 = synthetic_batches(o, nullptr, 5, 20);
  REQUIRE(v1.size() == 3);
  CHECK(v1[2].sentences == 4);
  std::int64_t sentences = 0;
  for (std::size_t i = 0; i < v1.size(); ++i) {
    CHECK(same_batch(v1[i], v2[i]));
    sentences += v1[i].sentences;
  }
  CHECK(sentences == 20);
  CHECK_FALSE(same_batch(synthetic_batches(o, nullptr, 6, 20)[0], v1[0]));
}
