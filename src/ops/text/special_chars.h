// SPECIAL_CHARACTERS (datajuicer-ops.md §2.4): the 1618 single code points DataJuicer treats as "special"
// (ASCII punctuation, digits and whitespace; a fixed list of 189 extra characters; single-code-point emoji
// of the Python `emoji` package 2.2.0). Used by word refinement (strip from word ends), the special
// character ratio, and the word-level mappers.
//
// Contract: IsSpecialChar(cp) is true exactly for the code points listed in
// ../shared/conformance/dj_special_characters.json (the table in special_chars_table.cc is generated from
// it). O(1): a compile-time bitmap covers every member (all are below U+20000).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::text {

inline constexpr size_t kSpecialCharacterCount = 1618;
// Sorted ascending.
extern const char32_t kSpecialCharacters[kSpecialCharacterCount];

inline constexpr char32_t kSpecialBitmapLimit = 0x20000;
// Bit cp of this bitmap is set iff cp is special (cp < kSpecialBitmapLimit).
struct SpecialBitmap {
  uint64_t words[kSpecialBitmapLimit / 64] = {};
};
extern const SpecialBitmap kSpecialBitmap;

inline bool IsSpecialChar(char32_t cp) {
  return cp < kSpecialBitmapLimit && ((kSpecialBitmap.words[cp >> 6] >> (cp & 63)) & 1) != 0;
}

}  // namespace sluice::text
