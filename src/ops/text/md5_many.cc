// Multi-buffer MD5 (RFC 1321); see md5_many.h.
//
// Layout: the SIMD paths keep L lanes of state (a, b, c, d as st[0..L), st[L..2L), ...) and build the next
// 64-byte block of every lane transposed (word j of lane l at w[j * L + l]), so word j of all lanes is one
// vector load. A lane is a message; after each compression a lane whose message has had its last block
// writes its digest and starts the next message, so lanes never wait for a longer neighbour and no lane
// is wasted until the last L messages. Blocks are built from the message bytes in place (padding and the
// bit length only in a message's last one or two blocks), so nothing is copied per message.
#include "ops/text/md5_many.h"

#include <algorithm>
#include <cstring>

#include "ops/text/md5.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sluice::text {

namespace {

#if defined(__x86_64__)

// The 64 steps, written once over the vector operations ADD, ROTL (immediate count), F, G, H, I (the
// round functions of b, c, d) and SET1; m[] holds the 16 message words. Rotation counts must be literal
// (the shift intrinsics take immediates), hence a macro rather than a loop over kR.
#define SLUICE_MD5_STEP(FN, a, b, c, d, i, g, r) a = ADD(b, ROTL(ADD(ADD(a, FN(b, c, d)), ADD(SET1(kMd5K[i]), m[g])), r))
#define SLUICE_MD5_QUAD(FN, i, g0, g1, g2, g3, r0, r1, r2, r3) \
  SLUICE_MD5_STEP(FN, a, b, c, d, i, g0, r0);                  \
  SLUICE_MD5_STEP(FN, d, a, b, c, i + 1, g1, r1);              \
  SLUICE_MD5_STEP(FN, c, d, a, b, i + 2, g2, r2);              \
  SLUICE_MD5_STEP(FN, b, c, d, a, i + 3, g3, r3)
#define SLUICE_MD5_ROUNDS                                   \
  SLUICE_MD5_QUAD(F, 0, 0, 1, 2, 3, 7, 12, 17, 22);         \
  SLUICE_MD5_QUAD(F, 4, 4, 5, 6, 7, 7, 12, 17, 22);         \
  SLUICE_MD5_QUAD(F, 8, 8, 9, 10, 11, 7, 12, 17, 22);       \
  SLUICE_MD5_QUAD(F, 12, 12, 13, 14, 15, 7, 12, 17, 22);    \
  SLUICE_MD5_QUAD(G, 16, 1, 6, 11, 0, 5, 9, 14, 20);        \
  SLUICE_MD5_QUAD(G, 20, 5, 10, 15, 4, 5, 9, 14, 20);       \
  SLUICE_MD5_QUAD(G, 24, 9, 14, 3, 8, 5, 9, 14, 20);        \
  SLUICE_MD5_QUAD(G, 28, 13, 2, 7, 12, 5, 9, 14, 20);       \
  SLUICE_MD5_QUAD(H, 32, 5, 8, 11, 14, 4, 11, 16, 23);      \
  SLUICE_MD5_QUAD(H, 36, 1, 4, 7, 10, 4, 11, 16, 23);       \
  SLUICE_MD5_QUAD(H, 40, 13, 0, 3, 6, 4, 11, 16, 23);       \
  SLUICE_MD5_QUAD(H, 44, 9, 12, 15, 2, 4, 11, 16, 23);      \
  SLUICE_MD5_QUAD(I, 48, 0, 7, 14, 5, 6, 10, 15, 21);       \
  SLUICE_MD5_QUAD(I, 52, 12, 3, 10, 1, 6, 10, 15, 21);      \
  SLUICE_MD5_QUAD(I, 56, 8, 15, 6, 13, 6, 10, 15, 21);      \
  SLUICE_MD5_QUAD(I, 60, 4, 11, 2, 9, 6, 10, 15, 21)

// One block for 8 lanes: st (4 x 8 words) += compress(w (16 x 8 words)).
__attribute__((target("avx2"))) void CompressAvx2(uint32_t* st, const uint32_t* w) {
#define LD(p) _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
  __m256i m[16];
  for (int j = 0; j < 16; ++j) m[j] = LD(w + 8 * j);
  const __m256i a0 = LD(st), b0 = LD(st + 8), c0 = LD(st + 16), d0 = LD(st + 24), ones = _mm256_set1_epi32(-1);
  __m256i a = a0, b = b0, c = c0, d = d0;
#define ADD(x, y) _mm256_add_epi32(x, y)
#define SET1(k) _mm256_set1_epi32(static_cast<int>(k))
#define ROTL(x, r) _mm256_or_si256(_mm256_slli_epi32(x, r), _mm256_srli_epi32(x, 32 - (r)))
// F = (b & c) | (~b & d) = d ^ (b & (c ^ d)); G = (d & b) | (~d & c) = c ^ (d & (b ^ c)).
#define F(x, y, z) _mm256_xor_si256(z, _mm256_and_si256(x, _mm256_xor_si256(y, z)))
#define G(x, y, z) _mm256_xor_si256(y, _mm256_and_si256(z, _mm256_xor_si256(x, y)))
#define H(x, y, z) _mm256_xor_si256(_mm256_xor_si256(x, y), z)
#define I(x, y, z) _mm256_xor_si256(y, _mm256_or_si256(x, _mm256_xor_si256(z, ones)))
  SLUICE_MD5_ROUNDS;
#undef ADD
#undef SET1
#undef ROTL
#undef F
#undef G
#undef H
#undef I
#undef LD
#define ST(p, v) _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v)
  ST(st, _mm256_add_epi32(a, a0));
  ST(st + 8, _mm256_add_epi32(b, b0));
  ST(st + 16, _mm256_add_epi32(c, c0));
  ST(st + 24, _mm256_add_epi32(d, d0));
#undef ST
}

// One block for 16 lanes; ternarylogic does each round function in one instruction (the immediates are
// the truth tables of F, G, H, I over (x, y, z) = bits (0xF0, 0xCC, 0xAA)).
__attribute__((target("avx512f"))) void CompressAvx512(uint32_t* st, const uint32_t* w) {
  __m512i m[16];
  for (int j = 0; j < 16; ++j) m[j] = _mm512_loadu_si512(w + 16 * j);
  const __m512i a0 = _mm512_loadu_si512(st), b0 = _mm512_loadu_si512(st + 16), c0 = _mm512_loadu_si512(st + 32),
                d0 = _mm512_loadu_si512(st + 48);
  __m512i a = a0, b = b0, c = c0, d = d0;
#define ADD(x, y) _mm512_add_epi32(x, y)
#define SET1(k) _mm512_set1_epi32(static_cast<int>(k))
// The maskz form: the unmasked one trips GCC 12's -Wuninitialized on its _mm512_undefined source.
#define ROTL(x, r) _mm512_maskz_rol_epi32(0xFFFF, x, r)
#define F(x, y, z) _mm512_ternarylogic_epi32(x, y, z, 0xCA)
#define G(x, y, z) _mm512_ternarylogic_epi32(x, y, z, 0xE4)
#define H(x, y, z) _mm512_ternarylogic_epi32(x, y, z, 0x96)
#define I(x, y, z) _mm512_ternarylogic_epi32(x, y, z, 0x39)
  SLUICE_MD5_ROUNDS;
#undef ADD
#undef SET1
#undef ROTL
#undef F
#undef G
#undef H
#undef I
  _mm512_storeu_si512(st, _mm512_add_epi32(a, a0));
  _mm512_storeu_si512(st + 16, _mm512_add_epi32(b, b0));
  _mm512_storeu_si512(st + 32, _mm512_add_epi32(c, c0));
  _mm512_storeu_si512(st + 48, _mm512_add_epi32(d, d0));
}

// GCC 12's unmasked AVX-512 intrinsics take an _mm512_undefined source and trip -Wuninitialized.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Messages of NB blocks (NB = 1: at most 55 bytes; NB = 2: 56..119 bytes), 16 at a time, entirely in
// registers: each block of each message is built with a fault-free masked load (no byte past the message
// is read) plus its padding, the 16 blocks are transposed to word-major order with 64 shuffles and
// compressed, and at the end the first two state words (digest bytes 0..7) are written to out[which[l]].
// Lanes at or past `count` compute garbage that is not written.
template <int NB>
__attribute__((target("avx512f,avx512bw,bmi2"), always_inline)) inline void BlockRowsAvx512(
    const std::string_view* msgs, const uint32_t* which, int count, int block, __m512i* r) {
  const __m512i x80 = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int l = 0; l < 16; ++l) {
    if (l >= count) {
      r[l] = _mm512_setzero_si512();
      continue;
    }
    const std::string_view msg = msgs[which[l]];
    const uint64_t len = msg.size(), off = 64 * static_cast<uint64_t>(block);
    const uint64_t here = len > off ? std::min<uint64_t>(len - off, 64) : 0;  // message bytes in this block
    __m512i v = _mm512_maskz_loadu_epi8(_bzhi_u64(~uint64_t{0}, static_cast<unsigned>(here)), msg.data() + (here ? off : 0));
    if (len >= off && len < off + 64) v = _mm512_mask_mov_epi8(v, uint64_t{1} << (len - off), x80);
    if (block == NB - 1) v = _mm512_mask_mov_epi64(v, 0x80, _mm512_set1_epi64(static_cast<long long>(len * 8)));
    r[l] = v;
  }
}

