// WordSet: exact membership of byte strings, for the word lists of stopwords_filter / flagged_words_filter
// (datajuicer-ops.md §2.6: a refined word matches iff it equals a list entry, Python str equality, i.e.
// byte equality of the UTF-8).
//
// Contract: Insert(w) adds w (duplicates are ignored); Contains(w) is true iff w was inserted. Built once
// per op instance, then only read: the strings live in one arena, the table is open addressing with
// linear probing over 64-bit XXH3 hashes kept at most half full, so a lookup is one hash plus (usually)
// one probe and one byte comparison, and never allocates. Words longer than the longest entry are
// rejected before hashing.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice::text {

class WordSet {
 public:
  WordSet() { slots_.resize(16); }

  void Insert(std::string_view w) {
    if (Contains(w)) return;
    if (2 * (size_ + 1) > slots_.size()) Grow();
    uint64_t h = XXH3_64bits(w.data(), w.size());
    Place({h, static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(w.size())});
    arena_.append(w);
    ++size_;
    if (w.size() > max_len_) max_len_ = w.size();
  }

  bool Contains(std::string_view w) const {
    if (w.size() > max_len_) return false;
    uint64_t h = XXH3_64bits(w.data(), w.size());
    size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.off == kEmpty) return false;
      if (s.hash == h && s.len == w.size() && std::memcmp(arena_.data() + s.off, w.data(), w.size()) == 0) return true;
    }
  }

  size_t size() const { return size_; }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint64_t hash = 0;
    uint32_t off = kEmpty;  // offset of the word in arena_; kEmpty marks a free slot
    uint32_t len = 0;
  };

  void Place(const Slot& s) {
    size_t mask = slots_.size() - 1;
    size_t i = s.hash & mask;
    while (slots_[i].off != kEmpty) i = (i + 1) & mask;
    slots_[i] = s;
  }

  void Grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old)
      if (s.off != kEmpty) Place(s);
  }

  std::string arena_;
  std::vector<Slot> slots_;  // size is a power of two
  size_t size_ = 0;
  size_t max_len_ = 0;
};

}  // namespace sluice::text
