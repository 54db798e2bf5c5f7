#include "train/metrics/bleu.h"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <unordered_map>

#include "core/error.h"

namespace kat {
namespace {

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The ASCII symbols 13a always splits off: { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
bool is_split_symbol(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (u >= 0x7B && u <= 0x7E) || (u >= 0x5B && u <= 0x60) || (u >= 0x20 && u <= 0x26) || (u >= 0x28 && u <= 0x2B) ||
         (u >= 0x3A && u <= 0x40) || u == '/';
}

// One pass of a two-character rule, scanning left to right without overlaps (as a regular
// expression substitution does): where match(a, b) holds, the pair is replaced by emit(a, b).
template <typename Match, typename Emit>
std::string pair_pass(const std::string& s, Match match, Emit emit) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  std::size_t i = 0;
  while (i < s.size()) {
    if (i + 1 < s.size() && match(s[i], s[i + 1])) {
      emit(out, s[i], s[i + 1]);
      i += 2;
    } else {
      out.push_back(s[i++]);
    }
  }
  return out;
}

// Decodes UTF-8 leniently (an invalid byte stands for itself) into code points.
std::u32string code_points(std::string_view s) {
  std::u32string out;
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + static_cast<std::size_t>(len) > s.size()) {
      out.push_back(c);
      ++i;
      continue;
    }
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = true;
    for (int k = 1; k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      ok = ok && (cc >> 6) == 0x2;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(c);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return out;
}

// White space as Python's str.split() sees it.
bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string to_utf8(const std::u32string& s) {
  std::string out;
  for (char32_t c : s) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::vector<std::string> split_whitespace(const std::string& s) {
  std::vector<std::string> words;
  std::u32string cur;
  for (char32_t c : code_points(s)) {
    if (is_space(c)) {
      if (!cur.empty()) words.push_back(to_utf8(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) words.push_back(to_utf8(cur));
  return words;
}

void check_sizes(const char* what, std::size_t hyps, std::size_t refs) {
  if (hyps != refs) {
    throw Error(
        fmt::format("{}: {} hypotheses but {} references (one reference per hypothesis line)", what, hyps, refs));
  }
}

}  // namespace

std::vector<std::string> tokenize_13a(std::string_view line) {
  std::string s(line);
  s = replace_all(s, "<skipped>", "");
  s = replace_all(s, "-\n", "");
  s = replace_all(s, "\n", " ");
  if (s.find('&') != std::string::npos) {
    s = replace_all(s, "&quot;", "\"");
    s = replace_all(s, "&amp;", "&");
    s = replace_all(s, "&lt;", "<");
    s = replace_all(s, "&gt;", ">");
  }
  s = " " + s + " ";
  // Symbols apart.
  std::string t;
  t.reserve(s.size() * 2);
  for (char c : s) {
    if (is_split_symbol(c)) {
      t.push_back(' ');
      t.push_back(c);
      t.push_back(' ');
    } else {
      t.push_back(c);
    }
  }
  auto dot_comma = [](char c) { return c == '.' || c == ','; };
  // '.' or ',' after a non-digit.
  t = pair_pass(
      t, [&](char a, char b) { return !is_digit(a) && dot_comma(b); },
      [](std::string& o, char a, char b) {
        o.push_back(a);
        o.push_back(' ');
        o.push_back(b);
        o.push_back(' ');
      });
  // '.' or ',' before a non-digit.
  t = pair_pass(
      t, [&](char a, char b) { return dot_comma(a) && !is_digit(b); },
      [](std::string& o, char a, char b) {
        o.push_back(' ');
        o.push_back(a);
        o.push_back(' ');
        o.push_back(b);
      });
  // '-' after a digit.
  t = pair_pass(
      t, [](char a, char b) { return is_digit(a) && b == '-'; },
      [](std::string& o, char a, char b) {
        o.push_back(a);
        o.push_back(' ');
        o.push_back(b);
        o.push_back(' ');
      });
  return split_whitespace(t);
}

std::string BleuScore::format() const {
  const double ratio = ref_len > 0 ? static_cast<double>(sys_len) / static_cast<double>(ref_len) : 0.0;
  return fmt::format("BLEU = {:.2f} {:.1f}/{:.1f}/{:.1f}/{:.1f} (BP = {:.3f} ratio = {:.3f} hyp_len = {} ref_len = {})",
                     score, precisions[0], precisions[1], precisions[2], precisions[3], brevity_penalty, ratio, sys_len,
                     ref_len);
}

BleuScore bleu_from_counts(const BleuScore& counts) {
  BleuScore r;
  r.correct = counts.correct;
  r.total = counts.total;
  r.sys_len = counts.sys_len;
  r.ref_len = counts.ref_len;
  if (r.sys_len < r.ref_len) {
    r.brevity_penalty =
        r.sys_len > 0 ? std::exp(1.0 - static_cast<double>(r.ref_len) / static_cast<double>(r.sys_len)) : 0.0;
  }
  bool any_match = false;
  for (auto c : r.correct) any_match = any_match || c > 0;
  if (!any_match) return r;  // nothing matches: 0, whatever the smoothing would say
  double smooth = 1.0;
  for (std::size_t n = 0; n < 4; ++n) {
    if (r.total[n] == 0) break;
    if (r.correct[n] == 0) {
      smooth *= 2;
      r.precisions[n] = 100.0 / (smooth * static_cast<double>(r.total[n]));
    } else {
      r.precisions[n] = 100.0 * static_cast<double>(r.correct[n]) / static_cast<double>(r.total[n]);
    }
  }
  double log_sum = 0;
  for (double p : r.precisions) log_sum += p > 0 ? std::log(p) : -9999999999.0;
  r.score = r.brevity_penalty * std::exp(log_sum / 4.0);
  return r;
}

BleuScore corpus_bleu(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  check_sizes("corpus_bleu", hypotheses.size(), references.size());
  BleuScore r;
  for (std::size_t line = 0; line < hypotheses.size(); ++line) {
    const auto hyp = tokenize_13a(hypotheses[line]);
    const auto ref = tokenize_13a(references[line]);
    r.sys_len += static_cast<std::int64_t>(hyp.size());
    r.ref_len += static_cast<std::int64_t>(ref.size());
    for (std::size_t n = 1; n <= 4; ++n) {
      std::unordered_map<std::string, std::int64_t> ref_counts;
      for (std::size_t i = 0; i + n <= ref.size(); ++i) {
        std::string g = ref[i];
        for (std::size_t k = 1; k < n; ++k) g += " " + ref[i + k];
        ++ref_counts[g];
      }
      std::unordered_map<std::string, std::int64_t> hyp_counts;
      for (std::size_t i = 0; i + n <= hyp.size(); ++i) {
        std::string g = hyp[i];
        for (std::size_t k = 1; k < n; ++k) g += " " + hyp[i + k];
        ++hyp_counts[g];
      }
      for (const auto& [g, c] : hyp_counts) {
        auto it = ref_counts.find(g);
        r.correct[n - 1] += std::min(c, it == ref_counts.end() ? std::int64_t{0} : it->second);
        r.total[n - 1] += c;
      }
    }
  }
  return bleu_from_counts(r);
}

std::string ChrfScore::format() const { return fmt::format("chrF2 = {:.2f}", score); }

ChrfScore corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  check_sizes("corpus_chrf", hypotheses.size(), references.size());
  constexpr int kOrder = 6;
  constexpr double kBeta = 2.0;
  std::array<std::int64_t, 3 * kOrder> stats{};  // per order: hypothesis, reference, matching n-grams
  auto squeeze = [](const std::string& s) {
    std::u32string out;
    for (char32_t c : code_points(s)) {
      if (!is_space(c)) out.push_back(c);
    }
    return out;
  };
  for (std::size_t line = 0; line < hypotheses.size(); ++line) {
    const std::u32string hyp = squeeze(hypotheses[line]), ref = squeeze(references[line]);
    for (int n = 1; n <= kOrder; ++n) {
      const std::size_t un = static_cast<std::size_t>(n);
      std::map<std::u32string, std::int64_t> hc, rc;
      for (std::size_t i = 0; i + un <= hyp.size(); ++i) ++hc[hyp.substr(i, un)];
      for (std::size_t i = 0; i + un <= ref.size(); ++i) ++rc[ref.substr(i, un)];
      std::int64_t h = 0, r = 0, m = 0;
      for (const auto& [g, c] : hc) {
        h += c;
        auto it = rc.find(g);
        if (it != rc.end()) m += std::min(c, it->second);
      }
      for (const auto& [g, c] : rc) r += c;
      const std::size_t at = 3 * (un - 1);
      stats[at] += h;
      stats[at + 1] += r;
      stats[at + 2] += m;
    }
  }
  double prec = 0, rec = 0;
  int effective = 0;
  for (int n = 0; n < kOrder; ++n) {
    const std::size_t at = 3 * static_cast<std::size_t>(n);
    const auto h = stats[at], r = stats[at + 1], m = stats[at + 2];
    if (h > 0 && r > 0) {
      prec += static_cast<double>(m) / static_cast<double>(h);
      rec += static_cast<double>(m) / static_cast<double>(r);
      ++effective;
    }
  }
  ChrfScore out;
  if (effective == 0) return out;
  prec /= effective;
  rec /= effective;
  if (prec + rec == 0) return out;
  const double b2 = kBeta * kBeta;
  out.score = 100.0 * (1 + b2) * prec * rec / (b2 * prec + rec);
  return out;
}

}  // namespace kat