// G groups of 16 lanes run their 64 steps interleaved: one group's steps form a chain of dependent
// 4-cycle steps, so a second independent group fills the vector units while the first waits.
template <int G>
struct Lanes {
  __m512i v[G];
};
#define SLUICE_LANES_OP(name, expr)                                                                        \
  template <int G>                                                                                         \
  __attribute__((target("avx512f"), always_inline)) inline Lanes<G> name(Lanes<G> x, Lanes<G> y, Lanes<G> z) { \
    Lanes<G> r;                                                                                            \
    for (int g = 0; g < G; ++g) r.v[g] = expr;                                                             \
    (void)y;                                                                                               \
    (void)z;                                                                                               \
    return r;                                                                                              \
  }
SLUICE_LANES_OP(LanesAdd, _mm512_add_epi32(x.v[g], y.v[g]))
SLUICE_LANES_OP(LanesF, _mm512_ternarylogic_epi32(x.v[g], y.v[g], z.v[g], 0xCA))
SLUICE_LANES_OP(LanesG, _mm512_ternarylogic_epi32(x.v[g], y.v[g], z.v[g], 0xE4))
SLUICE_LANES_OP(LanesH, _mm512_ternarylogic_epi32(x.v[g], y.v[g], z.v[g], 0x96))
SLUICE_LANES_OP(LanesI, _mm512_ternarylogic_epi32(x.v[g], y.v[g], z.v[g], 0x39))
#undef SLUICE_LANES_OP
template <int G, int R>
__attribute__((target("avx512f"), always_inline)) inline Lanes<G> LanesRotl(Lanes<G> x) {
  Lanes<G> r;
  for (int g = 0; g < G; ++g) r.v[g] = _mm512_maskz_rol_epi32(0xFFFF, x.v[g], R);
  return r;
}
template <int G>
__attribute__((target("avx512f"), always_inline)) inline Lanes<G> LanesSet1(uint32_t k) {
  Lanes<G> r;
  for (int g = 0; g < G; ++g) r.v[g] = _mm512_set1_epi32(static_cast<int>(k));
  return r;
}

