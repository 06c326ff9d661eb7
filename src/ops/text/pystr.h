// Python `str` semantics that leak into DataJuicer's behaviour (datajuicer-ops.md §2.1), on UTF-8.
//
// Contract (inputs are valid UTF-8; "code point" = one element of a Python str):
//   IsPySpace(c)      == chr(c).isspace()
//   PyStrip(s)        == s.strip()                       (returns a view into s)
//   ForEachLine(s, f) calls f(line) for each element of s.splitlines(), in order: line boundaries are
//                     \n \r \r\n \x0b \x0c \x1c \x1d \x1e \x85 \u2028 \u2029; a trailing boundary does not
//                     create an empty last line; "" has no lines.
//   IsPyAlpha(c)      == chr(c).isalpha()  (general category L*)
//   IsPyAlnum(c)      == chr(c).isalnum()  (L*, or any numeric type: Nd, No such as ① ², Nl such as Ⅷ 〇, CJK
//                     numerals)
//   PyLowerAppend     appends s.lower(): full lowercasing (U+0130 -> "i\u0307"; U+03A3 -> final sigma by
//                     context), everything else by the simple lowercase mapping.
//   IsAsciiSpace(c)   a byte of Python's bytes.isspace(): space \t \n \r \x0b \x0c.
//   PyFloat(s)        float(s) for a str s, nullopt where Python raises ValueError: surrounding whitespace, a
//                     sign, digits of any script (Nd: '１', '٣'), single underscores between digits, one '.',
//                     an exponent, inf / infinity / nan in any case; "1e400" is inf.
//   ForEachAsciiWord(s, f)  calls f(word) for each element of Python's bytes.split() of s (as kenlm's Python
//                     binding splits a sentence).
// Character data comes from ICU (Unicode 15); ASCII never touches ICU.
#pragma once

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ops/text/simd.h"

namespace sluice::text {

inline bool IsAsciiSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

template <class F>
void ForEachAsciiWord(std::string_view s, F&& f) {
  size_t i = 0, n = s.size();
  while (i < n) {
    while (i < n && IsAsciiSpace(s[i])) ++i;
    size_t b = i;
    while (i < n && !IsAsciiSpace(s[i])) ++i;
    if (i > b) f(s.substr(b, i - b));
  }
}

// Byte length of the UTF-8 sequence that starts with `lead`.
inline size_t SeqLen(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

// True if `s` is all ASCII.
bool IsAscii(std::string_view s);

inline bool IsPySpace(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string_view PyStrip(std::string_view s);

std::optional<double> PyFloat(std::string_view s);

namespace detail {
// Per lead byte: 0 plain, 1 one-byte line break, 2 '\r', 3 0xC2 (maybe U+0085), 4 0xE2 (maybe U+2028/9).
extern const std::array<uint8_t, 256> kLineBreakLead;
}  // namespace detail

// Length in bytes of the line boundary at s[i], or 0 if there is none.
inline size_t LineBreakAt(std::string_view s, size_t i) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data());
  switch (detail::kLineBreakLead[p[i]]) {
    case 0: return 0;
    case 1: return 1;
    case 2: return (i + 1 < s.size() && p[i + 1] == '\n') ? 2 : 1;
    case 3: return (i + 1 < s.size() && p[i + 1] == 0x85) ? 2 : 0;
    default: return (i + 2 < s.size() && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9)) ? 3 : 0;
  }
}

// Bytes that may start a line boundary (a superset, checked exactly by LineBreakAt).
inline constexpr ByteSet kLineBreakCandidates{{0xC2, 0xE2}, 0x1E};

template <class F>
inline void ForEachLine(std::string_view s, F&& f) {
  size_t start = 0, n = s.size();
  for (size_t i = FindFirst(s, 0, kLineBreakCandidates); i < n; i = FindFirst(s, i, kLineBreakCandidates)) {
    size_t brk = LineBreakAt(s, i);
    if (brk == 0) {
      ++i;
      continue;
    }
    f(s.substr(start, i - start));
    i += brk;
    start = i;
  }
  if (start < n) f(s.substr(start));
}

