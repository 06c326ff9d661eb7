// Data tables behind the native ftfy (ftfy.h). The definitions are generated (ftfy_tables.cc, by
// scripts/gen_ftfy_tables.py); this header only declares their shapes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::ftfy::tables {

// The single-byte encodings fix_encoding tries, in ftfy's order: latin-1, sloppy-windows-1252, -1251, -1250,
// -1253, -1254, -1257, iso-8859-2, macroman, cp437. A sloppy codec decodes the bytes its Windows codec leaves
// undefined as Latin-1, and byte 0x1A as U+FFFD.
inline constexpr int kNumCharmaps = 10;
extern const char* const kCharmapNames[kNumCharmaps];
extern const bool kCharmapSloppy[kNumCharmaps];
extern const char32_t kCharmapDecode[kNumCharmaps][256];

// Every non-ASCII character (and U+FFFD) some codec can encode, sorted by code point, with its byte in each
// codec (0: not encodable there). ASCII characters encode as themselves, except U+001A in the sloppy codecs.
struct CharmapEntry {
  char32_t cp;
  uint8_t byte[kNumCharmaps];
};
extern const CharmapEntry kCharmapEncode[];
extern const size_t kCharmapEncodeSize;

// Character classes: bit k of a character's mask says it belongs to class k. Classes are the sets the
// badness patterns use, plus the UTF-8 clue sets below.
inline constexpr char32_t kClassDirect = 0x2600;  // masks of characters below this: kClassMasks[kClassIndex[c]]
extern const uint64_t kClassMasks[];
extern const uint8_t kClassIndex[kClassDirect];
struct ClassEntry {
  char32_t cp;
  uint64_t mask;
};
extern const ClassEntry kClassFar[];  // the few classified characters at or above kClassDirect, sorted
extern const size_t kClassFarSize;

// Bits of the UTF-8 clue classes (chardata.UTF8_CLUES): characters that start a 2/3/4-byte UTF-8 sequence,
// or continue one, when the sequence was decoded as Latin-1 or a windows-125x codec; kContStrict omits the
// space and the punctuation that usually stands for itself next to mojibake.
extern const int kFirst2, kFirst3, kFirst4, kCont, kContStrict;

// One badness pattern: a fixed-length sequence of elements that must match at consecutive positions. `key`
// is the index of an element only non-ASCII characters match (a search starts from such characters).
struct Elem {
  enum Kind : uint8_t { kClass, kChar, kSpace, kWord, kDot, kNotAsciiLetter, kStart } kind;
  uint32_t arg;  // class bit (kClass) or code point (kChar)
};
struct Pattern {
  uint8_t len;
  uint8_t key;
  Elem elems[7];
};
extern const Pattern kBadness[];
extern const size_t kBadnessSize;

// HTML entities ftfy decodes ("&name;" -> UTF-8), sorted bytewise by name.
struct Entity {
  const char* name;
  const char* value;
};
extern const Entity kEntities[];
extern const size_t kEntitiesSize;

// NFKC forms of U+FF01..U+FFEF (nullptr where NFKC keeps the character).
extern const char* const kWidthMap[0xFFF0 - 0xFF01];

}  // namespace sluice::ftfy::tables