template <int NB, int G>
__attribute__((target("avx512f,avx512bw,bmi2"))) void BlocksPrefix64Avx512(const std::string_view* msgs,
                                                                           const uint32_t* which, int count,
                                                                           uint64_t* out) {
  Lanes<G> sa = LanesSet1<G>(kMd5Init[0]), sb = LanesSet1<G>(kMd5Init[1]), sc = LanesSet1<G>(kMd5Init[2]),
           sd = LanesSet1<G>(kMd5Init[3]);
  for (int block = 0; block < NB; ++block) {
    Lanes<G> m[16];
    for (int grp = 0; grp < G; ++grp) {
      __m512i r[16], t[16];
      BlockRowsAvx512<NB>(msgs, which + 16 * grp, count - 16 * grp, block, r);
      // Transpose: after two unpack stages, r[4g + c] holds in its 128-bit block k column 4k + c of rows
      // 4g .. 4g + 3; the 4 x 4 block transpose of r[c], r[4 + c], r[8 + c], r[12 + c] gives m[c], m[4 + c], ...
      for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
      }
      for (int g = 0; g < 4; ++g) {
        r[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
        r[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
        r[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
        r[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
      }
      for (int c = 0; c < 4; ++c) {
        __m512i x0 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0x44), x1 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0xEE);
        __m512i x2 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0x44), x3 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0xEE);
        m[c].v[grp] = _mm512_shuffle_i32x4(x0, x2, 0x88);
        m[4 + c].v[grp] = _mm512_shuffle_i32x4(x0, x2, 0xDD);
        m[8 + c].v[grp] = _mm512_shuffle_i32x4(x1, x3, 0x88);
        m[12 + c].v[grp] = _mm512_shuffle_i32x4(x1, x3, 0xDD);
      }
    }
    Lanes<G> a = sa, b = sb, c = sc, d = sd, unused{};
#define ADD(x, y) LanesAdd<G>(x, y, unused)
#define SET1(k) LanesSet1<G>(k)
#define ROTL(x, r) LanesRotl<G, r>(x)
#define F(x, y, z) LanesF<G>(x, y, z)
#define G(x, y, z) LanesG<G>(x, y, z)
#define H(x, y, z) LanesH<G>(x, y, z)
#define I(x, y, z) LanesI<G>(x, y, z)
    SLUICE_MD5_ROUNDS;
#undef ADD
#undef SET1
#undef ROTL
#undef F
#undef G
#undef H
#undef I
    sa = LanesAdd<G>(sa, a, unused);
    sb = LanesAdd<G>(sb, b, unused);
    sc = LanesAdd<G>(sc, c, unused);
    sd = LanesAdd<G>(sd, d, unused);
  }
  for (int grp = 0; grp < G && 16 * grp < count; ++grp) {
    alignas(64) uint64_t lo[8], hi[8];  // lanes 0..7 and 8..15 as (a | b << 32)
    _mm512_store_si512(lo, _mm512_permutex2var_epi32(sa.v[grp], _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), sb.v[grp]));
    _mm512_store_si512(hi, _mm512_permutex2var_epi32(sa.v[grp], _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), sb.v[grp]));
    for (int l = 0; l < 16 && 16 * grp + l < count; ++l) out[which[16 * grp + l]] = l < 8 ? lo[l] : hi[l - 8];
  }
}
#pragma GCC diagnostic pop

