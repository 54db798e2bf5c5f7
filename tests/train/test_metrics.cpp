// BLEU and chrF against sacreBLEU 2.x: the test vectors its own tests publish (each case cites the
// file of github.com/mjpost/sacrebleu it comes from), and cases worked by hand from the definitions
// in bleu.h and chrf.h (the working is in the comments).
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "train/metrics/bleu.h"
#include "train/metrics/chrf.h"
#include "train/metrics/report.h"
#include "train/metrics/text.h"
#include "train/metrics/tokenizers.h"

using namespace kat;

namespace {

using Words = std::vector<std::string>;
using Lines = std::vector<std::string>;
using References = std::vector<std::vector<std::string>>;

// A score within `tolerance` of `expected` (doctest's epsilon is relative to 1 + |value|).
doctest::Approx near(double expected, double tolerance = 1e-4) {
  return doctest::Approx(expected).epsilon(tolerance / (1.0 + std::abs(expected)));
}

// The README example of sacreBLEU: three hypotheses, two sets of references.
const Lines kHyps = {"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."};
const References kRefs = {{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
                          {"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."}};

// sacreBLEU's raw_corpus_bleu: no tokenization, 'floor' smoothing, effective order.
BleuOptions raw(double floor = 0.1) {
  BleuOptions o;
  o.tokenizer = BleuTokenizer::kNone;
  o.smoothing = BleuSmoothing::kFloor;
  o.smooth_value = floor;
  o.effective_order = true;
  return o;
}

BleuOptions with(BleuTokenizer tokenizer, BleuSmoothing smoothing = BleuSmoothing::kExp) {
  BleuOptions o;
  o.tokenizer = tokenizer;
  o.smoothing = smoothing;
  return o;
}

ChrfOptions chrf(int beta, bool eps_smoothing, bool whitespace = false) {
  ChrfOptions o;
  o.beta = beta;
  o.eps_smoothing = eps_smoothing;
  o.whitespace = whitespace;
  return o;
}

BleuScore counts(std::array<std::int64_t, 4> correct, std::array<std::int64_t, 4> total, std::int64_t sys_len,
                 std::int64_t ref_len) {
  BleuScore c;
  c.correct = correct;
  c.total = total;
  c.sys_len = sys_len;
  c.ref_len = ref_len;
  return c;
}

}  // namespace

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
  CHECK(tokenize_13a("<skipped>a") == Words{"a"});
  CHECK(tokenize_13a("").empty());
}

TEST_CASE("intl tokenization: Unicode punctuation and symbols apart, not inside numbers") {
  // Worked from mteval-v14's three rules (tokenizers.h); each agrees with sacreBLEU's intl tokenizer.
  CHECK(tokenize_intl("Hello, world! 3.14 $5 «quoted» 1990.") ==
        Words{"Hello", ",", "world", "!", "3.14", "$", "5", "«", "quoted", "»", "1990."});
  CHECK(tokenize_intl("¿Qué? 1,000.5 —dijo— a€b") ==
        Words{"¿", "Qué", "?", "1,000.5", "—", "dijo", "—", "a", "€", "b"});
  CHECK(tokenize_intl("中文，测试。") == Words{"中文", "，", "测试", "。"});
  CHECK(tokenize_intl("x+y=z ©2024") == Words{"x", "+", "y", "=", "z", "©", "2024"});
  CHECK(tokenize_intl("٣,٥ and ²,³") == Words{"٣,٥", "and", "²,³"});  // N* is every number, not just 0-9
  CHECK(tokenize_intl("").empty());
}

TEST_CASE("char and none tokenization, and the tokenizers by name") {
  CHECK(tokenize_char("ab c, 中文") == Words{"a", "b", "c", ",", "中", "文"});
  CHECK(tokenize_char("ñ") == Words{"ñ"});  // a code point, not a byte
  CHECK(tokenize_none("a,b  c\u3000d") == Words{"a,b", "c", "d"});
  CHECK(tokenize("a.", BleuTokenizer::k13a) == Words{"a", "."});
  CHECK(tokenize("a.", BleuTokenizer::kNone) == Words{"a."});
  for (const char* name : {"13a", "intl", "char", "none"}) CHECK(tokenizer_name(tokenizer_from_name(name)) == name);
  CHECK_THROWS_WITH_AS(tokenizer_from_name("zh"), doctest::Contains("choose 13a, intl, char or none"), Error);
}

