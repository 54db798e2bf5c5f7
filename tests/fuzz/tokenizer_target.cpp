#include <algorithm>
#include <memory>
#include <vector>

#include "core/error.h"
#include "data/char_tokenizer.h"
#include "data/special_tokens.h"
#include "data/spm_tokenizer.h"
#include "data/utf8.h"
#include "tests/fuzz/fuzz_targets.h"

namespace kat::fuzz {
namespace {

constexpr char32_t kUnkCodePoint = 0x2047;  // what decode writes for unk

std::vector<std::string> spm_training_lines() {
  return {
      "In the beginning, God created the heavens and the earth.",
      "The earth was formless and empty. Darkness was on the surface of the deep.",
      "God said, “Let there be light,” and there was light.",
      "God saw the light, and saw that it was good. God divided the light from the darkness.",
      "EN el principio crió Dios los cielos y la tierra.",
      "Y la tierra estaba desordenada y vacía, y las tinieblas estaban sobre la haz del abismo.",
      "¿CAZARÁS tú la presa para el león? ¿y saciarás el hambre de los leoncillos,",
      "He was 969 years old; Selah. (Selah.) Amén.",
  };
}

// The tokenizers the encode and decode cases use, built once per process: bytes, chars, and
// SentencePiece unigram and BPE.
constexpr int kFixedTokenizers = 4;
const Tokenizer& fixed_tokenizer(int which) {
  static const std::unique_ptr<Tokenizer> bytes = CharTokenizer::bytes();
  static const std::unique_ptr<Tokenizer> chars =
      CharTokenizer::from_code_points({U' ', U'a', U'b', U'e', U'h', U't', U'T', U'.', U'é', U'ñ', U'—', U'😀'});
  if (which == 0) return *bytes;
  if (which == 1) return *chars;
  if (which == 2) {
    static const std::unique_ptr<Tokenizer> unigram =
        SpmTokenizer::train(spm_training_lines(), {.model_type = "unigram", .vocab_size = 340, .threads = 1});
    return *unigram;
  }
  static const std::unique_ptr<Tokenizer> bpe =
      SpmTokenizer::train(spm_training_lines(), {.model_type = "bpe", .vocab_size = 340, .threads = 1});
  return *bpe;
}

std::string ids_text(const std::vector<std::int64_t>& ids) {
  std::string s;
  for (const std::int64_t id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

// Text that SentencePiece gives back exactly: any without U+2581, the symbol it writes for a space
// (data/spm_tokenizer.h).
bool spm_round_trips(std::string_view text) { return text.find("\u2581") == std::string_view::npos; }

void expect_ids_encodable(const Tokenizer& tok, const std::vector<std::int64_t>& ids) {
  for (const std::int64_t id : ids) {
    expect(id == kUnkId || (id >= kNumSpecialTokens && id < tok.vocab_size()),
           tok.kind() + " encode: id " + std::to_string(id) + " is not a text id of a vocabulary of " +
               std::to_string(tok.vocab_size()));
  }
}

bool encode_case(const Tokenizer& tok, std::string_view text) {
  const auto bad = find_invalid_utf8(text);
  std::vector<std::int64_t> ids;
  try {
    ids = tok.encode(text);
  } catch (const Error& e) {
    expect(bad.has_value(), tok.kind() + " encode refused valid UTF-8: " + e.what());
    expect(std::string_view(e.what()).find("invalid UTF-8") != std::string_view::npos,
           tok.kind() + " encode: the error does not say the text is invalid UTF-8: " + e.what());
    return false;
  }
  expect(!bad.has_value(),
         tok.kind() + " encode accepted invalid UTF-8 (byte " + std::to_string(bad.value_or(0)) + ")");
  expect_ids_encodable(tok, ids);
  const std::string back = tok.decode(ids);
  if (tok.kind() == "bytes") {
    expect(back == text, "bytes: decode(encode(text)) != text");
  } else if (tok.kind() == "chars") {
    // One id per code point; a code point outside the vocabulary comes back as U+2047.
    expect(static_cast<std::int64_t>(ids.size()) == count_code_points(text), "chars: not one id per code point");
    std::string expected;
    std::size_t k = 0;
    for (std::size_t pos = 0; pos < text.size(); ++k) {
      const char32_t cp = next_code_point(text, pos);
      append_utf8(expected, ids[k] == kUnkId ? kUnkCodePoint : cp);
    }
    expect(back == expected, "chars: decode(encode(text)) differs from the text with unknown code points as U+2047");
  } else {
    expect(!spm_round_trips(text) || back == text,
           "spm: decode(encode(text)) != text (ids " + ids_text(ids) + ", decoded '" + back + "')");
  }
  return true;
}

bool decode_case(const Tokenizer& tok, std::span<const std::uint8_t> bytes) {
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
    ids.push_back(static_cast<std::int16_t>(bytes[i] | (bytes[i + 1] << 8)));
  }
  const bool in_vocab =
      std::all_of(ids.begin(), ids.end(), [&](std::int64_t id) { return id >= 0 && id < tok.vocab_size(); });
  std::string text;
  try {
    text = tok.decode(ids);
  } catch (const Error& e) {
    expect(!in_vocab, tok.kind() + " decode refused ids of its vocabulary: " + e.what());
    return false;
  }
  expect(in_vocab, tok.kind() + " decode accepted an id outside its vocabulary (ids " + ids_text(ids) + ")");
  for (const std::int64_t id : ids) tok.piece(id);
  if (tok.kind() == "bytes") return true;  // any byte sequence, valid UTF-8 or not
  expect(!find_invalid_utf8(text).has_value(), tok.kind() + " decode wrote invalid UTF-8 (ids " + ids_text(ids) + ")");
  if (tok.kind() == "chars") {
    std::vector<std::int64_t> text_ids;
    std::copy_if(ids.begin(), ids.end(), std::back_inserter(text_ids),
                 [](std::int64_t id) { return id == kUnkId || id >= kNumSpecialTokens; });
    expect(tok.encode(text) == text_ids, "chars: encode(decode(ids)) != ids without pad, bos and eos");
  } else if (spm_round_trips(text)) {
    expect(tok.decode(tok.encode(text)) == text, "spm: decoded text '" + text + "' does not round-trip");
  }
  return true;
}

bool parse_case(std::string_view bytes) {
  std::unique_ptr<Tokenizer> tok;
  try {
    tok = parse_tokenizer(std::string(bytes), "fuzz input");
  } catch (const Error&) {
    return false;
  }
  const std::int64_t vocab = tok->vocab_size();
  expect(vocab >= kNumSpecialTokens, "parsed tokenizer with vocabulary " + std::to_string(vocab));
  const auto again = parse_tokenizer(serialize_tokenizer(*tok), "fuzz input, serialized again");
  expect(again->kind() == tok->kind() && again->vocab_size() == vocab, "serialize/parse changed the tokenizer");
  for (std::int64_t id = 0; id < std::min<std::int64_t>(vocab, 512); ++id) {
    expect(again->piece(id) == tok->piece(id), "serialize/parse changed piece " + std::to_string(id));
  }
  for (const std::string_view text : {"In the beginning, God created", "¿Qué? — 969 años 😀", ""}) {
    std::vector<std::int64_t> ids;
    try {
      ids = tok->encode(text);
    } catch (const Error&) {
      return false;  // a model SentencePiece loads but cannot encode with: refused clearly
    }
    expect_ids_encodable(*tok, ids);
    const std::string back = tok->decode(ids);
    if (tok->kind() != "spm") {
      expect(std::find(ids.begin(), ids.end(), kUnkId) != ids.end() || back == text,
             tok->kind() + ": parsed tokenizer does not round-trip text it knows");
    }
  }
  return true;
}

}  // namespace

bool tokenizer_input(std::span<const std::uint8_t> data) {
  if (data.empty()) return false;
  const int mode = data[0] % (1 + 2 * kFixedTokenizers);
  const auto rest = data.subspan(1);
  if (mode == 0) return parse_case(as_text(rest));
  if (mode <= kFixedTokenizers) return encode_case(fixed_tokenizer(mode - 1), as_text(rest));
  return decode_case(fixed_tokenizer(mode - 1 - kFixedTokenizers), rest);
}

}  // namespace kat::fuzz
