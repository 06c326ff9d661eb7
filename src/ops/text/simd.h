// Byte-scanning helpers for the hot loops: find the next byte of a small set 32 bytes at a time (AVX2, or
// SSE2, or plain C++), so ops skip the long runs of bytes they never touch (most text is ASCII, and most
// ASCII bytes are neither line breaks nor lead bytes of the characters an op rewrites).
//
// Contract: ByteSet{bytes..., le} matches a byte c iff c equals one of up to 6 bytes, or (le >= 0)
// c <= le as an unsigned value. FindFirst(s, i, set) is the smallest j >= i with s[j] in the set, or
// s.size(). AsciiAlnum32 / NonAscii32 / Continuation32 give per-byte bitmasks of a 32-byte block.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#if defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

namespace sluice::text {

struct ByteSet {
  uint8_t bytes[6] = {};
  int count = 0;
  int le = -1;
  constexpr ByteSet(std::initializer_list<uint8_t> b, int le_max = -1) : le(le_max) {
    for (uint8_t c : b) bytes[count++] = c;
  }
  constexpr bool Has(uint8_t c) const {
    for (int k = 0; k < count; ++k)
      if (bytes[k] == c) return true;
    return le >= 0 && c <= le;
  }
};

// Bit k set iff p[k] (k < 32) is in the set.
inline uint32_t SetMask32(const char* p, const ByteSet& set) {
#if defined(__AVX2__)
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  __m256i m = _mm256_setzero_si256();
  for (int k = 0; k < set.count; ++k)
    m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, _mm256_set1_epi8(static_cast<char>(set.bytes[k]))));
  if (set.le >= 0)
    m = _mm256_or_si256(m, _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(static_cast<char>(set.le))), v));
  return static_cast<uint32_t>(_mm256_movemask_epi8(m));
#elif defined(__SSE2__)
  uint32_t bits = 0;
  for (int h = 0; h < 2; ++h) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * h));
    __m128i m = _mm_setzero_si128();
    for (int k = 0; k < set.count; ++k)
      m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(set.bytes[k]))));
    if (set.le >= 0) m = _mm_or_si128(m, _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(static_cast<char>(set.le))), v));
    bits |= static_cast<uint32_t>(_mm_movemask_epi8(m)) << (16 * h);
  }
  return bits;
#else
  uint32_t bits = 0;
  for (int k = 0; k < 32; ++k) bits |= static_cast<uint32_t>(set.Has(static_cast<uint8_t>(p[k]))) << k;
  return bits;
#endif
}

inline size_t FindFirst(std::string_view s, size_t i, const ByteSet& set) {
  const char* p = s.data();
  size_t n = s.size();
  for (; i + 32 <= n; i += 32) {
    uint32_t m = SetMask32(p + i, set);
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
  }
  for (; i < n; ++i)
    if (set.Has(static_cast<uint8_t>(p[i]))) return i;
  return n;
}

// Bit k set iff p[k] >= 0x80.
inline uint32_t NonAscii32(const char* p) {
#if defined(__AVX2__)
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))));
#elif defined(__SSE2__)
  return static_cast<uint32_t>(_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))) |
         (static_cast<uint32_t>(_mm_movemask_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)))) << 16);
#else
  uint32_t bits = 0;
  for (int k = 0; k < 32; ++k) bits |= static_cast<uint32_t>(static_cast<uint8_t>(p[k]) >> 7) << k;
  return bits;
#endif
}

// Bit k set iff p[k] is a UTF-8 continuation byte (0x80..0xBF).
inline uint32_t Continuation32(const char* p) {
#if defined(__AVX2__)
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpgt_epi8(_mm256_set1_epi8(-64), v)));  // signed < -64
#else
  uint32_t bits = 0;
  for (int k = 0; k < 32; ++k) bits |= static_cast<uint32_t>((static_cast<uint8_t>(p[k]) & 0xC0) == 0x80) << k;
  return bits;
#endif
}

// Bit k set iff p[k] is an ASCII letter or digit.
inline uint32_t AsciiAlnum32(const char* p) {
#if defined(__AVX2__)
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  auto in_range = [&](__m256i x, char lo, char hi) {  // lo <= x <= hi for bytes < 0x80
    return _mm256_and_si256(_mm256_cmpgt_epi8(x, _mm256_set1_epi8(static_cast<char>(lo - 1))),
                            _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(hi + 1)), x));
  };
  __m256i folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));  // 'A'-'Z' -> 'a'-'z'
  __m256i m = _mm256_or_si256(in_range(v, '0', '9'), in_range(folded, 'a', 'z'));
  return static_cast<uint32_t>(_mm256_movemask_epi8(m));
#else
  uint32_t bits = 0;
  for (int k = 0; k < 32; ++k) {
    uint8_t c = static_cast<uint8_t>(p[k]);
    bool a = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
    bits |= static_cast<uint32_t>(a) << k;
  }
  return bits;
#endif
}

}  // namespace sluice::text
