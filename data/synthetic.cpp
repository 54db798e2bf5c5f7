#include "data/synthetic.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "core/error.h"

namespace kat {
namespace {

constexpr std::int64_t kStateTag = 0x53594e54;  // "SYNT"

std::int64_t draw_index(Rng& rng, const std::vector<std::pair<std::int64_t, double>>& dist) {
  const double u = rng.uniform();
  double c = 0.0;
  for (const auto& [s, p] : dist) {
    c += p;
    if (u < c) return s;
  }
  return dist.back().first;
}

}  // namespace

MarkovChain::MarkovChain(std::int64_t symbols, std::int64_t branching, std::uint64_t seed) {
  if (symbols < 2) throw Error(fmt::format("markov chain: needs at least 2 symbols, got {}", symbols));
  if (branching < 1) throw Error(fmt::format("markov chain: branching must be >= 1, got {}", branching));
  if (symbols * std::min(branching, symbols) > kMaxMarkovTransitions) {
    throw Error(fmt::format("markov chain: {} symbols with {} successors each is more than {} transitions", symbols,
                            std::min(branching, symbols), kMaxMarkovTransitions));
  }
  Rng rng(seed);
  const std::int64_t b = std::min(branching, symbols);
  next_.resize(static_cast<std::size_t>(symbols));
  for (std::int64_t i = 0; i < symbols; ++i) {
    // Successors: i + 1 (mod n) keeps every state reachable; the others are drawn without repeats.
    // (A set remembers the drawn ones when there are many: the same draws, in linear time.)
    std::vector<std::int64_t> succ = {(i + 1) % symbols};
    std::unordered_set<std::int64_t> drawn;
    if (b > 64) drawn.insert(succ[0]);
    while (static_cast<std::int64_t>(succ.size()) < b) {
      const auto s = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(symbols)));
      const bool seen = b > 64 ? !drawn.insert(s).second : std::find(succ.begin(), succ.end(), s) != succ.end();
      if (!seen) succ.push_back(s);
    }
    std::sort(succ.begin(), succ.end());
    // Probabilities: normalized exponential draws (a flat Dirichlet).
    std::vector<double> w(succ.size());
    double total = 0.0;
    for (auto& x : w) total += (x = -std::log(1.0 - rng.uniform()) + 1e-3);
    for (std::size_t k = 0; k < succ.size(); ++k) next_[i].emplace_back(succ[k], w[k] / total);
  }
  // Stationary distribution by power iteration of the lazy chain (P + I) / 2, which has the same
  // fixed point and converges even when P is periodic.
  std::vector<double> pi(static_cast<std::size_t>(symbols), 1.0 / static_cast<double>(symbols));
  for (int it = 0; it < 100000; ++it) {
    std::vector<double> q(pi.size(), 0.0);
    for (std::size_t i = 0; i < pi.size(); ++i) {
      q[i] += 0.5 * pi[i];
      for (const auto& [j, p] : next_[i]) q[static_cast<std::size_t>(j)] += 0.5 * pi[i] * p;
    }
    double diff = 0.0;
    for (std::size_t i = 0; i < pi.size(); ++i) diff += std::abs(q[i] - pi[i]);
    pi = std::move(q);
    if (diff < 1e-15) break;
  }
  stationary_ = pi;
  entropy_rate_ = 0.0;
  for (std::size_t i = 0; i < pi.size(); ++i) {
    for (const auto& [j, p] : next_[i]) entropy_rate_ -= pi[i] * p * std::log(p);
  }
}

std::int64_t MarkovChain::sample_start(Rng& rng) const {
  std::vector<std::pair<std::int64_t, double>> dist;
  for (std::size_t i = 0; i < stationary_.size(); ++i) dist.emplace_back(static_cast<std::int64_t>(i), stationary_[i]);
  return draw_index(rng, dist);
}

std::int64_t MarkovChain::sample_next(std::int64_t state, Rng& rng) const {
  return draw_index(rng, next_.at(static_cast<std::size_t>(state)));
}

double MarkovChain::probability(std::int64_t from, std::int64_t to) const {
  for (const auto& [j, p] : next_.at(static_cast<std::size_t>(from))) {
    if (j == to) return p;
  }
  return 0.0;
}

std::int64_t synthetic_max_length(const SyntheticOptions& o) {
  if (o.task == SyntheticTask::markov) return o.seq_len;
  if (o.task == SyntheticTask::duplicate) return 2 * o.max_len + 1;
  return o.max_len + 1;
}

SyntheticSource::SyntheticSource(const SyntheticOptions& options, std::shared_ptr<const MarkovChain> chain,
                                 const Rng& rng)
    : options_(options), chain_(std::move(chain)), rng_(rng) {
  const auto& o = options_;
  if (o.task == SyntheticTask::markov && (!chain_ || chain_->symbols() != o.symbols)) {
    throw Error("synthetic data: markov needs a chain over the same symbols");
  }
  if (o.symbols < 2 || o.min_len < 1 || o.min_len > o.max_len || o.seq_len < 1 || o.batch_size < 1 ||
      o.epoch_sentences < 1 || o.max_tokens < 0) {
    throw Error(fmt::format("synthetic data: bad sizes (symbols {}, lengths {}..{}, seq_len {}, batch {}, epoch {})",
                            o.symbols, o.min_len, o.max_len, o.seq_len, o.batch_size, o.epoch_sentences));
  }
}

