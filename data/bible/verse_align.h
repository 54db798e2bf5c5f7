#pragma once
// Length-based sentence alignment after Gale and Church (1993), "A program for aligning sentences
// in bilingual corpora": the character length of a translation is modelled as normal with mean
// c * l and variance s^2 * l; a dynamic program over the two sequences scores beads of 1-1, 1-0,
// 0-1, 2-1, 1-2 and 2-2 sentences by their prior and by how well their lengths agree.
//
// kat runs it on the verses of one book, in order, and adds two things:
// - the verse keys: a 1-1 bead whose two verses carry different keys pays a small penalty, so that
//   where lengths are silent the keys decide;
// - the forward-backward posterior of each 1-1 bead, in place of the single best path: a pair is
//   kept only when the model is sure of it (posterior >= min_posterior) and its lengths agree
//   (two-sided normal tail >= min_match_probability). Regions where the two Bibles number verses
//   differently and lengths cannot tell the offset come out uncertain and are dropped.

#include <cstdint>
#include <vector>

namespace kat {

struct LengthModel {
  double ratio = 1.0;     // c: expected target characters per source character
  double variance = 6.8;  // s^2: variance of the target length per source character
};

struct AlignmentOptions {
  double min_posterior = 0.9;
  double min_match_probability = 1e-4;
  double key_mismatch_penalty = 0.5;  // nats added to a 1-1 bead across different keys
  std::int64_t band = 30;             // how far (in verses) the path may leave the diagonal
  double prior_1_1 = 0.99;
  double prior_1_0 = 0.002;  // each of 1-0 and 0-1
  double prior_2_1 = 0.002;  // each of 2-1 and 1-2
  double prior_2_2 = 0.0002;
};

// One side of a book: each verse's length in characters and a key id (equal ids = same key).
struct AlignmentSide {
  std::vector<std::int64_t> lengths;
  std::vector<std::int64_t> keys;
};

struct AlignedPair {
  std::size_t a = 0;  // index into side a
  std::size_t b = 0;  // index into side b
  double posterior = 0.0;
  double match_probability = 0.0;
};

struct AlignmentResult {
  std::vector<AlignedPair> pairs;    // kept, in order
  std::int64_t length_mismatch = 0;  // 1-1 beads the model was sure of but whose lengths disagree
};

// The ratio from total lengths, the variance from the median absolute deviation of the
// normalised differences (robust to the pairs that do not match), doubled for heavier tails.
// Each pair is (source length, target length) of two verses with the same key.
LengthModel estimate_length_model(const std::vector<std::pair<std::int64_t, std::int64_t>>& same_key_lengths);

// Log of the probability that lengths (la, lb) are translations under the model (two-sided tail).
double log_match_probability(std::int64_t la, std::int64_t lb, const LengthModel& model);

AlignmentResult align_by_length(const AlignmentSide& a, const AlignmentSide& b, const LengthModel& model,
                                const AlignmentOptions& options);

}  // namespace kat
