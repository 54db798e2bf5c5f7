// BLEU and chrF on cases worked by hand, following sacreBLEU's definitions (see bleu.h).
#include <doctest/doctest.h>

#include <cmath>

#include "core/error.h"
#include "train/metrics/bleu.h"

using namespace kat;

namespace {
using Words = std::vector<std::string>;
}

TEST_CASE("13a tokenization splits punctuation as mteval-v13a does") {
  CHECK(tokenize_13a("Hello, world!") == Words{"Hello", ",", "world", "!"});
  CHECK(tokenize_13a("It costs $3.14, or 1,000 for 2-3 of them.") ==
        Words{"It", "costs", "$", "3.14", ",", "or", "1,000", "for", "2", "-", "3", "of", "them", "."});
  CHECK(tokenize_13a("e.g. a well-known (rare) case") ==
        Words{"e", ".", "g", ".", "a", "well-known", "(", "rare", ")", "case"});
  CHECK(tokenize_13a("&quot;Yes&quot; &amp; no &lt;b&gt;") == Words{"\"", "Yes", "\"", "&", "no", "<", "b", ">"});
  CHECK(tokenize_13a("  many \t spaces\n") == Words{"many", "spaces"});
  CHECK(tokenize_13a("don't") == Words{"don't"});  // the apostrophe stays inside the word
  // Non-ASCII letters and punctuation stay attached: 13a splits ASCII symbols only.
  CHECK(tokenize_13a("¡Hola, señor! ¿Qué tal?") == Words{"¡Hola", ",", "señor", "!", "¿Qué", "tal", "?"});
  CHECK(tokenize_13a("a\u00a0b") == Words{"a", "b"});  // a no-break space separates words, as str.split does
  CHECK(tokenize_13a("").empty());
}

TEST_CASE("BLEU: perfect match, no match, brevity penalty and exp smoothing") {
  const BleuScore perfect = corpus_bleu({"the cat sat on the mat", "a dog ."}, {"the cat sat on the mat", "a dog ."});
  CHECK(perfect.score == doctest::Approx(100.0));
  CHECK(perfect.brevity_penalty == 1.0);

  const BleuScore none = corpus_bleu({"x y z w"}, {"a b c d"});
  CHECK(none.score == 0.0);

  // Five of six tokens, every n-gram correct: BP = exp(1 - 6/5).
  const BleuScore short_hyp = corpus_bleu({"the cat sat on the"}, {"the cat sat on the mat"});
  CHECK(short_hyp.brevity_penalty == doctest::Approx(std::exp(-0.2)));
  CHECK(short_hyp.score == doctest::Approx(100.0 * std::exp(-0.2)));

  // a b c d against a b x d: 3/4 unigrams, 1/3 bigrams, no trigram (smoothed to 100 / (2 * 2)) and no
  // 4-gram (100 / (4 * 1)): BLEU = (75 * 33.33 * 25 * 25)^(1/4) = 35.355.
  const BleuScore smoothed = corpus_bleu({"a b c d"}, {"a b x d"});
  CHECK(smoothed.correct == std::array<std::int64_t, 4>{3, 1, 0, 0});
  CHECK(smoothed.total == std::array<std::int64_t, 4>{4, 3, 2, 1});
  CHECK(smoothed.precisions[2] == doctest::Approx(25.0));
  CHECK(smoothed.precisions[3] == doctest::Approx(25.0));
  CHECK(smoothed.score == doctest::Approx(std::pow(75.0 * (100.0 / 3.0) * 25.0 * 25.0, 0.25)));

  // Too short for any 3-gram: the missing orders make the score 0 (sacreBLEU without effective order).
  CHECK(corpus_bleu({"the cat"}, {"the cat sat"}).score == doctest::Approx(0.0).epsilon(1e-12));

  // Counts are clipped by the reference and summed over the corpus before the score.
  const BleuScore clipped = corpus_bleu({"the the the the", "a b c d"}, {"the cat", "a b c d"});
  CHECK(clipped.correct[0] == 1 + 4);
  CHECK(clipped.total[0] == 4 + 4);
  CHECK(clipped.sys_len == 8);
  CHECK(clipped.ref_len == 6);
}

