// UTF-8 primitives for the ops and the record parser's string decoding. Inputs are already validated UTF-8
// (the record parser rejects anything else), so decoding never checks for malformed sequences.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace sluice::utf8 {

// Number of code points (Python's len(str)): bytes that are not continuation bytes (0x80..0xBF, i.e.
// signed < -64). 64 bytes per step with AVX2 (a movemask + popcount; ~3x the auto-vectorized byte loop).
inline size_t CodePointCount(std::string_view s) {
  const char* p = s.data();
  size_t n = s.size(), cont = 0, i = 0;
#if defined(__AVX2__)
  const __m256i lim = _mm256_set1_epi8(-64);
  auto mask = [&](size_t at) {
    __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + at));
    return uint64_t(uint32_t(_mm256_movemask_epi8(_mm256_cmpgt_epi8(lim, v))));
  };
  for (; i + 64 <= n; i += 64) cont += static_cast<size_t>(__builtin_popcountll(mask(i) << 32 | mask(i + 32)));
#endif
  for (; i < n; ++i) cont += static_cast<signed char>(p[i]) < -64;
  return n - cont;
}

// Decodes the code point at s[i] and advances i past it.
inline char32_t Next(std::string_view s, size_t& i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    ++i;
    return c;
  }
  if (c < 0xE0) {
    char32_t cp = ((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
    i += 2;
    return cp;
  }
  if (c < 0xF0) {
    char32_t cp = ((c & 0x0F) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 6) |
                  (static_cast<unsigned char>(s[i + 2]) & 0x3F);
    i += 3;
    return cp;
  }
  char32_t cp = ((c & 0x07) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3F) << 12) |
                ((static_cast<unsigned char>(s[i + 2]) & 0x3F) << 6) | (static_cast<unsigned char>(s[i + 3]) & 0x3F);
  i += 4;
  return cp;
}

// Appends the UTF-8 encoding of cp.
inline void Append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Writes the UTF-8 encoding of cp to out (room for 4 bytes) and returns its length.
inline size_t Encode(char32_t cp, char* out) {
  if (cp < 0x80) {
    out[0] = static_cast<char>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}

}  // namespace sluice::utf8
