// SHA-1 per FIPS 180-4; see sha1.h.
#include "ops/dedup/sha1.h"

#include <algorithm>
#include <cstring>
#include <utility>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sluice::text {
namespace {

inline uint32_t Rotl(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

inline uint32_t LoadBe32(const unsigned char* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) |
         static_cast<uint32_t>(p[3]);
}

}  // namespace

void Sha1CompressPortable(uint32_t s[5], const unsigned char* p) {
  uint32_t w[16];
  for (int i = 0; i < 16; ++i) w[i] = LoadBe32(p + 4 * i);
  uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
  for (int i = 0; i < 80; ++i) {
    if (i >= 16) w[i & 15] = Rotl(w[(i + 13) & 15] ^ w[(i + 8) & 15] ^ w[(i + 2) & 15] ^ w[i & 15], 1);
    uint32_t f, k;
    if (i < 20) {
      f = (b & c) | (~b & d);
      k = 0x5A827999;
    } else if (i < 40) {
      f = b ^ c ^ d;
      k = 0x6ED9EBA1;
    } else if (i < 60) {
      f = (b & c) | (b & d) | (c & d);
      k = 0x8F1BBCDC;
    } else {
      f = b ^ c ^ d;
      k = 0xCA62C1D6;
    }
    uint32_t t = Rotl(a, 5) + f + e + k + w[i & 15];
    e = d;
    d = c;
    c = Rotl(b, 30);
    b = a;
    a = t;
  }
  s[0] += a;
  s[1] += b;
  s[2] += c;
  s[3] += d;
  s[4] += e;
}

namespace {

#if defined(__x86_64__)
// The SHA extensions (SHA-NI): four rounds per instruction. Group g covers rounds 4g .. 4g+3; the message
// schedule is kept four words per register in m[0..3], each group extending it with msg1 / xor / msg2.
#define SLUICE_SHA_TARGET __attribute__((target("sha,sse4.1"), always_inline)) inline

template <int G>
SLUICE_SHA_TARGET void ShaNiGroup(__m128i& abcd, __m128i (&e)[2], __m128i (&m)[4], const unsigned char* p) {
  constexpr int cur = G % 2, other = 1 - cur, k = G % 4;
  if constexpr (G < 4) {
    const __m128i mask = _mm_set_epi64x(0x0001020304050607LL, 0x08090a0b0c0d0e0fLL);
    m[k] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * G)), mask);
  }
  e[cur] = G == 0 ? _mm_add_epi32(e[cur], m[k]) : _mm_sha1nexte_epu32(e[cur], m[k]);
  e[other] = abcd;
  if constexpr (G >= 3 && G <= 18) m[(k + 1) % 4] = _mm_sha1msg2_epu32(m[(k + 1) % 4], m[k]);
  abcd = _mm_sha1rnds4_epu32(abcd, e[cur], G / 5);
  if constexpr (G >= 1 && G <= 16) m[(k + 3) % 4] = _mm_sha1msg1_epu32(m[(k + 3) % 4], m[k]);
  if constexpr (G >= 2 && G <= 17) m[(k + 2) % 4] = _mm_xor_si128(m[(k + 2) % 4], m[k]);
}

template <int... G>
SLUICE_SHA_TARGET void ShaNiGroups(__m128i& abcd, __m128i (&e)[2], __m128i (&m)[4], const unsigned char* p,
                                   std::integer_sequence<int, G...>) {
  (ShaNiGroup<G>(abcd, e, m, p), ...);
}

__attribute__((target("sha,sse4.1"))) void CompressShaNi(uint32_t s[5], const unsigned char* p) {
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)), 0x1B);
  __m128i e[2] = {_mm_set_epi32(static_cast<int>(s[4]), 0, 0, 0), _mm_setzero_si128()};
  const __m128i abcd_in = abcd, e_in = e[0];
  __m128i m[4];
  ShaNiGroups(abcd, e, m, p, std::make_integer_sequence<int, 20>());
  e[0] = _mm_sha1nexte_epu32(e[0], e_in);
  abcd = _mm_add_epi32(abcd, abcd_in);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(s), _mm_shuffle_epi32(abcd, 0x1B));
  s[4] = static_cast<uint32_t>(_mm_extract_epi32(e[0], 3));
}
#undef SLUICE_SHA_TARGET
#endif

// One 64-byte block: SHA-NI where the CPU has it (checked once), else portable code.
void Compress(uint32_t s[5], const unsigned char* p) {
#if defined(__x86_64__)
  static const bool kShaNi = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1");
  if (kShaNi) return CompressShaNi(s, p);
#endif
  Sha1CompressPortable(s, p);
}

constexpr uint32_t kInit[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};

}  // namespace

void Sha1::Reset() {
  std::memcpy(s_, kInit, sizeof(s_));
  len_ = 0;
  buf_len_ = 0;
}

void Sha1::Update(std::string_view data) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  len_ += n;
  if (buf_len_ > 0) {
    size_t take = std::min(n, 64 - buf_len_);
    std::memcpy(buf_ + buf_len_, p, take);
    buf_len_ += take;
    p += take;
    n -= take;
    if (buf_len_ < 64) return;
    Compress(s_, buf_);
    buf_len_ = 0;
  }
  for (; n >= 64; p += 64, n -= 64) Compress(s_, p);
  std::memcpy(buf_, p, n);
  buf_len_ = n;
}

void Sha1::Final(uint8_t digest[20]) {
  uint64_t bits = len_ * 8;
  buf_[buf_len_++] = 0x80;
  if (buf_len_ > 56) {
    std::memset(buf_ + buf_len_, 0, 64 - buf_len_);
    Compress(s_, buf_);
    buf_len_ = 0;
  }
  std::memset(buf_ + buf_len_, 0, 56 - buf_len_);
  for (int i = 0; i < 8; ++i) buf_[56 + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
  Compress(s_, buf_);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) digest[4 * i + j] = static_cast<uint8_t>(s_[i] >> (24 - 8 * j));
  Reset();
}

void Sha1Digest(std::string_view data, uint8_t digest[20]) {
  Sha1 h;
  h.Update(data);
  h.Final(digest);
}

uint32_t Sha1Le32(std::string_view data) {
  // Messages of at most 55 bytes (most shingles) fit one padded block: no streaming state needed.
  uint32_t s[5];
  std::memcpy(s, kInit, sizeof(s));
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  for (; n >= 64; p += 64, n -= 64) Compress(s, p);
  unsigned char block[128] = {};
  std::memcpy(block, p, n);
  block[n] = 0x80;
  size_t total = n + 1 > 56 ? 128 : 64;
  uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  for (int i = 0; i < 8; ++i) block[total - 8 + i] = static_cast<unsigned char>(bits >> (56 - 8 * i));
  Compress(s, block);
  if (total == 128) Compress(s, block + 64);
  // Digest bytes 0..3 are s[0] big-endian; read little-endian they are s[0] byte-swapped.
  return __builtin_bswap32(s[0]);
}

}  // namespace sluice::text