TEST_CASE("text as Python's str sees it: white space, rstrip, lower, bytes that are not UTF-8") {
  CHECK(unicode::split(std::string_view("a\u2009b\x1c"
                                        "c\u0085d\u200be")) == Words{"a", "b", "c", "d\u200be"});
  CHECK(unicode::rstrip("ab \t\u3000\r") == "ab");
  CHECK(unicode::rstrip("  ") == "");
  CHECK(unicode::lower(std::string_view("THE Cat ẞ ǅ")) == "the cat ß ǆ");
  // U+0130 lowercases to two code points; a capital sigma to the final form at the end of a word.
  CHECK(unicode::lower(std::string_view("İ")) == "i\u0307");
  CHECK(unicode::lower(std::string_view("ΟΔΟΣ")) == "οδο\u03c2");
  CHECK(unicode::lower(std::string_view("AΣ. A'Σ AΣb Σ")) == "a\u03c2. a'\u03c2 a\u03c3b \u03c3");
  // Invalid UTF-8 decodes byte by byte to U+DC80..U+DCFF and encodes back to the same bytes.
  const std::string bad = "a\xff\xc3(\xed\xa0\x80z";
  const std::u32string cps = unicode::decode(bad);
  CHECK(cps == std::u32string{U'a', 0xDCFF, 0xDCC3, U'(', 0xDCED, 0xDCA0, 0xDC80, U'z'});
  CHECK(unicode::encode(cps) == bad);
  CHECK(unicode::is_punctuation(U'«'));
  CHECK(unicode::is_symbol(U'€'));
  CHECK(unicode::is_number(U'½'));
  CHECK_FALSE(unicode::is_punctuation(U'a'));
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
  CHECK(s.verbose() == "75.0/33.3/25.0/25.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)");
  CHECK_THROWS_WITH_AS(corpus_bleu({"a"}, {"a", "b"}), doctest::Contains("1 hypotheses but 2 references"), Error);
  CHECK_THROWS_WITH_AS(corpus_bleu({"a"}, References{{"a"}, {"a", "b"}}, BleuOptions{}),
                       doctest::Contains("in reference set 2"), Error);
  CHECK_THROWS_AS(corpus_bleu({"a"}, References{}, BleuOptions{}), Error);
}

TEST_CASE("BLEU: sacreBLEU's corpus test vectors (test/test_bleu.py)") {
  // test_corpus_bleu_cases: the README example with two sets of references.
  CHECK(corpus_bleu(kHyps, kRefs, BleuOptions{}).score == near(48.530827));
  CHECK(corpus_bleu({"", "", ""}, kRefs, BleuOptions{}).score == 0.0);  // empty hypotheses are not dropped
  CHECK(corpus_bleu(kHyps, kRefs, with(BleuTokenizer::kNone)).score == near(49.1919566));
  CHECK(corpus_bleu(kHyps, kRefs, with(BleuTokenizer::k13a)).score == near(48.530827));
  CHECK(corpus_bleu(kHyps, kRefs, with(BleuTokenizer::kIntl)).score == near(43.91623493));
  CHECK(corpus_bleu(kHyps, kRefs, with(BleuTokenizer::k13a, BleuSmoothing::kNone)).score == near(48.530827));
  // The README prints the whole line: the closest reference length of each hypothesis adds up to 18.
  CHECK(corpus_bleu(kHyps, kRefs, BleuOptions{}).format() ==
        "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");

  // test_raw_bleu_cases (raw_corpus_bleu with floor 0.01).
  CHECK(corpus_bleu({"this is a test", "another test"}, References{{"ref1", "ref2"}}, raw(0.01)).score == 0.0);
  CHECK(corpus_bleu({"this is a test"}, References{{"this is a test"}}, raw(0.01)).score == near(100.0));
  CHECK(corpus_bleu({"this is a fest"}, References{{"this is a test"}}, raw(0.01)).score == near(22.3606797749979));

  // test_case_effective_order.
  CHECK(corpus_bleu({"test"}, References{{"a test"}}, raw(0.01)).score == near(36.78794411714425));
  CHECK(corpus_bleu({"a test"}, References{{"a test"}}, raw(0.01)).score == near(100.0));
  CHECK(corpus_bleu({"a little test"}, References{{"a test"}}, raw(0.01)).score == near(3.218297948685433));

  // test_case_statistics and test_case_offset.
  const Lines hyp = {"am I am a character sequence"};
  const References ref = {{"I am a symbol string sequence a a"}};
  const BleuScore stats = corpus_bleu(hyp, ref, raw());
  CHECK(stats.correct == std::array<std::int64_t, 4>{4, 2, 1, 0});
  CHECK(stats.total == std::array<std::int64_t, 4>{6, 5, 4, 3});
  CHECK(stats.score == near(15.55722182));
  CHECK(corpus_bleu(hyp, ref, raw(0.0)).score == 0.0);
}

