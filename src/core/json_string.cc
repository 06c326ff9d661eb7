#include "core/json_string.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "core/utf8.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace sluice {

namespace {

// Four hex digits at p (the caller checked they are in bounds); false if any is not one.
inline bool Hex4(const char* p, uint32_t& v) {
  v = 0;
  for (int i = 0; i < 4; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    uint32_t d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') d = (c | 0x20) - 'a' + 10;
    else return false;
    v = v << 4 | d;
  }
  return true;
}

inline char SimpleEscape(char c) {
  switch (c) {
    case '"': return '"';
    case '\\': return '\\';
    case '/': return '/';
    case 'b': return '\b';
    case 'f': return '\f';
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    default: return 0;
  }
}

// The code point of the \u escape at p (p[0] == '\\', p[1] == 'u') and its length in bytes (6 or 12), or
// length 0 when it is not one simdjson accepts.
inline size_t UnicodeEscape(const char* p, const char* end, uint32_t& cp) {
  if (end - p < 6 || !Hex4(p + 2, cp)) return 0;
  if (cp >= 0xD800 && cp < 0xDC00) {
    uint32_t lo;
    if (end - p < 12 || p[6] != '\\' || p[7] != 'u' || !Hex4(p + 8, lo) || lo < 0xDC00 || lo > 0xDFFF) return 0;
    cp = (((cp - 0xD800) << 10) | (lo - 0xDC00)) + 0x10000;
    return 12;
  }
  if (cp >= 0xDC00 && cp <= 0xDFFF) return 0;
  return 6;
}

#if defined(__AVX2__)
// 64 bytes (two 32-byte halves of compare results) as a bit mask: bit i set where byte i is all ones.
inline uint64_t Mask64(__m256i lo, __m256i hi) {
  return static_cast<uint32_t>(_mm256_movemask_epi8(lo)) |
         static_cast<uint64_t>(static_cast<uint32_t>(_mm256_movemask_epi8(hi))) << 32;
}

// Bytes that may follow a backslash (" \ / b f n r t u), by a high-nibble x low-nibble table lookup.
inline __m256i EscapeChars(__m256i v) {
  const __m256i hi_class = _mm256_setr_epi8(0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i lo_class = _mm256_setr_epi8(0, 0, 13, 0, 8, 8, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1,
                                            0, 0, 13, 0, 8, 8, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1);
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  __m256i h = _mm256_shuffle_epi8(hi_class, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
  __m256i l = _mm256_shuffle_epi8(lo_class, _mm256_and_si256(v, nibble));
  __m256i both = _mm256_and_si256(h, l);
  return _mm256_xor_si256(_mm256_cmpeq_epi8(both, _mm256_setzero_si256()), _mm256_set1_epi8(-1));
}
#endif

// Given the backslashes of a 64-byte block, the bytes they escape: a run of backslashes escapes every other
// one after its start, so the parity of the run's start decides. Runs are isolated with one addition (the
// carry ripples through each run of ones); `escaped_next` carries an escape across the block boundary.
inline uint64_t EscapedBytes(uint64_t backslash, uint64_t& escaped_next) {
  const uint64_t even = 0x5555555555555555ULL;
  backslash &= ~escaped_next;  // an escaped backslash starts nothing
  uint64_t follows = backslash << 1 | escaped_next;
  uint64_t odd_starts = backslash & ~even & ~follows;
  uint64_t runs_from_even;
  escaped_next = __builtin_add_overflow(odd_starts, backslash, &runs_from_even) ? 1 : 0;
  return (even ^ (runs_from_even << 1)) & follows;
}

template <bool kPadded>
bool ValidateEscapes(std::string_view body, size_t& excess) {
  const char* p = body.data();
  const size_t n = body.size();
  size_t ex = 0;
#if defined(__AVX2__)
  // 64 bytes a step and no branch per escape: a corpus text has an escape every ~60 bytes, and a branch on
  // each one mispredicted often enough to cost more than simdjson's decoding copy.
  uint64_t escaped_next = 0;
  const char* low_at = nullptr;  // where the \u of the low surrogate after a high one must start
  [[maybe_unused]] alignas(32) char tail[64];
  for (size_t i = 0; i < n; i += 64) {
    const char* block = p + i;
    uint64_t in_body = ~uint64_t{0};
    if (n - i < 64) {  // the last, partial block
      in_body = (uint64_t{1} << (n - i)) - 1;
      if (!kPadded) {  // zero-filled: a zero byte never follows a backslash
        std::memset(tail, 0, sizeof tail);
        std::memcpy(tail, block, n - i);
        block = tail;
      }
    }
    __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
    __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32));
    const __m256i bs = _mm256_set1_epi8('\\');
    uint64_t backslash = Mask64(_mm256_cmpeq_epi8(lo, bs), _mm256_cmpeq_epi8(hi, bs)) & in_body;
    if ((backslash | escaped_next) == 0) continue;
    uint64_t escaped = EscapedBytes(backslash, escaped_next);
    if (escaped & ~(Mask64(EscapeChars(lo), EscapeChars(hi)) & in_body)) return false;
    const __m256i u = _mm256_set1_epi8('u');
    uint64_t unicode = escaped & Mask64(_mm256_cmpeq_epi8(lo, u), _mm256_cmpeq_epi8(hi, u));
    ex += static_cast<size_t>(__builtin_popcountll(escaped & ~unicode));
    for (; unicode != 0; unicode &= unicode - 1) {
      const char* e = p + i + static_cast<size_t>(__builtin_ctzll(unicode)) - 1;  // its backslash
      if (e == low_at) {  // the second half of a pair checked with its first
        ex += 5;
        continue;
      }
      uint32_t cp;
      size_t len = UnicodeEscape(e, p + n, cp);
      if (len == 0) return false;
      if (len == 12) low_at = e + 6;  // a surrogate pair: 12 bytes, one code point; its second \u comes next
      ex += len == 12 ? 6 : 5;
    }
  }
  if (escaped_next) return false;  // a final backslash escapes nothing
#else
  const char* end = p + n;
  while (const char* b = static_cast<const char*>(std::memchr(p, '\\', static_cast<size_t>(end - p)))) {
    if (end - b < 2) return false;
    if (b[1] == 'u') {
      uint32_t cp;
      size_t len = UnicodeEscape(b, end, cp);
      if (len == 0) return false;
      ex += len - 1;
      p = b + len;
    } else {
      if (SimpleEscape(b[1]) == 0) return false;
      ex += 1;
      p = b + 2;
    }
  }
#endif
  excess = ex;
  return true;
}

}  // namespace