#undef SLUICE_MD5_ROUNDS
#undef SLUICE_MD5_QUAD
#undef SLUICE_MD5_STEP

inline uint32_t Load32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // x86: little-endian, MD5's word order
  return v;
}

// Runs the lane scheduler described at the top over `compress` (one block for L lanes).
template <int L>
void Many(const std::string_view* msgs, size_t n, uint8_t (*digests)[16], void (*compress)(uint32_t*, const uint32_t*)) {
  alignas(64) uint32_t st[4 * L];
  alignas(64) uint32_t w[16 * L] = {};
  struct Lane {
    size_t msg;  // index into msgs; n when the lane is idle
    size_t block, blocks;
  } lanes[L];
  size_t next = 0, active = 0;
  auto start = [&](int l) {
    if (next == n) {
      lanes[l].msg = n;
      return;
    }
    // Message, 0x80, zeros, 8-byte length: blocks = (len + 8) / 64 + 1.
    lanes[l] = {next, 0, (msgs[next].size() + 8) / 64 + 1};
    for (int i = 0; i < 4; ++i) st[i * L + l] = kMd5Init[i];
    ++next;
    ++active;
  };
  for (int l = 0; l < L; ++l) start(l);
  while (active > 0) {
    for (int l = 0; l < L; ++l) {
      const Lane& ln = lanes[l];
      if (ln.msg == n) continue;  // idle: its words are stale and its state is never read
      const std::string_view msg = msgs[ln.msg];
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data());
      const size_t off = 64 * ln.block, len = msg.size();
      if (off + 64 <= len) {
        for (int j = 0; j < 16; ++j) w[j * L + l] = Load32(p + off + 4 * j);
        continue;
      }
      // The tail: what is left of the message (possibly nothing), 0x80 if it ends in this block, zeros,
      // and in the last block the bit length.
      unsigned char tmp[64] = {};
      if (off <= len) {
        if (len > off) std::memcpy(tmp, p + off, len - off);
        tmp[len - off] = 0x80;
      }
      if (ln.block + 1 == ln.blocks) {
        const uint64_t bits = static_cast<uint64_t>(len) * 8;
        std::memcpy(tmp + 56, &bits, 8);
      }
      for (int j = 0; j < 16; ++j) w[j * L + l] = Load32(tmp + 4 * j);
    }
    compress(st, w);
    for (int l = 0; l < L; ++l) {
      Lane& ln = lanes[l];
      if (ln.msg == n || ++ln.block < ln.blocks) continue;
      for (int i = 0; i < 4; ++i) std::memcpy(digests[ln.msg] + 4 * i, &st[i * L + l], 4);
      --active;
      start(l);
    }
  }
}

#endif  // __x86_64__

void Scalar(const std::string_view* msgs, size_t n, uint8_t (*digests)[16]) {
  for (size_t i = 0; i < n; ++i) Md5Digest(msgs[i], digests[i]);
}

}  // namespace

