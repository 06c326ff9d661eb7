// Word splitting and refinement; see words.h for the contract.
#include "ops/text/words.h"

#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ops/text/pystr.h"
#include "ops/text/simd.h"

namespace sluice::text {

namespace {

// Bit k set iff p[k] (k < 32) is an ASCII byte that is not a SPECIAL_CHARACTER (special: \t-\r, ' '-'@',
// '['-'`', '{'-'~'; tests/ops check the set against IsSpecialChar).
inline uint32_t AsciiNonSpecial32(const char* p) {
#if defined(__AVX2__)
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  auto in_range = [&](char lo, char hi) {  // lo <= v <= hi, for bytes < 0x80 (others are negative)
    return _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8(static_cast<char>(lo - 1))),
                            _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(hi + 1)), v));
  };
  __m256i special = _mm256_or_si256(_mm256_or_si256(in_range('\t', '\r'), in_range(' ', '@')),
                                    _mm256_or_si256(in_range('[', '`'), in_range('{', '~')));
  // Non-special ASCII: not special and >= 0 as a signed byte.
  __m256i ascii = _mm256_cmpgt_epi8(v, _mm256_set1_epi8(-1));
  return static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_andnot_si256(special, ascii)));
#else
  uint32_t bits = 0;
  for (int k = 0; k < 32; ++k) {
    unsigned char c = static_cast<unsigned char>(p[k]);
    bits |= static_cast<uint32_t>(c < 0x80 && !IsSpecialChar(c)) << k;
  }
  return bits;
#endif
}

}  // namespace

std::string_view StripSpecial(std::string_view w) {
  size_t b = 0;
  while (b < w.size()) {
    size_t i = b;
    if (!IsSpecialChar(utf8::Next(w, i))) break;
    b = i;
  }
  size_t e = w.size();
  while (e > b) {
    size_t lead = e - 1;
    while ((static_cast<unsigned char>(w[lead]) & 0xC0) == 0x80) --lead;
    size_t i = lead;
    if (!IsSpecialChar(utf8::Next(w, i))) break;
    e = lead;
  }
  return w.substr(b, e - b);
}

size_t CountNonSpecialWords(std::string_view text, bool new_line, bool tab) {
  // Per 64-byte block: S = separators, G = lead bytes of non-special characters. A word counts iff it
  // holds a G; in the subsequence of S and G positions that is a G whose predecessor is an S (or that
  // comes first). pext packs G onto the S-or-G positions, where such Gs are the 1 bits after a 0 bit.
  const char* p = text.data();
  const size_t n = text.size();
  size_t count = 0;
  uint64_t carry = 0;  // the last S-or-G position seen was a G
  char tail[64];
  for (size_t base = 0; base < n; base += 64) {
    const char* block = p + base;
    if (base + 64 > n) {  // the last block, padded with spaces (separators add no words)
      std::memset(tail, ' ', sizeof tail);
      std::memcpy(tail, block, n - base);
      block = tail;
    }
    uint64_t sep = detail::SeparatorBits32(block, new_line, tab) |
                   (uint64_t{detail::SeparatorBits32(block + 32, new_line, tab)} << 32);
    uint64_t good = AsciiNonSpecial32(block) | (uint64_t{AsciiNonSpecial32(block + 32)} << 32);
    uint64_t high = NonAscii32(block) | (uint64_t{NonAscii32(block + 32)} << 32);
    // Lead bytes (11xxxxxx) of non-ASCII characters: decode and look each up.
    uint64_t lead = high & ~(Continuation32(block) | (uint64_t{Continuation32(block + 32)} << 32));
    for (; lead != 0; lead &= lead - 1) {
      size_t i = base + static_cast<size_t>(__builtin_ctzll(lead));
      if (!IsSpecialChar(utf8::Next(text, i))) good |= lead & (~lead + 1);
    }
    uint64_t x = sep | good;
#if defined(__BMI2__)
    uint64_t g = _pext_u64(good, x);
#else
    uint64_t g = 0;
    for (uint64_t m = x, k = 1; m != 0; m &= m - 1, k <<= 1)
      if (good & m & (~m + 1)) g |= k;
#endif
    const int k = __builtin_popcountll(x);
    if (k == 0) continue;
    uint64_t in_use = k == 64 ? ~uint64_t{0} : (uint64_t{1} << k) - 1;
    count += static_cast<size_t>(__builtin_popcountll(g & ~((g << 1) | carry) & in_use));
    carry = (g >> (k - 1)) & 1;
  }
  return count;
}

bool HasNonSpecialSlow(std::string_view w) {
  for (size_t i = 0; i < w.size();)
    if (!IsSpecialChar(utf8::Next(w, i))) return true;
  return false;
}

