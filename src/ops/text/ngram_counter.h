// Exact n-gram frequency counting for the repetition filters, without per-record allocation.
//
// Contract (both counters; RepeatPrefilter is described at its definition): Reset(max_adds) prepares for
// at most max_adds Add calls and forgets the previous record. After the adds: distinct() = number of
// distinct n-grams, singles() = how many occurred exactly once, ForEachRepeatedCount(f) calls f(count) for
// every n-gram that occurred more than once.
//   NgramCounter   keys are caller ids with a caller hash; two ids are the same n-gram iff eq(a, b) (the
//                  caller compares the bytes), so counts are exact whatever the hash quality.
//   Ngram16Counter keys are 16 bytes (a, b) compared exactly (e.g. an ASCII n-gram of up to 16 characters
//                  packed as two overlapping 8-byte loads).
// Tables use open addressing with linear probing at most half full; a generation number empties them in
// O(1), so nothing is cleared between records.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sluice::text {

// Short byte-range equality without a libc call (n-grams are a few dozen bytes).
inline bool BytesEqual(const unsigned char* a, const unsigned char* b, size_t n) {
  while (n >= 8) {
    uint64_t x, y;
    std::memcpy(&x, a, 8);
    std::memcpy(&y, b, 8);
    if (x != y) return false;
    a += 8, b += 8, n -= 8;
  }
  while (n > 0) {
    if (*a != *b) return false;
    ++a, ++b, --n;
  }
  return true;
}

namespace detail {

// Shared table bookkeeping: capacity, generation, statistics.
template <class Slot>
class CountTable {
 public:
  void Reset(size_t max_adds) {
    size_t cap = 16;
    while (cap < 2 * max_adds) cap <<= 1;
    if (slots_.size() < cap || ++gen_ == 0) {
      slots_.assign(std::max(cap, slots_.size()), Slot{});
      gen_ = 1;
    }
    mask_ = cap - 1;
    shift_ = 64;
    for (size_t c = cap; c > 1; c >>= 1) --shift_;
    adds_ = 0;
    repeated_.clear();
  }
  // Every add either claimed a slot or added one to a count, so the statistics follow from the repeated
  // slots alone (nothing is counted in the hot path).
  size_t distinct() const {
    size_t extra = 0;
    for (uint32_t s : repeated_) extra += slots_[s].count - 1;
    return adds_ - extra;
  }
  size_t singles() const { return distinct() - repeated_.size(); }
  template <class F>
  void ForEachRepeatedCount(F&& f) const {
    for (uint32_t s : repeated_) f(slots_[s].count);
  }

 protected:
  size_t Index(uint64_t hash) const { return static_cast<size_t>((hash * 0x9E3779B97F4A7C15ull) >> shift_) & mask_; }
  // Call on a slot that matched: counts one more occurrence.
  void Hit(Slot& s, size_t i) {
    if (++s.count == 2) repeated_.push_back(static_cast<uint32_t>(i));
  }
  void Claim(Slot& s) {
    s.gen = gen_;
    s.count = 1;
  }

  std::vector<Slot> slots_;
  std::vector<uint32_t> repeated_;
  size_t mask_ = 0;
  int shift_ = 64;
  uint32_t gen_ = 0;
  size_t adds_ = 0;  // set by the subclasses' Add loops
};

struct IdSlot {
  uint64_t hash = 0;
  uint32_t id = 0;
  uint32_t count = 0;
  uint32_t gen = 0;
};

struct Bytes16Slot {
  uint64_t a = 0, b = 0;
  uint32_t count = 0;
  uint32_t gen = 0;
};

}  // namespace detail

class NgramCounter : public detail::CountTable<detail::IdSlot> {
 public:
  template <class Eq>
  void Add(uint32_t id, uint64_t hash, Eq&& eq) {
    ++adds_;
    for (size_t i = Index(hash);; i = (i + 1) & mask_) {
      detail::IdSlot& s = slots_[i];
      if (s.gen != gen_) {
        Claim(s);
        s.hash = hash;
        s.id = id;
        return;
      }
      if (s.hash == hash && eq(s.id, id)) return Hit(s, i);
    }
  }
};

class Ngram16Counter : public detail::CountTable<detail::Bytes16Slot> {
 public:
  static uint64_t Hash(uint64_t a, uint64_t b) { return (a ^ (b * 0xC2B2AE3D27D4EB4Full)) + (b >> 29); }
  void Add(uint64_t a, uint64_t b) {
    ++adds_;
    for (size_t i = Index(Hash(a, b));; i = (i + 1) & mask_) {
      detail::Bytes16Slot& s = slots_[i];
      if (s.gen != gen_) {
        Claim(s);
        s.a = a;
        s.b = b;
        return;
      }
      if (s.a == a && s.b == b) return Hit(s, i);
    }
  }
};

// RepeatPrefilter: most n-grams of a text occur once, and a hash table insert per n-gram is slow (an
// unpredictable branch per insert). A saturating counter per hash bucket finds, without branches, the
// n-grams whose hash bucket was hit at least twice; every other n-gram is certainly a singleton (its
// bucket holds it alone, once). Only the candidates need exact counting.
//
// Contract: Candidates(hashes, n) returns, in ascending order, a superset of the indices i in [0, n)
// whose n-gram occurs more than once; all occurrences of such an n-gram are included (they share the
// bucket). So: distinct = (n - candidates) + distinct among candidates, likewise for singletons.
class RepeatPrefilter {
 public:
  const std::vector<uint32_t>& Candidates(const uint64_t* hashes, size_t n) {
    constexpr uint64_t kMul = 0xD6E8FEB86659FD93ull;  // not the tables' multiplier: candidates spread there
    size_t buckets = 512;
    while (buckets < 8 * n) buckets <<= 1;  // ~1/8 chance that another n-gram shares a bucket
    int shift = 64;
    for (size_t b = buckets; b > 1; b >>= 1) --shift;
    // One byte per bucket: 0 unseen, 1 seen once, 3 seen at least twice.
    seen_.assign(buckets, 0);
    uint8_t* c = seen_.data();
    for (size_t i = 0; i < n; ++i) {
      size_t idx = static_cast<size_t>((hashes[i] * kMul) >> shift);
      c[idx] = static_cast<uint8_t>(((c[idx] << 1) | 1) & 3);
    }
    cand_.resize(n + 1);
    size_t m = 0;
    for (size_t i = 0; i < n; ++i) {
      size_t idx = static_cast<size_t>((hashes[i] * kMul) >> shift);
      cand_[m] = static_cast<uint32_t>(i);
      m += c[idx] >> 1;
    }
    cand_.resize(m);
    return cand_;
  }

 private:
  std::vector<uint8_t> seen_;
  std::vector<uint32_t> cand_;
};

}  // namespace sluice::text
