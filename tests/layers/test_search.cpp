// Greedy and beam search against exhaustive search on a toy model whose logits depend on the whole
// history kept in its decoding state (so a wrong reorder shows), and sampling's distribution.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>

#include "core/parallel.h"
#include "layers/decoding/search.h"
#include "layers/decoding/threads.h"

using namespace kat;

namespace {

// The toy's state: per row, the item it belongs to and the tokens fed so far.
class HistoryState final : public AttentionState {
 public:
  std::vector<std::vector<std::int64_t>> rows;
  void reorder(const Tensor& indices) override {
    std::vector<std::vector<std::int64_t>> next;
    for (std::int64_t i : indices.to_vector<std::int64_t>()) next.push_back(rows.at(static_cast<std::size_t>(i)));
    rows = std::move(next);
  }
  std::int64_t length() const override { return rows.empty() ? 0 : static_cast<std::int64_t>(rows[0].size()); }
};

constexpr std::int64_t kV = 4, kBos = 3, kEos = 2;

// A fixed pseudo-random logit for (history, token).
double toy_logit(const std::vector<std::int64_t>& history, std::int64_t token) {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::int64_t t : history) h = (h ^ static_cast<std::uint64_t>(t + 7)) * 1099511628211ULL;
  h = (h ^ static_cast<std::uint64_t>(token + 101)) * 1099511628211ULL;
  h ^= h >> 29;
  return static_cast<double>(h % 10007) / 10007.0 * 4.0 - 2.0;
}

DecodeState toy_state(std::int64_t batch) {
  DecodeState s;
  auto st = std::make_unique<HistoryState>();
  for (std::int64_t b = 0; b < batch; ++b) st->rows.push_back({100 + b});  // the item id leads the history
  s.self.push_back(std::move(st));
  s.batch = batch;
  return s;
}

Tensor toy_step(const Tensor& ids, DecodeState& state) {
  auto& st = dynamic_cast<HistoryState&>(*state.self[0]);
  const auto v = ids.to_vector<std::int64_t>();
  REQUIRE(v.size() == st.rows.size());
  Tensor logits = Tensor::empty({static_cast<std::int64_t>(v.size()), kV});
  for (std::size_t r = 0; r < v.size(); ++r) {
    st.rows[r].push_back(v[r]);
    for (std::int64_t t = 0; t < kV; ++t)
      logits.data<float>()[r * kV + t] = static_cast<float>(toy_logit(st.rows[r], t));
  }
  return logits;
}

double log_prob(const std::vector<std::int64_t>& history, std::int64_t token) {
  double mx = -1e300, s = 0;
  for (std::int64_t t = 0; t < kV; ++t)
    mx = std::max(mx, static_cast<double>(static_cast<float>(toy_logit(history, t))));
  for (std::int64_t t = 0; t < kV; ++t) s += std::exp(static_cast<float>(toy_logit(history, t)) - mx);
  return static_cast<float>(toy_logit(history, token)) - mx - std::log(s);
}

// The best finished hypothesis of item b over every sequence of at most max_len - 1 tokens.
Hypothesis exhaustive(std::int64_t item, std::int64_t max_len, double alpha) {
  Hypothesis best;
  best.score = -1e300;
  std::function<void(std::vector<std::int64_t>&, std::vector<std::int64_t>&, double)> walk =
      [&](std::vector<std::int64_t>& hist, std::vector<std::int64_t>& toks, double lp) {
        const double end = lp + log_prob(hist, kEos);
        const double score = end / std::pow((5.0 + static_cast<double>(toks.size() + 1)) / 6.0, alpha);
        if (score > best.score) best = Hypothesis{toks, end, score, true};
        if (static_cast<std::int64_t>(toks.size()) + 1 >= max_len) return;
        for (std::int64_t t = 0; t < kV; ++t) {
          if (t == kEos) continue;
          const double l = lp + log_prob(hist, t);
          hist.push_back(t);
          toks.push_back(t);
          walk(hist, toks, l);
          hist.pop_back();
          toks.pop_back();
        }
      };
  std::vector<std::int64_t> hist{100 + item, kBos}, toks;
  walk(hist, toks, 0.0);
  return best;
}

}  // namespace