bool ValidateJsonEscapes(std::string_view body, size_t& excess) { return ValidateEscapes<false>(body, excess); }

bool ValidateJsonEscapesPadded(std::string_view body, size_t& excess) { return ValidateEscapes<true>(body, excess); }

std::string DescribeJsonEscapeError(std::string_view body) {
  const char* p = body.data();
  const char* end = p + body.size();
  // The escape as written, its bytes shown as they are when printable ASCII, else as \xNN.
  auto shown = [](const char* b, size_t n) {
    static const char kHex[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
      unsigned char c = static_cast<unsigned char>(b[i]);
      if (c >= 0x20 && c < 0x7F) {
        s += static_cast<char>(c);
      } else {
        s += "\\x";
        s += kHex[c >> 4];
        s += kHex[c & 15];
      }
    }
    return s;
  };
  while (const char* b = static_cast<const char*>(std::memchr(p, '\\', static_cast<size_t>(end - p)))) {
    if (end - b < 2) return "a backslash that escapes nothing";
    if (b[1] != 'u') {
      if (SimpleEscape(b[1]) == 0) return "bad escape sequence " + shown(b, 2);
      p = b + 2;
      continue;
    }
    uint32_t cp;
    size_t len = UnicodeEscape(b, end, cp);
    if (len != 0) {
      p = b + len;
      continue;
    }
    if (end - b < 6 || !Hex4(b + 2, cp)) return "bad escape sequence " + shown(b, static_cast<size_t>(std::min<ptrdiff_t>(end - b, 6)));
    return "lone surrogate escape " + shown(b, 6);
  }
  return "bad escape sequence";
}

void AppendDecodedJsonString(std::string_view body, std::string& out) {
  // The decoded text is never longer than the body, so it is written into `out` grown by the body's size and
  // cut back at the end; bytes are moved 32 at a time with stores that may run ahead of the decoded length
  // (never past the grown end: the write position never passes the read position).
  const size_t start = out.size();
  out.resize(start + body.size());
  char* d = out.data() + start;
  const char* p = body.data();
  const char* end = p + body.size();
  while (p < end) {
#if defined(__AVX2__)
    if (end - p >= 32) {
      __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), v);
      uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))));
      if (m == 0) {
        p += 32;
        d += 32;
        continue;
      }
      size_t k = static_cast<size_t>(__builtin_ctz(m));
      p += k;
      d += k;
    } else
#endif
    {
      if (*p != '\\') {
        *d++ = *p++;
        continue;
      }
    }
    // An escape at p.
    if (end - p < 2) break;
    if (p[1] == 'u') {
      uint32_t cp;
      size_t n = UnicodeEscape(p, end, cp);
      if (n == 0) break;
      d += utf8::Encode(cp, d);
      p += n;
    } else {
      *d++ = SimpleEscape(p[1]);
      p += 2;
    }
  }
  out.resize(static_cast<size_t>(d - out.data()));
}

}  // namespace sluice