// s.splitlines() as views into s (out is cleared first).
void SplitLines(std::string_view s, std::vector<std::string_view>& out);

// len(s.splitlines()) and len(s) in one pass, 32 bytes at a time: the line boundaries are counted (a
// '\r' only when no '\n' follows), plus one for a last line without a trailing boundary.
#if defined(__AVX2__)
// Bit k set when a str.splitlines() boundary is marked at p[k] (k < 32): a single-byte boundary, a '\r' not
// followed by '\n' ("\r\n" is marked at its '\n'), or the lead byte of U+0085 / U+2028 / U+2029. Reads
// p[0 .. 34): a boundary starting in the block is decided by the 2 bytes after it.
inline uint32_t LineBoundaryMask32(const unsigned char* p) {
  auto eq = [](__m256i v, int c) { return _mm256_cmpeq_epi8(v, _mm256_set1_epi8(static_cast<char>(c))); };
  __m256i v0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  __m256i v1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1));
  __m256i v2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
  __m256i low = _mm256_cmpeq_epi8(_mm256_min_epu8(v0, _mm256_set1_epi8(0x1E)), v0);  // v0 <= 0x1E
  __m256i single = _mm256_and_si256(low, _mm256_or_si256(_mm256_or_si256(eq(v0, '\n'), eq(v0, 0x0B)),
                                                         _mm256_or_si256(eq(v0, 0x0C), _mm256_cmpgt_epi8(v0, _mm256_set1_epi8(0x1B)))));
  __m256i cr = _mm256_andnot_si256(eq(v1, '\n'), eq(v0, '\r'));
  __m256i nel = _mm256_and_si256(eq(v0, 0xC2), eq(v1, 0x85));
  __m256i ls = _mm256_and_si256(_mm256_and_si256(eq(v0, 0xE2), eq(v1, 0x80)), _mm256_or_si256(eq(v2, 0xA8), eq(v2, 0xA9)));
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(single, cr), _mm256_or_si256(nel, ls))));
}
// Bit k set when p[k] is a UTF-8 continuation byte (k < 32).
inline uint32_t ContinuationMask32(const unsigned char* p) {
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpgt_epi8(_mm256_set1_epi8(-64), v)));
}
#endif

struct LineAndCodePointCount {
  size_t lines = 0;
  size_t code_points = 0;
};
LineAndCodePointCount CountLinesAndCodePoints(std::string_view s);

bool IsPyAlphaNonAscii(char32_t c);
bool IsPyAlnumNonAscii(char32_t c);

inline bool IsPyAlpha(char32_t c) {
  if (c < 0x80) return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
  return IsPyAlphaNonAscii(c);
}
inline bool IsPyAlnum(char32_t c) {
  if (c < 0x80) return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9');
  return IsPyAlnumNonAscii(c);
}

// Lowercases the ASCII letters of 8 ASCII bytes packed in x (every byte < 0x80).
inline uint64_t AsciiLower8(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  uint64_t ge_a = x + (0x80 - 'A') * kOnes;   // high bit set where byte >= 'A'
  uint64_t gt_z = x + (0x7F - 'Z') * kOnes;   // high bit set where byte > 'Z'
  uint64_t upper = ge_a & ~gt_z & (0x80 * kOnes);
  return x | (upper >> 2);                     // 0x80 >> 2 == 0x20
}

void PyLowerAppend(std::string_view s, std::string& out);
// Writes s.lower() to out (which must have room for s.size() * 3 / 2 + 8 bytes: lowercasing grows UTF-8
// by at most 1.5x) and returns the number of bytes written.
size_t PyLowerTo(std::string_view s, char* out);

}  // namespace sluice::text
