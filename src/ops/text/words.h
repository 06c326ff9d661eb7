// Word splitting and refinement (datajuicer-ops.md §2.3), on UTF-8.
//
// Contract:
//   ForEachWord(text, new_line, tab, f)  split_on_whitespace: calls f(word) for every non-empty piece of
//       `text` split on the literal separators ' ' (always), '\n' (if new_line) and '\t' (if tab). No other
//       character separates words (not '\r', not U+3000, not NBSP).
//   StripSpecial(word)  removes SPECIAL_CHARACTERS (§2.4) code points from both ends (a view into word).
//   CountNonSpecialWords(text, new_line, tab)  how many of those words hold a non-special code point.
//   RefineWords(text, opt, out)  words_refinement over split_on_whitespace(text, opt.new_line, opt.tab):
//       per word, in this order: optional lowercasing (Python lower()), optional stripping of special
//       characters with empty results dropped, then optional augmentation: for each group size g, every
//       window of g consecutive words joined by join_char is appended after all the words.
//   RefineWords(words, opt, out)  the same over a given list of words (SentencePiece pieces), each taken whole
//       even where it holds a separator (a model that keeps spaces inside pieces); empty ones are skipped.
//   WordList keeps the refined (non-augmented) words joined by single spaces in one buffer, so
//   Joined(i, j) is the Python ' '.join(words[i:j]) as a view, without copying (used for word n-grams).
// Buffers are reused across calls: no allocation once they have grown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#if defined(__AVX2__) || defined(__SSE2__)
#include <immintrin.h>
#endif

#include "ops/text/special_chars.h"
#include "core/utf8.h"

namespace sluice::text {

namespace detail {

// Bit c (c < 64) set iff byte c separates words.
inline uint64_t SeparatorMask(bool new_line, bool tab) {
  return (uint64_t{1} << ' ') | (new_line ? uint64_t{1} << '\n' : 0) | (tab ? uint64_t{1} << '\t' : 0);
}

// Bitmask of the separator bytes in p[0..32) (bit k for p[k]).
inline uint32_t SeparatorBits32(const char* p, bool new_line, bool tab) {
#if defined(__AVX2__)
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  __m256i m = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(' '));
  if (new_line) m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\n')));
  if (tab) m = _mm256_or_si256(m, _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t')));
  return static_cast<uint32_t>(_mm256_movemask_epi8(m));
#elif defined(__SSE2__)
  uint32_t bits = 0;
  for (int h = 0; h < 2; ++h) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * h));
    __m128i m = _mm_cmpeq_epi8(v, _mm_set1_epi8(' '));
    if (new_line) m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
    if (tab) m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\t')));
    bits |= static_cast<uint32_t>(_mm_movemask_epi8(m)) << (16 * h);
  }
  return bits;
#else
  uint64_t sep = SeparatorMask(new_line, tab);
  uint32_t bits = 0;
  for (int k = 0; k < 32; ++k) {
    unsigned char c = static_cast<unsigned char>(p[k]);
    bits |= static_cast<uint32_t>(c < 64 && ((sep >> c) & 1)) << k;
  }
  return bits;
#endif
}

}  // namespace detail

template <class F>
inline void ForEachWord(std::string_view text, bool new_line, bool tab, F&& f) {
  const char* p = text.data();
  size_t n = text.size(), start = 0, base = 0;
  // 32 bytes at a time: walk the separator positions of each block.
  for (; base + 32 <= n; base += 32) {
    uint32_t m = detail::SeparatorBits32(p + base, new_line, tab);
    while (m != 0) {
      size_t at = base + static_cast<size_t>(__builtin_ctz(m));
      if (at > start) f(text.substr(start, at - start));
      start = at + 1;
      m &= m - 1;
    }
  }
  uint64_t sep = detail::SeparatorMask(new_line, tab);
  for (size_t i = base; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c < 64 && ((sep >> c) & 1)) {
      if (i > start) f(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (n > start) f(text.substr(start));
}

// True if stripping SPECIAL_CHARACTERS from both ends leaves something, i.e. the word (non-empty) has a
// non-special code point.
bool HasNonSpecialSlow(std::string_view word);
inline bool HasNonSpecial(std::string_view word) {
  unsigned char first = static_cast<unsigned char>(word.front()), last = static_cast<unsigned char>(word.back());
  if ((first < 0x80 && !IsSpecialChar(first)) || (last < 0x80 && !IsSpecialChar(last))) return true;
  return HasNonSpecialSlow(word);
}

std::string_view StripSpecial(std::string_view word);

// The number of words f would be called with by ForEachWord(text, new_line, tab, f) for which
// HasNonSpecial(word) holds (words_num_filter), without visiting words one by one: 64 bytes at a time,
// a word counts iff it holds a non-special character, found from byte masks (non-ASCII characters are
// decoded and looked up one by one).
size_t CountNonSpecialWords(std::string_view text, bool new_line, bool tab);

struct RefineOptions {
  bool new_line = true;
  bool tab = true;
  bool lower_case = false;
  bool strip_special = false;
  bool use_words_aug = false;
  bool hash_words = false;  // also fill WordList::hash(i) for the (non-augmented) words
  bool padded = false;      // without lower_case: the text is followed by >= 32 readable bytes, so it is
                            // read in place instead of being copied first
  std::vector<int> aug_group_sizes = {2};
  std::string aug_join_char;
};

class WordList {
 public:
  void clear() {
    size_ = 0;
    base_ = 0;
  }
  size_t size() const { return size_; }
  // Number of words before augmentation.
  size_t base_size() const { return base_; }
  std::string_view operator[](size_t i) const { return std::string_view(buf_).substr(spans_[i].b, spans_[i].e - spans_[i].b); }
  // A 64-bit hash of word i (i < base_size(); only with RefineOptions::hash_words). Equal words have equal
  // hashes; the converse is not guaranteed.
  uint64_t hash(size_t i) const { return hashes_[i]; }
  // ' '.join(words[i:j]) for 0 <= i < j <= base_size().
  std::string_view Joined(size_t i, size_t j) const {
    return std::string_view(buf_).substr(spans_[i].b, spans_[j - 1].e - spans_[i].b);
  }

 private:
  friend void RefineWords(std::string_view text, const RefineOptions& opt, WordList& out);
  friend void RefineWords(const std::vector<std::string_view>& words, const RefineOptions& opt, WordList& out);
  struct Span {
    size_t b, e;
  };
  // Refines the words for_each(add) passes to add, read from src[0, src_len) (followed by >= 32 readable
  // bytes), at most max_words of them (words.cc).
  template <class ForEach>
  void Fill(const char* src, size_t src_len, size_t max_words, const RefineOptions& opt, ForEach&& for_each);
  std::string buf_;      // grown only; the bytes in use are those the spans cover
  std::string scratch_;  // padded (lowercased) copy of the text
  std::vector<Span> spans_;       // grown only; the first size_ are in use
  std::vector<uint64_t> hashes_;  // likewise, the first base_ (with hash_words)
  std::vector<size_t> ends_;      // RefineWords over given words: where each ends in scratch_
  size_t size_ = 0;
  size_t base_ = 0;
};

void RefineWords(std::string_view text, const RefineOptions& opt, WordList& out);
void RefineWords(const std::vector<std::string_view>& words, const RefineOptions& opt, WordList& out);

}  // namespace sluice::text