std::int64_t SyntheticSource::sentences_per_batch() const {
  if (options_.max_tokens > 0) return std::max<std::int64_t>(1, options_.max_tokens / synthetic_max_length(options_));
  return options_.batch_size;
}

SyntheticSource::Sentence SyntheticSource::draw() {
  using namespace synthetic_ids;
  const auto& o = options_;
  Sentence s;
  auto symbol = [&] {
    return first_symbol + static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(o.symbols)));
  };
  if (o.task == SyntheticTask::markov) {
    std::vector<std::int64_t> seq(static_cast<std::size_t>(o.seq_len + 1));
    std::int64_t state = chain_->sample_start(rng_);
    for (auto& t : seq) {
      t = first_symbol + state;
      state = chain_->sample_next(state, rng_);
    }
    s.input.assign(seq.begin(), seq.end() - 1);
    s.target.assign(seq.begin() + 1, seq.end());
    return s;
  }
  const auto len =
      o.min_len + static_cast<std::int64_t>(rng_.below(static_cast<std::uint64_t>(o.max_len - o.min_len + 1)));
  std::vector<std::int64_t> x(static_cast<std::size_t>(len));
  for (auto& t : x) t = symbol();
  if (o.task == SyntheticTask::duplicate) {
    // full = bos x sep x; the decoder reads full[:-1] and predicts full[1:], scored on the copy.
    std::vector<std::int64_t> full = {bos};
    full.insert(full.end(), x.begin(), x.end());
    full.push_back(sep);
    full.insert(full.end(), x.begin(), x.end());
    s.input.assign(full.begin(), full.end() - 1);
    s.target.assign(full.begin() + 1, full.end());
    std::fill(s.target.begin(), s.target.begin() + len + 1, pad);
    return s;
  }
  std::vector<std::int64_t> y = x;
  if (o.task == SyntheticTask::reverse) std::reverse(y.begin(), y.end());
  s.src = x;
  s.input = {bos};
  s.input.insert(s.input.end(), y.begin(), y.end());
  s.target = y;
  s.target.push_back(eos);
  return s;
}

Batch SyntheticSource::collate(const std::vector<Sentence>& sentences) const {
  using synthetic_ids::pad;
  const auto b = static_cast<std::int64_t>(sentences.size());
  auto pad_into = [&](auto member, std::vector<std::int64_t>& lengths) {
    std::int64_t width = 0;
    for (const auto& s : sentences) width = std::max(width, static_cast<std::int64_t>((s.*member).size()));
    Tensor t = Tensor::full({b, width}, static_cast<double>(pad), DType::i64);
    std::int64_t* p = t.data<std::int64_t>();
    bool padded = false;
    lengths.clear();
    for (std::int64_t i = 0; i < b; ++i) {
      const auto& v = sentences[static_cast<std::size_t>(i)].*member;
      std::copy(v.begin(), v.end(), p + i * width);
      lengths.push_back(static_cast<std::int64_t>(v.size()));
      padded = padded || static_cast<std::int64_t>(v.size()) < width;
    }
    if (!padded) lengths.clear();
    return t;
  };
  Batch batch;
  std::vector<std::int64_t> target_lengths;
  if (!sentences.front().src.empty()) batch.src = pad_into(&Sentence::src, batch.src_lengths);
  batch.input = pad_into(&Sentence::input, batch.lengths);
  batch.target = pad_into(&Sentence::target, target_lengths);
  const std::int64_t* t = batch.target.data<std::int64_t>();
  for (std::int64_t i = 0; i < batch.target.numel(); ++i) batch.tokens += t[i] != pad;
  batch.sentences = b;
  return batch;
}

Batch SyntheticSource::next() {
  std::vector<Sentence> sentences;
  const std::int64_t n = sentences_per_batch();
  for (std::int64_t i = 0; i < n; ++i) sentences.push_back(draw());
  sentences_ += n;
  return collate(sentences);
}

std::vector<std::int64_t> SyntheticSource::state() const {
  const Rng::State s = rng_.state();
  return {kStateTag,
          static_cast<std::int64_t>(s[0]),
          static_cast<std::int64_t>(s[1]),
          static_cast<std::int64_t>(s[2]),
          static_cast<std::int64_t>(s[3]),
          sentences_};
}

void SyntheticSource::set_state(const std::vector<std::int64_t>& state) {
  if (state.size() != 6 || state[0] != kStateTag || state[5] < 0) {
    throw Error(fmt::format(
        "synthetic data: the saved data position ({} integers) is not a synthetic source's; was the checkpoint "
        "written with another data.kind?",
        state.size()));
  }
  rng_.set_state({static_cast<std::uint64_t>(state[1]), static_cast<std::uint64_t>(state[2]),
                  static_cast<std::uint64_t>(state[3]), static_cast<std::uint64_t>(state[4])});
  sentences_ = state[5];
}

std::vector<Batch> synthetic_batches(const SyntheticOptions& options, const std::shared_ptr<const MarkovChain>& chain,
                                     std::uint64_t seed, std::int64_t sentences) {
  SyntheticOptions o = options;
  SyntheticSource source(o, chain, Rng(seed));
  const std::int64_t per = source.sentences_per_batch();
  std::vector<Batch> out;
  std::int64_t left = sentences;
  while (left > 0) {
    if (left < per) {
      o.max_tokens = 0;
      o.batch_size = left;
      SyntheticSource last(o, chain, Rng(0));
      last.set_state(source.state());
      out.push_back(last.next());
      break;
    }
    out.push_back(source.next());
    left -= per;
  }
  return out;
}

}  // namespace kat