TEST_CASE("beam search with a beam wide enough is exhaustive search, item by item in a batch") {
  const std::int64_t max_len = 4;  // at most 3 non-eos tokens: 27 live prefixes at the widest
  int greedy_misses = 0;           // the search must matter: greedy misses the best somewhere
  for (double alpha : {0.0, 1.0}) {
    CAPTURE(alpha);
    SearchOptions o;
    o.bos = kBos;
    o.eos = kEos;
    o.beam = 27;
    o.length_penalty = alpha;
    DecodeState state = toy_state(3);
    const auto got = beam_search(toy_step, state, {max_len, max_len, max_len}, o);
    REQUIRE(got.size() == 3);
    for (std::int64_t b = 0; b < 3; ++b) {
      const Hypothesis want = exhaustive(b, max_len, alpha);
      CAPTURE(b);
      CHECK(got[static_cast<std::size_t>(b)].tokens == want.tokens);
      CHECK(got[static_cast<std::size_t>(b)].score == doctest::Approx(want.score).epsilon(1e-9));
      CHECK(got[static_cast<std::size_t>(b)].finished);
    }
    SearchOptions g = o;
    g.beam = 1;
    DecodeState gs = toy_state(3);
    const auto greedy = beam_search(toy_step, gs, {max_len, max_len, max_len}, g);
    for (std::int64_t b = 0; b < 3; ++b)
      greedy_misses += greedy[static_cast<std::size_t>(b)].tokens != exhaustive(b, max_len, alpha).tokens;
  }
  CHECK(greedy_misses > 0);
}

TEST_CASE("n-best lists: the best first and equal to beam search's, distinct, ranked, at most nbest") {
  const std::int64_t max_len = 4;
  SearchOptions o;
  o.bos = kBos;
  o.eos = kEos;
  o.beam = 6;
  o.nbest = 4;
  o.length_penalty = 1.0;
  DecodeState state = toy_state(2);
  const auto lists = beam_search_nbest(toy_step, state, {max_len, max_len}, o);
  DecodeState one = toy_state(2);
  const auto best = beam_search(toy_step, one, {max_len, max_len}, o);
  REQUIRE(lists.size() == 2);
  for (std::size_t b = 0; b < 2; ++b) {
    CAPTURE(b);
    REQUIRE(lists[b].size() == 4);
    CHECK(lists[b][0].tokens == best[b].tokens);
    for (std::size_t k = 1; k < lists[b].size(); ++k) {
      CHECK(lists[b][k].tokens != lists[b][k - 1].tokens);
      if (lists[b][k].finished == lists[b][k - 1].finished) CHECK(lists[b][k].score <= lists[b][k - 1].score);
    }
  }
  o.nbest = 7;
  DecodeState again = toy_state(2);
  CHECK_THROWS_WITH_AS(beam_search_nbest(toy_step, again, {max_len, max_len}, o),
                       "beam_search: nbest must be in [1, beam = 6], got 7", Error);
}

TEST_CASE("beam 1 is greedy decoding, and a wider beam never scores worse") {
  SearchOptions o;
  o.bos = kBos;
  o.eos = kEos;
  o.length_penalty = 0.0;
  const std::int64_t max_len = 12;
  DecodeState s1 = toy_state(2);
  const auto greedy = beam_search(toy_step, s1, {max_len, max_len}, o);
  for (std::int64_t b = 0; b < 2; ++b) {
    // Greedy by hand.
    std::vector<std::int64_t> hist{100 + b, kBos}, toks;
    double lp = 0;
    bool finished = false;
    while (static_cast<std::int64_t>(toks.size()) < max_len) {
      std::int64_t arg = 0;
      for (std::int64_t t = 1; t < kV; ++t) {
        if (static_cast<float>(toy_logit(hist, t)) > static_cast<float>(toy_logit(hist, arg))) arg = t;
      }
      lp += log_prob(hist, arg);
      if (arg == kEos) {
        finished = true;
        break;
      }
      toks.push_back(arg);
      hist.push_back(arg);
    }
    CHECK(greedy[static_cast<std::size_t>(b)].tokens == toks);
    CHECK(greedy[static_cast<std::size_t>(b)].finished == finished);
    CHECK(greedy[static_cast<std::size_t>(b)].log_prob == doctest::Approx(lp).epsilon(1e-9));
  }
  o.beam = 4;
  DecodeState s4 = toy_state(2);
  const auto wide = beam_search(toy_step, s4, {max_len, max_len}, o);
  for (std::size_t b = 0; b < 2; ++b) {
    if (greedy[b].finished) CHECK(wide[b].score >= greedy[b].score - 1e-12);
  }
}