namespace {

// Hash of a word whose bytes are followed by >= 16 readable bytes: short words are hashed from two 8-byte
// loads with the bytes beyond the word masked off.
// The first k bytes of x (all of them when k >= 8), without a branch: word lengths are unpredictable.
inline uint64_t LowBytes(uint64_t x, size_t k) {
#if defined(__BMI2__)
  return _bzhi_u64(x, static_cast<unsigned>(8 * k));  // an index >= 64 keeps every bit
#else
  return k >= 8 ? x : x & ((uint64_t{1} << (8 * k)) - 1);
#endif
}

uint64_t HashWord(const unsigned char* w, size_t len) {
  if (len > 16) return XXH3_64bits(w, len);
  uint64_t lo, hi;
  std::memcpy(&lo, w, 8);
  std::memcpy(&hi, w + 8, 8);
  lo = LowBytes(lo, len);
  hi = LowBytes(hi, len > 8 ? len - 8 : 0);
  uint64_t h = (lo ^ (hi * 0xC2B2AE3D27D4EB4Full) ^ (len * 0x165667B19E3779F9ull)) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 31);
}

// The ASCII members of SPECIAL_CHARACTERS (special_chars.h: whitespace \t-\r, ' ', punctuation, digits;
// tests/ops check this against IsSpecialChar), as a nibble table: bit (c >> 4) of t[c & 15].
struct SpecialNibbles {
  alignas(16) uint8_t t[16] = {};
  constexpr SpecialNibbles() {
    for (int c = 0; c < 0x80; ++c) {
      bool special = (c >= 0x09 && c <= 0x0D) || (c >= 0x20 && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
                     (c >= 0x7B && c <= 0x7E);
      if (special) t[c & 15] = static_cast<uint8_t>(t[c & 15] | (1 << (c >> 4)));
    }
  }
};
constexpr SpecialNibbles kSpecialByLowNibble;

// For a word w of len <= 16 bytes followed by >= 16 readable bytes: false if it has a non-ASCII byte;
// else true with bit k of *keep set iff w[k] is not a SPECIAL_CHARACTER (k < len).
inline bool AsciiKeep16(const unsigned char* w, size_t len, uint32_t* keep) {
  uint32_t in_word = (uint32_t{1} << len) - 1;
#if defined(__SSSE3__)
  // Nibble lookup: byte c (< 0x80) is special iff bit (c >> 4) of kSpecialByLowNibble[c & 15] is set.
  const __m128i kLow = _mm_load_si128(reinterpret_cast<const __m128i*>(kSpecialByLowNibble.t));
  const __m128i kHigh = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0);
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));
  if ((static_cast<uint32_t>(_mm_movemask_epi8(v)) & in_word) != 0) return false;
  __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0F));
  __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
  __m128i special = _mm_and_si128(_mm_shuffle_epi8(kLow, lo), _mm_shuffle_epi8(kHigh, hi));
  uint32_t is_special = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(special, _mm_setzero_si128()))) ^ 0xFFFF;
  *keep = ~is_special & in_word;
  return true;
#else
  uint32_t k = 0;
  for (size_t i = 0; i < len; ++i) {
    if (w[i] >= 0x80) return false;
    k |= static_cast<uint32_t>(((kSpecialByLowNibble.t[w[i] & 15] >> (w[i] >> 4)) & 1) == 0) << i;
  }
  (void)in_word;
  *keep = k;
  return true;
#endif
}

}  // namespace

