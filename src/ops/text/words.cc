// Word splitting and refinement; see words.h for the contract.
#include "ops/text/words.h"

#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ops/text/pystr.h"

namespace sluice::text {

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

void RefineWords(std::string_view text, const RefineOptions& opt, WordList& out) {
  out.clear();
  // 1. The source of the words: the text itself, or its lowercased copy. Lowercasing the whole text equals
  //    lowercasing each word: separators are never produced, consumed or moved by lower(), and they stop
  //    the final-sigma context. The copy is padded so words can be read and moved 16 bytes at a time.
  std::string& src = out.scratch_;
  size_t src_len;
  if (src.size() < text.size() + text.size() / 2 + 40) src.resize(text.size() + text.size() / 2 + 40);
  if (opt.lower_case) {
    src_len = PyLowerTo(text, src.data());
  } else {
    std::memcpy(src.data(), text.data(), text.size());
    src_len = text.size();
  }
  // 2. Split, strip, and pack the words separated by single spaces. A word takes at least one byte and a
  //    separator, so there are at most src_len / 2 + 1: the arrays are sized once and filled by index.
  std::string& buf = out.buf_;
  if (buf.size() < src_len + 32) buf.resize(src_len + 32);
  size_t max_words = src_len / 2 + 1;
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
  ForEachWord(std::string_view(src.data(), src_len), opt.new_line, opt.tab, add);
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

}  // namespace sluice::text