TEST_CASE("BLEU from counts: sacreBLEU's scoring and degenerate vectors (test/test_bleu.py)") {
  // test_case_scoring: no smoothing.
  BleuOptions plain;
  plain.smoothing = BleuSmoothing::kNone;
  CHECK(bleu_from_counts(counts({9, 7, 5, 3}, {10, 8, 6, 4}, 11, 11), plain).score == near(83.75922397));
  // test_case_degenerate_stats: floor smoothing with these offsets gives exactly 0.
  struct Degenerate {
    BleuScore counts;
    double offset;
  };
  const Degenerate cases[] = {
      {counts({0, 0, 0, 0}, {4, 4, 2, 1}, 0, 1), 0.0}, {counts({0, 0, 0, 0}, {10, 11, 12, 0}, 14, 10), 0.0},
      {counts({0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0), 0.0}, {counts({6, 5, 4, 0}, {6, 5, 4, 3}, 6, 6), 0.0},
      {counts({0, 0, 0, 0}, {0, 0, 0, 0}, 0, 0), 0.1}, {counts({0, 0, 0, 0}, {0, 0, 0, 0}, 1, 5), 0.01},
  };
  for (const Degenerate& d : cases) {
    BleuOptions floor;
    floor.smoothing = BleuSmoothing::kFloor;
    floor.smooth_value = d.offset;
    CHECK(bleu_from_counts(d.counts, floor).score == 0.0);
  }
}

TEST_CASE("BLEU of one sentence: smoothings, tokenizers and case (test/test_sentence_bleu.py)") {
  // sentence_bleu is corpus BLEU of one line with the effective order; the source's tolerance is 1e-3.
  const Lines sys = {"Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"};
  const References ref = {{"producţia de zahăr brut se exprimă în zahăr alb;"}};
  struct Case {
    BleuSmoothing smoothing;
    std::optional<double> value;
    bool lowercase;
    BleuTokenizer tokenizer;
    double expected;
  };
  using S = BleuSmoothing;
  using T = BleuTokenizer;
  const Case cases[] = {
      {S::kExp, {}, false, T::k13a, 8.493},     {S::kNone, {}, false, T::k13a, 0.0},
      {S::kFloor, {}, false, T::k13a, 4.51688}, {S::kFloor, 0.1, false, T::k13a, 4.51688},
      {S::kFloor, 0.5, false, T::k13a, 10.10},  {S::kAddK, {}, false, T::k13a, 14.882},
      {S::kAddK, 1.0, false, T::k13a, 14.882},  {S::kAddK, 2.0, false, T::k13a, 21.389},
      {S::kExp, {}, false, T::kNone, 7.347},    {S::kExp, {}, false, T::kIntl, 8.493},
      {S::kExp, {}, false, T::kChar, 40.8759},  {S::kExp, {}, true, T::kChar, 42.0267},
  };
  for (const Case& c : cases) {
    BleuOptions o;
    o.smoothing = c.smoothing;
    o.smooth_value = c.value;
    o.lowercase = c.lowercase;
    o.tokenizer = c.tokenizer;
    o.effective_order = true;
    const std::string smoothing(smoothing_name(c.smoothing)), tokenizer(tokenizer_name(c.tokenizer));
    CAPTURE(smoothing);
    CAPTURE(tokenizer);
    CHECK(corpus_bleu(sys, ref, o).score == near(c.expected, 1e-3));
  }
  // test_cases_zero_bleu: nothing matches, so 0 whatever the smoothing.
  for (S s : {S::kExp, S::kNone, S::kFloor, S::kAddK}) {
    BleuOptions o;
    o.smoothing = s;
    o.effective_order = true;
    CHECK(corpus_bleu({"this is a cat"}, References{{"okay thanks"}}, o).score == 0.0);
  }
}

TEST_CASE("BLEU with several references: the most of each n-gram, the closest length (shorter on a tie)") {
  // The README's variable references: the first hypothesis has an empty first reference. The
  // closest lengths are 7 ('The dog had bit the man .'; 0 is farther from 6), 6 and 6: 19.
  const References var = {{"", "It was not unexpected.", "The man bit him first."}, kRefs[1]};
  CHECK(corpus_bleu(kHyps, var, BleuOptions{}).format() ==
        "BLEU = 29.44 82.4/42.9/27.3/12.5 (BP = 0.889 ratio = 0.895 hyp_len = 17 ref_len = 19)");
  // Three tokens between references of 2 and 4: both 1 away, the shorter counts, in either order.
  CHECK(corpus_bleu({"a b c"}, References{{"a b"}, {"a b c d"}}, BleuOptions{}).ref_len == 2);
  CHECK(corpus_bleu({"a b c"}, References{{"a b c d"}, {"a b"}}, BleuOptions{}).ref_len == 2);
  // "the" twice in the hypothesis: one reference has it once, the other twice, so both match.
  const BleuScore most = corpus_bleu({"the cat and the dog"}, References{{"the cat"}, {"the dog and the cat"}}, {});
  CHECK(most.correct[0] == 5);
  // An empty reference: no n-gram to match and length 0; "a b" against it is 3 times too long.
  CHECK(corpus_bleu({"a b", "c"}, References{{"", "c"}}, BleuOptions{}).verbose() ==
        "33.3/50.0/0.0/0.0 (BP = 1.000 ratio = 3.000 hyp_len = 3 ref_len = 1)");
  // An empty hypothesis: no n-grams, but its reference's length counts (BP = exp(1 - 8/4)).
  const BleuScore empty_hyp = corpus_bleu({"", "a b c d"}, References{{"a b c d", "a b c d"}}, BleuOptions{});
  CHECK(empty_hyp.brevity_penalty == doctest::Approx(std::exp(-1.0)));
  CHECK(empty_hyp.score == near(36.787944));
}

TEST_CASE("BLEU options: lowercase, each tokenizer, and the signature") {
  // THE Cat SAT on / the cat sat on: mixed case matches "on" only, 1/4, then exp smoothing:
  // 100 / (2 * 3), 100 / (4 * 2), 100 / (8 * 1): (25 * 16.67 * 12.5 * 12.5)^(1/4) = 15.97.
  CHECK(corpus_bleu({"THE Cat SAT on"}, {"the cat sat on"}).score == near(15.97357760615681));
  BleuOptions lc;
  lc.lowercase = true;
  CHECK(corpus_bleu({"THE Cat SAT on"}, References{{"the cat sat on"}}, lc).score == near(100.0));
  // char: 中文测试 / 中文考试 are a b c d / a b x d of four characters: 35.36.
  CHECK(corpus_bleu({"中文测试"}, References{{"中文考试"}}, with(BleuTokenizer::kChar)).score ==
        near(35.35533905932737));
  // none: "a," is one token: 3/4, 2/3, 1/2, 0/1 (exp: 100 / 2), BP = exp(1 - 5/4).
  CHECK(corpus_bleu({"a, b c d"}, References{{"a , b c d"}}, with(BleuTokenizer::kNone)).score ==
        near(46.30777161991026));
  // intl splits the comma off «Hola», 13a does not: 10 and 8 tokens.
  const Lines h = {"«Hola», dijo él — 3,5 €."};
  const References r = {{"«Hola» dijo él — 3,5 €."}};
  CHECK(corpus_bleu(h, r, with(BleuTokenizer::kIntl)).score == near(65.80370064762461));
  CHECK(corpus_bleu(h, r, with(BleuTokenizer::kIntl)).sys_len == 10);
  CHECK(corpus_bleu(h, r, BleuOptions{}).score == near(70.71067811865478));
  // Trailing white space is stripped before tokenizing: "a-\n" keeps its hyphen, as in sacreBLEU.
  CHECK(corpus_bleu({"a-\n"}, References{{"a-"}}, with(BleuTokenizer::kNone)).correct[0] == 1);

  const std::string v = "version:" + signature_version();
  CHECK(signature_version().starts_with("kat-"));
  CHECK(BleuScore::signature() == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|" + v);
  BleuOptions o = with(BleuTokenizer::kChar, BleuSmoothing::kFloor);
  o.lowercase = true;
  CHECK(bleu_signature(o, 1).format() == "nrefs:1|case:lc|eff:no|tok:char|smooth:floor[0.10]|" + v);
  CHECK(bleu_signature(o, 1).format(true) == "#:1|c:lc|e:no|tok:char|s:floor[0.10]|v:" + signature_version());
  o = with(BleuTokenizer::k13a, BleuSmoothing::kAddK);
  o.smooth_value = 2;
  CHECK(bleu_signature(o, 2).format() == "nrefs:2|case:mixed|eff:no|tok:13a|smooth:add-k[2.00]|" + v);
  o.smooth_value = -1;
  CHECK_THROWS_AS(corpus_bleu({"a"}, References{{"a"}}, o), Error);
  CHECK_THROWS_WITH_AS(smoothing_from_name("add_k"), doctest::Contains("none, floor, add-k or exp"), Error);
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
  CHECK_THROWS_WITH_AS(corpus_chrf({"a"}, {"a", "b"}), doctest::Contains("1 hypotheses but 2 references"), Error);
}

TEST_CASE("chrF: a reference shorter than an order counts no hypothesis n-gram of that order") {
  // "Sí." / "Sí" and "abc" / "abc". Order 1: 3+3 hypothesis, 2+3 reference, 2+3 matches; order 2:
  // 2+2, 1+2, 1+2; order 3: "Sí" has no trigram, so the first line counts none of "Sí."'s: 0+1, 0+1,
  // 0+1. P = (5/6 + 3/4 + 1) / 3 = 31/36, R = 1, F2 = 5 P / (4 P + 1) = 155/160 = 96.875.
  CHECK(corpus_chrf({"Sí.", "abc"}, {"Sí", "abc"}).score == near(96.875));
  // An empty reference counts none of its hypothesis's n-grams: only "c" / "c" is left.
  CHECK(corpus_chrf({"a b", "c"}, {"", "c"}).score == near(100.0));
  // An empty hypothesis adds reference n-grams only: orders 1-3 have 3/6, 2/4, 1/2 of recall and
  // full precision: F2 = 5 * 0.5 / (4 + 0.5) = 55.56.
  CHECK(corpus_chrf({"", "abc"}, {"abc", "abc"}).score == near(55.55555555555556));
  CHECK(corpus_chrf({""}, {""}).score == 0.0);
  // The statistics add up over the corpus and give the score again.
  const ChrfScore whole = corpus_chrf({"Sí.", "abc"}, {"Sí", "abc"});
  CHECK(whole.statistics.size() == 18);
  CHECK(whole.statistics[6] == 1);  // order 3: one hypothesis trigram counted
  CHECK(chrf_from_statistics(whole.statistics, ChrfOptions{}).score == whole.score);
  CHECK_THROWS_AS(chrf_from_statistics({1, 2, 3}, ChrfOptions{}), Error);
}

TEST_CASE("chrF: sacreBLEU's test vectors with beta 3 (test/test_chrf.py)") {
  struct Case {
    Lines hyps, refs;
    double expected;
  };
  // test_cases: epsilon smoothing.
  const Case eps[] = {
      {{"abcdefg"}, {"hijklmnop"}, 0.0},
      {{"a"}, {"b"}, 0.0},
      {{""}, {"b"}, 0.0},
      {{""}, {"ref"}, 0.0},
      {{""}, {"reference"}, 0.0},
      {{"aa"}, {"ab"}, 8.3333},
      {{"a", "b"}, {"a", "c"}, 8.3333},
      {{"a"}, {"a"}, 16.6667},
      {{"a b c"}, {"a b c"}, 50.0},
      {{"a b c"}, {"abc"}, 50.0},
      {{" risk assessment must be made of those who are qualified and expertise in the sector - these are the "
        "scientists ."},
       {"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the "
        "scientists ."},
       63.361730},
      {{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
       {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."},
       64.1302698},
      {{"Niemand hat die Absicht, eine Mauer zu errichten"},
       {"Niemand hat die Absicht, eine Mauer zu errichten"},
       100.0},
  };
  for (const Case& c : eps) {
    CAPTURE(c.hyps.front());
    CHECK(corpus_chrf(c.hyps, References{c.refs}, chrf(3, true)).score == near(c.expected));
  }
  // test_cases_effective_order: the default averaging.
  const Case eff[] = {
      {{"a"}, {"a"}, 100.0}, {{""}, {"reference"}, 0.0},     {{"a b c"}, {"a b c"}, 100.0}, {{"a b c"}, {"abc"}, 100.0},
      {{""}, {"c"}, 0.0},    {{"a", "b"}, {"a", "c"}, 50.0}, {{"aa"}, {"ab"}, 25.0},
  };
  for (const Case& c : eff) {
    CAPTURE(c.hyps.front());
    CHECK(corpus_chrf(c.hyps, References{c.refs}, chrf(3, false)).score == near(c.expected));
  }
  // test_cases_keep_whitespace.
  const Case ws[] = {
      {{"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
       {"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."},
       67.3481606},
      {{"risk assessment must be made of those who are qualified and expertise in the sector - these are the "
        "scientists ."},
       {"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the "
        "scientists ."},
       65.2414427},
  };
  for (const Case& c : ws)
    CHECK(corpus_chrf(c.hyps, References{c.refs}, chrf(3, false, true)).score == near(c.expected));
}

TEST_CASE("chrF of one sentence with epsilon smoothing, beta 2 (test/test_chrf.py, sentence level)") {
  struct Case {
    std::string hyp, ref;
    double expected;
  };
  const Case cases[] = {
      {"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
       "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509},
      {"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
       "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079},
      {"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
       "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367},
  };
  for (const Case& c : cases) CHECK(corpus_chrf({c.hyp}, References{{c.ref}}, chrf(2, true)).score == near(c.expected));
}

TEST_CASE("chrF with several references: each line takes the reference of highest F-score") {
  // README example of sacreBLEU: chrF2 = 59.73 with both reference sets.
  CHECK(corpus_chrf(kHyps, kRefs, ChrfOptions{}).score == near(59.72751782684763));
  CHECK(corpus_chrf(kHyps, References{kRefs[0]}, ChrfOptions{}).score == near(50.043063606582294));
  // abcd / abce, abcf: a tie, the first counts; wxyz / wxyq, wxyz: the second, exact. Orders 1-4
  // summed: 7/8, 5/6, 3/4, 1/2 both ways (P = R): (7/8 + 5/6 + 3/4 + 1/2) / 4 = 73.96.
  CHECK(corpus_chrf({"abcd", "wxyz"}, References{{"abce", "wxyq"}, {"abcf", "wxyz"}}, ChrfOptions{}).score ==
        near(73.95833333333334));
  // The empty first reference of the README's variable example loses to the second.
  const References var = {{"", "It was not unexpected.", "The man bit him first."}, kRefs[1]};
  CHECK(corpus_chrf(kHyps, var, ChrfOptions{}).score == near(51.70106133373036));
}

TEST_CASE("chrF++, white space, case and the signature") {
  ChrfOptions pp;
  pp.word_order = 2;
  // "the cat" / "the hat": characters thecat / thehat give 5/6, 3/5, 1/4, 0, 0, 0 (P = R); words
  // 1/2 and 0/1. F = (5/6 + 3/5 + 1/4 + 1/2) / 8 = 27.29.
  const ChrfScore cat = corpus_chrf({"the cat"}, References{{"the hat"}}, pp);
  CHECK(cat.score == near(27.29166666666667));
  CHECK(cat.name() == "chrF2++");
  CHECK(cat.format() == "chrF2++ = 27.29");
  // Words split off one ASCII punctuation mark at their end, or else at their start: "(hi)" gives
  // "(hi" and ")", "there." gives "there" and ".".
  CHECK(corpus_chrf({"(hi) there."}, References{{"hi there ."}}, pp).score == near(59.72334637348802));
  CHECK(corpus_chrf(kHyps, kRefs, pp).score == near(59.15310444399262));
  // White space kept: "a b" / "ab": order 1 P 2/3 R 1, order 2 P 0 R 0 (order 3 only in the
  // hypothesis): P = 1/3, R = 1/2, F2 = 5/11.
  CHECK(corpus_chrf({"a b"}, References{{"ab"}}, chrf(2, false, true)).score == near(45.45454545454545));
  ChrfOptions lc;
  lc.lowercase = true;
  CHECK(corpus_chrf({"THE Cat"}, References{{"the cat"}}, lc).score == near(100.0));

  const std::string v = "version:" + signature_version();
  CHECK(ChrfScore::signature() == "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|" + v);
  ChrfOptions all;
  all.word_order = 2;
  all.lowercase = all.whitespace = all.eps_smoothing = true;
  CHECK(chrf_signature(all, 1).format() == "nrefs:1|case:lc|eff:no|nc:6|nw:2|space:yes|" + v);
  CHECK(chrf_signature(all, 1).format(true) == "#:1|c:lc|e:no|nc:6|nw:2|s:yes|v:" + signature_version());
  ChrfOptions bad;
  bad.char_order = 0;
  CHECK_THROWS_AS(corpus_chrf({"a"}, References{{"a"}}, bad), Error);
}

TEST_CASE("Scores printed as sacreBLEU prints them: text aligned on '=', JSON, score only") {
  const BleuScore bleu = corpus_bleu(kHyps, kRefs, BleuOptions{});
  const ChrfScore chrf2 = corpus_chrf(kHyps, kRefs, ChrfOptions{});
  const std::vector<MetricReport> both = {bleu_report(bleu, BleuOptions{}, 2), chrf_report(chrf2, ChrfOptions{}, 2)};
  const std::string v = signature_version();
  ReportFormat text;
  text.json = false;
  CHECK(format_reports(both, text) ==
        "  BLEU|nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:" + v +
            " = 48.5 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)\n"
            "chrF2|nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" +
            v + " = 59.7\n");
  text.short_signature = true;
  text.width = 3;
  CHECK(format_reports({both[1]}, text) == "chrF2|#:2|c:mixed|e:yes|nc:6|nw:0|s:no|v:" + v + " = 59.728\n");
  ReportFormat json;
  CHECK(format_reports({both[1]}, json) ==
        "{\n \"name\": \"chrF2\",\n \"score\": 59.7,\n \"signature\": "
        "\"nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:" +
            v +
            "\",\n \"nrefs\": \"2\",\n \"case\": \"mixed\",\n \"eff\": \"yes\",\n "
            "\"nc\": \"6\",\n \"nw\": \"0\",\n \"space\": \"no\",\n \"version\": \"" +
            v + "\"\n}\n");
  const std::string list = format_reports(both, json);
  CHECK(list.starts_with("[\n{\n \"name\": \"BLEU\",\n \"score\": 48.5,\n"));
  CHECK(list.find("\"verbose_score\": \"82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)\"") !=
        std::string::npos);
  CHECK(list.find("\n},\n{\n \"name\": \"chrF2\",") != std::string::npos);
  CHECK(list.ends_with("\n}\n]\n"));
  json.width = 0;
  json.score_only = true;
  CHECK(format_reports(both, json) == "[\n49,\n60\n]\n");
  text.score_only = true;
  CHECK(format_reports(both, text) == "48.531\n59.728\n");
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