bool Md5ManyPathAvailable(Md5ManyPath path) {
  switch (path) {
    case Md5ManyPath::kScalar:
      return true;
#if defined(__x86_64__)
    case Md5ManyPath::kAvx2:
      return __builtin_cpu_supports("avx2");
    case Md5ManyPath::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("bmi2");
#endif
    default:
      return false;
  }
}

void Md5Many(const std::string_view* msgs, size_t n, uint8_t (*digests)[16], Md5ManyPath path) {
  switch (path) {
#if defined(__x86_64__)
    case Md5ManyPath::kAvx2:
      return Many<8>(msgs, n, digests, CompressAvx2);
    case Md5ManyPath::kAvx512:
      return Many<16>(msgs, n, digests, CompressAvx512);
#endif
    default:
      return Scalar(msgs, n, digests);
  }
}

namespace {

inline uint64_t Prefix64(const uint8_t* d) {
  uint64_t v;
  std::memcpy(&v, d, 8);  // x86: little-endian
  return v;
}

// Md5Prefix64 through Md5Many: in chunks, digests then their first 8 bytes.
void Prefix64ViaMany(const std::string_view* msgs, size_t n, uint64_t* out, Md5ManyPath path) {
  constexpr size_t kChunk = 64;
  uint8_t d[kChunk][16];
  for (size_t at = 0; at < n; at += kChunk) {
    size_t k = std::min(kChunk, n - at);
    Md5Many(msgs + at, k, d, path);
    for (size_t i = 0; i < k; ++i) out[at + i] = Prefix64(d[i]);
  }
}

}  // namespace

void Md5Prefix64(const std::string_view* msgs, size_t n, uint64_t* out, Md5ManyPath path) {
#if defined(__x86_64__)
  if (path == Md5ManyPath::kAvx512) {
    // Messages of one or two blocks go 16 at a time through the in-register path; longer ones, gathered
    // in chunks, through the multi-block scheduler.
    constexpr size_t kLong = 64;
    uint32_t one[32], two[16], longs[kLong];
    std::string_view long_msgs[kLong];
    uint8_t d[kLong][16];
    int n1 = 0, n2 = 0;
    size_t nl = 0;
    auto flush_long = [&] {
      Many<16>(long_msgs, nl, d, CompressAvx512);
      for (size_t i = 0; i < nl; ++i) out[longs[i]] = Prefix64(d[i]);
      nl = 0;
    };
    for (size_t i = 0; i < n; ++i) {
      const size_t len = msgs[i].size();
      if (len <= 55) {
        one[n1++] = static_cast<uint32_t>(i);
        if (n1 == 32) {
          BlocksPrefix64Avx512<1, 2>(msgs, one, 32, out);
          n1 = 0;
        }
      } else if (len <= 119) {
        two[n2++] = static_cast<uint32_t>(i);
        if (n2 == 16) {
          BlocksPrefix64Avx512<2, 1>(msgs, two, 16, out);
          n2 = 0;
        }
      } else {
        longs[nl] = static_cast<uint32_t>(i);
        long_msgs[nl++] = msgs[i];
        if (nl == kLong) flush_long();
      }
    }
    if (n1 > 16) BlocksPrefix64Avx512<1, 2>(msgs, one, n1, out);
    else if (n1 > 0) BlocksPrefix64Avx512<1, 1>(msgs, one, n1, out);
    if (n2 > 0) BlocksPrefix64Avx512<2, 1>(msgs, two, n2, out);
    if (nl > 0) flush_long();
    return;
  }
#endif
  Prefix64ViaMany(msgs, n, out, path);
}

void Md5Prefix64(const std::string_view* msgs, size_t n, uint64_t* out) {
  static const Md5ManyPath kBest = Md5ManyPathAvailable(Md5ManyPath::kAvx512) ? Md5ManyPath::kAvx512
                                   : Md5ManyPathAvailable(Md5ManyPath::kAvx2) ? Md5ManyPath::kAvx2
                                                                               : Md5ManyPath::kScalar;
  Md5Prefix64(msgs, n, out, kBest);
}

void Md5Many(const std::string_view* msgs, size_t n, uint8_t (*digests)[16]) {
  static const Md5ManyPath kBest = Md5ManyPathAvailable(Md5ManyPath::kAvx512) ? Md5ManyPath::kAvx512
                                   : Md5ManyPathAvailable(Md5ManyPath::kAvx2) ? Md5ManyPath::kAvx2
                                                                               : Md5ManyPath::kScalar;
  Md5Many(msgs, n, digests, kBest);
}

}  // namespace sluice::text