TEST_CASE("BLEU: empty lines, punctuation through 13a, and the printed line") {
  CHECK(corpus_bleu({"", "a b c d"}, {"", "a b c d"}).score == doctest::Approx(100.0));
  // "word." and "word ." tokenize alike, so they match.
  CHECK(corpus_bleu({"He said: yes, it is."}, {"He said : yes , it is ."}).score == doctest::Approx(100.0));
  const BleuScore s = corpus_bleu({"a b c d"}, {"a b x d"});
  CHECK(s.format() == "BLEU = 35.36 75.0/33.3/25.0/25.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)");
  CHECK(BleuScore::signature() == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp");
  CHECK_THROWS_WITH_AS(corpus_bleu({"a"}, {"a", "b"}), doctest::Contains("1 hypotheses but 2 references"), Error);
}

TEST_CASE("chrF: character n-grams without white space, averaged over orders, beta 2") {
  CHECK(corpus_chrf({"the cat"}, {"the cat"}).score == doctest::Approx(100.0));
  CHECK(corpus_chrf({"xyz"}, {"abc"}).score == 0.0);
  CHECK(corpus_chrf({"a b"}, {"ab"}).score == doctest::Approx(100.0));  // spaces are removed first
  // "ab" against "abc": orders 1 and 2 exist in both (order 3 only in the reference).
  // P = (2/2 + 1/1) / 2 = 1, R = (2/3 + 1/2) / 2 = 7/12; F2 = 5 P R / (4 P + R).
  const double p = 1.0, r = 7.0 / 12.0;
  CHECK(corpus_chrf({"ab"}, {"abc"}).score == doctest::Approx(100.0 * 5 * p * r / (4 * p + r)));
  // Code points, not bytes: "ñ" is one character.
  CHECK(corpus_chrf({"ñ"}, {"ñ"}).score == doctest::Approx(100.0));
  const double pn = 1.0, rn = (1.0 / 2.0 + 0.0) / 1.0;  // order 1: 1 of 1 / 1 of 2; order 2: only in the reference
  CHECK(corpus_chrf({"ñ"}, {"ña"}).score == doctest::Approx(100.0 * 5 * pn * rn / (4 * pn + rn)));
  CHECK(corpus_chrf({""}, {"abc"}).score == 0.0);
  CHECK(ChrfScore{52.314}.format() == "chrF2 = 52.31");
}

TEST_CASE("BLEU of a corpus scored in two parts: the summed counts give the whole corpus's score") {
  const std::vector<std::string> hyp = {"the cat sat on the mat", "a dog barked at the moon", "hello world",
                                        "it is raining today in the city"};
  const std::vector<std::string> ref = {"the cat sat on a mat", "the dog barked at the moon", "hello there world",
                                        "today it is raining in the city"};
  const BleuScore whole = corpus_bleu(hyp, ref);
  const BleuScore a = corpus_bleu({hyp[0], hyp[2]}, {ref[0], ref[2]});
  const BleuScore b = corpus_bleu({hyp[1], hyp[3]}, {ref[1], ref[3]});
  BleuScore sum;
  for (std::size_t n = 0; n < 4; ++n) {
    sum.correct[n] = a.correct[n] + b.correct[n];
    sum.total[n] = a.total[n] + b.total[n];
  }
  sum.sys_len = a.sys_len + b.sys_len;
  sum.ref_len = a.ref_len + b.ref_len;
  const BleuScore parts = bleu_from_counts(sum);
  CHECK(parts.score == whole.score);
  CHECK(parts.brevity_penalty == whole.brevity_penalty);
  CHECK(whole.score > 0.0);
}
