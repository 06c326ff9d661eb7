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
uint64_t HashWord(const unsigned char* w, size_t len) {
  if (len > 16) return XXH3_64bits(w, len);
  uint64_t lo, hi;
  std::memcpy(&lo, w, 8);
  std::memcpy(&hi, w + 8, 8);
  if (len < 8) {
    lo &= (uint64_t{1} << (8 * len)) - 1;
    hi = 0;
  } else if (len < 16) {
    hi &= (uint64_t{1} << (8 * (len - 8))) - 1;
  }
  uint64_t h = (lo ^ (hi * 0xC2B2AE3D27D4EB4Full) ^ (len * 0x165667B19E3779F9ull)) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 31);
}

}  // namespace

void RefineWords(std::string_view text, const RefineOptions& opt, WordList& out) {
  out.clear();
  // 1. The source of the words: the text itself, or its lowercased copy. Lowercasing the whole text equals
  //    lowercasing each word: separators are never produced, consumed or moved by lower(), and they stop
  //    the final-sigma context. The copy is padded so words can be moved with fixed 16-byte copies.
  std::string& src = out.scratch_;
  size_t src_len;
  if (src.size() < text.size() + text.size() / 2 + 40) src.resize(text.size() + text.size() / 2 + 40);
  if (opt.lower_case) {
    src_len = PyLowerTo(text, src.data());
  } else {
    std::memcpy(src.data(), text.data(), text.size());
    src_len = text.size();
  }
  // 2. Split, strip, and pack the words separated by single spaces.
  std::string& buf = out.buf_;
  if (buf.size() < src_len + 32) buf.resize(src_len + 32);
  char* base = buf.data();
  size_t used = 0;
  auto add = [&](std::string_view word) __attribute__((always_inline)) {
    const unsigned char* w = reinterpret_cast<const unsigned char*>(word.data());
    size_t b = 0, e = word.size();
    if (opt.strip_special) {
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
    size_t pos = used + (out.spans_.empty() ? 0 : 1);
    size_t len = e - b;
    // src has >= 32 bytes of padding after the words and buf >= 32 bytes of slack: over-copying is safe.
    for (size_t k = 0; k < len; k += 16) std::memcpy(base + pos + k, w + b + k, 16);
    if (opt.hash_words) out.hashes_.push_back(HashWord(w + b, len));
    if (pos > 0) base[pos - 1] = ' ';
    out.spans_.push_back({pos, pos + len});
    used = pos + len;
  };
  ForEachWord(std::string_view(src.data(), src_len), opt.new_line, opt.tab, add);
  out.base_ = out.spans_.size();
  if (!opt.use_words_aug) return;
  // Augmented entries go after the words; compute their size first so the buffer grows once.
  size_t extra = 0;
  for (int g : opt.aug_group_sizes) {
    if (g <= 0 || static_cast<size_t>(g) > out.base_) continue;
    size_t gs = static_cast<size_t>(g);
    for (size_t i = 0; i + gs <= out.base_; ++i)
      extra += 1 + (out.spans_[i + gs - 1].e - out.spans_[i].b) + (gs - 1) * opt.aug_join_char.size();
  }
  if (buf.size() < used + extra) buf.resize(used + extra);
  base = buf.data();
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
        const auto& sp = out.spans_[i + k];
        std::memcpy(base + used, base + sp.b, sp.e - sp.b);
        used += sp.e - sp.b;
      }
      out.spans_.push_back({pos, used});
    }
  }
}

}  // namespace sluice::text