template <class ForEach>
void WordList::Fill(const char* src, size_t src_len, size_t max_words, const RefineOptions& opt, ForEach&& for_each) {
  WordList& out = *this;
  // Strip, and pack the words separated by single spaces; the arrays are sized once and filled by index.
  std::string& buf = out.buf_;
  if (buf.size() < src_len + max_words + 32) buf.resize(src_len + max_words + 32);
  if (out.spans_.size() < max_words) out.spans_.resize(max_words);
  if (opt.hash_words && out.hashes_.size() < max_words) out.hashes_.resize(max_words);
  char* base = buf.data();
  WordList::Span* spans = out.spans_.data();
  uint64_t* hashes = out.hashes_.data();
  size_t used = 0, count = 0;
  auto add = [&](std::string_view word) __attribute__((always_inline)) {
    const unsigned char* w = reinterpret_cast<const unsigned char*>(word.data());
    size_t b = 0, e = word.size();
    if (opt.strip_special) {
      uint32_t keep;
      if (e <= 16 && AsciiKeep16(w, e, &keep)) {
        // An ASCII word of up to 16 bytes (most words): its non-special bytes at once.
        if (keep == 0) return;
        b = static_cast<size_t>(__builtin_ctz(keep));
        e = 32 - static_cast<size_t>(__builtin_clz(keep));
      } else {
        if (w[0] < 0x80 && w[e - 1] < 0x80) {
          while (b < e && w[b] < 0x80 && IsSpecialChar(w[b])) ++b;
          while (e > b && w[e - 1] < 0x80 && IsSpecialChar(w[e - 1])) --e;
        }
        if (b == e) return;
        if (w[b] >= 0x80 || w[e - 1] >= 0x80) {  // a non-ASCII end: strip by code point
          std::string_view sw = StripSpecial(word.substr(b, e - b));
          if (sw.empty()) return;
          b = static_cast<size_t>(reinterpret_cast<const unsigned char*>(sw.data()) - w);
          e = b + sw.size();
        }
      }
    }
    size_t pos = used + (count == 0 ? 0 : 1);
    size_t len = e - b;
    // src has >= 32 bytes of padding after the words and buf >= 32 bytes of slack: over-copying is safe.
    for (size_t k = 0; k < len; k += 16) std::memcpy(base + pos + k, w + b + k, 16);
    if (opt.hash_words) hashes[count] = HashWord(w + b, len);
    if (pos > 0) base[pos - 1] = ' ';
    spans[count++] = {pos, pos + len};
    used = pos + len;
  };
  for_each(add);
  out.size_ = out.base_ = count;
  if (!opt.use_words_aug) return;
  // Augmented entries go after the words; compute their size first so the buffers grow once.
  size_t extra = 0, entries = 0;
  for (int g : opt.aug_group_sizes) {
    if (g <= 0 || static_cast<size_t>(g) > out.base_) continue;
    size_t gs = static_cast<size_t>(g);
    for (size_t i = 0; i + gs <= out.base_; ++i, ++entries)
      extra += 1 + (spans[i + gs - 1].e - spans[i].b) + (gs - 1) * opt.aug_join_char.size();
  }
  if (buf.size() < used + extra) buf.resize(used + extra);
  if (out.spans_.size() < count + entries) out.spans_.resize(count + entries);
  base = buf.data();
  spans = out.spans_.data();
  for (int g : opt.aug_group_sizes) {
    if (g <= 0) continue;
    size_t gs = static_cast<size_t>(g);
    for (size_t i = 0; i + gs <= out.base_; ++i) {
      base[used++] = ' ';
      size_t pos = used;
      for (size_t k = 0; k < gs; ++k) {
        if (k) {
          std::memcpy(base + used, opt.aug_join_char.data(), opt.aug_join_char.size());
          used += opt.aug_join_char.size();
        }
        const auto& sp = spans[i + k];
        std::memcpy(base + used, base + sp.b, sp.e - sp.b);
        used += sp.e - sp.b;
      }
      spans[count++] = {pos, used};
    }
  }
  out.size_ = count;
}

void RefineWords(std::string_view text, const RefineOptions& opt, WordList& out) {
  out.clear();
  // 1. The source of the words: the text itself, or its lowercased copy. Lowercasing the whole text equals
  //    lowercasing each word: separators are never produced, consumed or moved by lower(), and they stop
  //    the final-sigma context. The copy is padded so words can be read and moved 16 bytes at a time.
  std::string& scratch = out.scratch_;
  const char* src;
  size_t src_len;
  if (opt.padded && !opt.lower_case) {  // read in place: the caller guarantees the padding
    src = text.data();
    src_len = text.size();
  } else {
    if (scratch.size() < text.size() + text.size() / 2 + 40) scratch.resize(text.size() + text.size() / 2 + 40);
    if (opt.lower_case) {
      src_len = PyLowerTo(text, scratch.data());
    } else {
      std::memcpy(scratch.data(), text.data(), text.size());
      src_len = text.size();
    }
    src = scratch.data();
  }
  // 2. Split, strip, and pack. A word takes at least one byte and a separator, so there are at most
  //    src_len / 2 + 1.
  out.Fill(src, src_len, src_len / 2 + 1, opt,
           [&](auto& add) { ForEachWord(std::string_view(src, src_len), opt.new_line, opt.tab, add); });
}

void RefineWords(const std::vector<std::string_view>& words, const RefineOptions& opt, WordList& out) {
  out.clear();
  // Each word is copied (lowercased by itself, as DataJuicer lowers word by word) into the padded scratch,
  // back to back, and then refined whole.
  size_t total = 0;
  for (std::string_view w : words) total += w.size();
  std::string& scratch = out.scratch_;
  if (scratch.size() < total + total / 2 + 40) scratch.resize(total + total / 2 + 40);
  out.ends_.resize(words.size());
  size_t at = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    if (opt.lower_case) {
      at += PyLowerTo(words[i], scratch.data() + at);
    } else {
      std::memcpy(scratch.data() + at, words[i].data(), words[i].size());
      at += words[i].size();
    }
    out.ends_[i] = at;
  }
  const char* src = scratch.data();
  out.Fill(src, at, words.size(), opt, [&](auto& add) {
    size_t b = 0;
    for (size_t e : out.ends_) {
      if (e > b) add(std::string_view(src + b, e - b));
      b = e;
    }
  });
}

}  // namespace sluice::text