TEST_CASE("beam search: length limits per item and bad options") {
  SearchOptions o;
  o.bos = kBos;
  o.eos = 99;  // never produced: every hypothesis runs to its limit
  o.beam = 3;
  DecodeState state = toy_state(2);
  const auto got = beam_search(toy_step, state, {2, 5}, o);
  CHECK(got[0].tokens.size() == 2);
  CHECK(got[1].tokens.size() == 5);
  CHECK_FALSE(got[0].finished);
  o.beam = 0;
  DecodeState s2 = toy_state(1);
  CHECK_THROWS_WITH_AS(beam_search(toy_step, s2, {3}, o), doctest::Contains("beam must be >= 1"), Error);
  o.beam = 2;
  DecodeState s3 = toy_state(2);
  CHECK_THROWS_WITH_AS(beam_search(toy_step, s3, {3}, o),
                       doctest::Contains("1 length limits for a decoding state of 2"), Error);
}

TEST_CASE("sampling follows temperature, top-k and top-p") {
  // Probabilities 0.5, 0.3, 0.2 (and a fourth token with none).
  Tensor logits = Tensor::from_vector<float>(
      {std::log(0.5f), std::log(0.3f), std::log(0.2f), -1e30f, std::log(0.2f), std::log(0.3f), std::log(0.5f), -1e30f},
      {2, 4});
  Rng rng(5);
  auto freq = [&](const SamplingOptions& o, int draws) {
    std::vector<double> f(8, 0.0);
    for (int i = 0; i < draws; ++i) {
      const auto t = sample_tokens(logits, o, rng).to_vector<std::int64_t>();
      f[static_cast<std::size_t>(t[0])] += 1.0 / draws;
      f[4 + static_cast<std::size_t>(t[1])] += 1.0 / draws;
    }
    return f;
  };
  const auto plain = freq(SamplingOptions{}, 20000);
  CHECK(plain[0] == doctest::Approx(0.5).epsilon(0.04));
  CHECK(plain[1] == doctest::Approx(0.3).epsilon(0.06));
  CHECK(plain[6] == doctest::Approx(0.5).epsilon(0.04));
  CHECK(plain[3] == 0.0);
  const auto nucleus = freq(SamplingOptions{1.0, 0, 0.7}, 20000);  // keeps 0.5 and 0.3
  CHECK(nucleus[0] == doctest::Approx(0.625).epsilon(0.04));
  CHECK(nucleus[2] == 0.0);
  CHECK(nucleus[4] == 0.0);
  const auto top1 = freq(SamplingOptions{1.0, 1, 1.0}, 200);
  CHECK(top1[0] == doctest::Approx(1.0));
  CHECK(top1[6] == doctest::Approx(1.0));
  const auto cold = freq(SamplingOptions{0.05, 0, 1.0}, 2000);  // near-greedy
  CHECK(cold[0] > 0.99);
  CHECK(greedy_tokens(logits).to_vector<std::int64_t>() == std::vector<std::int64_t>{0, 2});
  CHECK_THROWS_WITH_AS(sample_tokens(logits, SamplingOptions{0.0, 0, 1.0}, rng), doctest::Contains("temperature"),
                       Error);
  CHECK_THROWS_WITH_AS(sample_tokens(logits, SamplingOptions{1.0, 0, 1.5}, rng), doctest::Contains("top_p"), Error);
}

TEST_CASE("decoding threads: a chosen thread count is kept and nothing is decoded to measure") {
  // The test runner sets its thread count, as kat --threads does: then no trial decoding runs.
  const int saved = num_threads();
  set_num_threads(2);
  REQUIRE(num_threads_chosen());
  int starts = 0, steps = 0;
  const DecodingThreads dt = choose_decoding_threads(
      [&] {
        ++starts;
        return DecodeState{};
      },
      [&](DecodeState&) { ++steps; });
  CHECK_FALSE(dt.measured);
  CHECK(dt.threads == 2);
  CHECK(num_threads() == 2);
  CHECK(starts == 0);
  CHECK(steps == 0);
  set_num_threads(saved);
}
