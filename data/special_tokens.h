#pragma once
// The special token ids, the same in every kat tokenizer and dataset: models, losses and batches
// rely on them without asking the tokenizer.

#include <cstdint>
#include <string_view>

namespace kat {

inline constexpr std::int64_t kPadId = 0;  // padding; never a target that counts
inline constexpr std::int64_t kBosId = 1;  // begin of sentence: the decoder's first input
inline constexpr std::int64_t kEosId = 2;  // end of sentence: the last target
inline constexpr std::int64_t kUnkId = 3;  // a symbol the vocabulary lacks
inline constexpr std::int64_t kNumSpecialTokens = 4;

inline constexpr std::string_view kPadPiece = "<pad>";
inline constexpr std::string_view kBosPiece = "<s>";
inline constexpr std::string_view kEosPiece = "</s>";
inline constexpr std::string_view kUnkPiece = "<unk>";

inline bool is_special_id(std::int64_t id) { return id >= 0 && id < kNumSpecialTokens; }

}  // namespace kat
