// Test-only writer of KenLM binary model files (what build_binary writes, format version 5) from an ARPA
// text, for every model type, so the reader (src/ops/text/kenlm_binary.h) can be tested without KenLM,
// which Debian, npm and this machine do not have. It follows KenLM's layout independently of the reader's
// code (it shares only the word hash, KenlmMurmurHash64A, which ngram_lm_binary_test.cc checks against
// SMHasher's published verification value). The ARPA must list every prefix and suffix of its n-grams
// (lmplz's output does); the writer throws on a missing context instead of inserting SRI-style blanks.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "ops/text/kenlm_binary.h"

namespace sluice::testing::kenlm {

struct ArpaModel {
  struct Entry {
    std::vector<std::string> words;  // left to right
    float prob = 0;
    float backoff = 0;  // 0 when the line has none
  };
  std::vector<std::vector<Entry>> grams;  // grams[n - 1]: the n-grams in file order
};

inline ArpaModel ParseArpa(const std::string& text) {
  ArpaModel m;
  std::istringstream in(text);
  std::string line;
  int section = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line == "\\data\\" || line.starts_with("ngram ")) continue;
    if (line == "\\end\\") break;
    if (line.front() == '\\') {
      section = std::stoi(line.substr(1));
      if (static_cast<int>(m.grams.size()) < section) m.grams.resize(section);
      continue;
    }
    std::istringstream f(line);
    ArpaModel::Entry e;
    std::string tok;
    f >> tok;
    e.prob = std::stof(tok);
    for (int i = 0; i < section && f >> tok; ++i) e.words.push_back(tok);
    if (f >> tok) e.backoff = std::stof(tok);
    if (static_cast<int>(e.words.size()) != section) throw std::runtime_error("short ARPA line: " + line);
    m.grams[section - 1].push_back(std::move(e));
  }
  return m;
}

// Model types, numbered as in the binary header.
enum Type { kProbing = 0, kRestProbing = 1, kTrie = 2, kQuantTrie = 3, kArrayTrie = 4, kQuantArrayTrie = 5 };

struct Options {
  Type type = kProbing;
  float probing_multiplier = 1.5f;  // build_binary's default (-p)
  int prob_bits = 8, backoff_bits = 8;  // -q, -b
  int pointer_bits = 22;                // -a
  bool include_vocab = true;
};

// The quantization tables a quantized file was written with: per order 2..N the probability centers, per
// order 2..N-1 the back-off centers ([0] = -0.0, [1] = +0.0).
struct QuantTables {
  std::vector<std::vector<float>> prob, backoff;  // index n - 2
};

namespace detail {

using Ids = std::vector<uint32_t>;  // an n-gram's word ids, left to right

inline void Put(std::string& out, size_t at, const void* p, size_t n) {
  if (out.size() < at + n) out.resize(at + n, '\0');
  std::memcpy(&out[at], p, n);
}
template <class T>
void PutValue(std::string& out, size_t at, T v) {
  Put(out, at, &v, sizeof v);
}
// OR `value` (< 2^bits) into the little-endian bit stream at bit offset `bit`.
inline void PutBits(std::string& out, size_t base, uint64_t bit, int bits, uint64_t value) {
  for (int i = 0; i < bits; ++i)
    if ((value >> i) & 1) {
      uint64_t b = bit + i;
      out[base + b / 8] = static_cast<char>(static_cast<uint8_t>(out[base + b / 8]) | (1u << (b % 8)));
    }
}
inline uint8_t Required(uint64_t v) {
  uint8_t r = 0;
  while (v) {
    ++r;
    v >>= 1;
  }
  return r;
}
inline uint64_t Hash(const std::string& w) { return text::KenlmMurmurHash64A(w.data(), w.size(), 0); }
inline uint64_t Combine(uint64_t cur, uint32_t next) {
  return cur * 8978948897894561157ull ^ (uint64_t{next} + 1) * 17894857484156487943ull;
}
inline uint32_t Bits32(float f) { return std::bit_cast<uint32_t>(f); }
inline float WithSign(float f, bool negative_bit) {
  uint32_t b = Bits32(f) & 0x7FFFFFFFu;
  return std::bit_cast<float>(negative_bit ? b | 0x80000000u : b);
}

// Equal-population bins, each center the mean of its values (what KenLM's quantizer does, written again).
inline std::vector<float> Centers(std::vector<float> values, size_t bins) {
  std::sort(values.begin(), values.end());
  std::vector<float> c(bins);
  size_t start = 0;
  for (size_t i = 0; i < bins; ++i) {
    size_t end = values.size() * (i + 1) / bins;
    if (end == start) c[i] = i ? c[i - 1] : -std::numeric_limits<float>::infinity();
    else {
      double sum = 0;
      for (size_t k = start; k < end; ++k) sum += values[k];
      c[i] = static_cast<float>(sum / static_cast<double>(end - start));
    }
    start = end;
  }
  return c;
}
// The nearest center in [first, size) (ties go up).
inline uint64_t Nearest(const std::vector<float>& c, size_t first, float v) {
  auto above = std::lower_bound(c.begin() + first, c.end(), v);
  if (above == c.begin() + first) return first;
  if (above == c.end()) return c.size() - 1;
  size_t i = above - c.begin();
  return (v - c[i - 1] < c[i] - v) ? i - 1 : i;
}

// One n-gram of the model being written: ids left to right, weights, whether a longer n-gram extends it to
// the right (it is a context) or to the left (it is a suffix), and its rest cost (rest_probing).
struct Gram {
  Ids ids;
  float prob = 0, backoff = 0;
  bool right = false, left = false;
  float rest = 0;
};

}  // namespace detail

inline std::string WriteBinary(const ArpaModel& arpa, const Options& opt, QuantTables* tables = nullptr) {
  using namespace detail;
  const int N = static_cast<int>(arpa.grams.size());
  const bool trie = opt.type >= kTrie;
  const bool quant = opt.type == kQuantTrie || opt.type == kQuantArrayTrie;
  const bool array = opt.type == kArrayTrie || opt.type == kQuantArrayTrie;
  const bool rest = opt.type == kRestProbing;
  if (N < 2) throw std::runtime_error("order below 2");

  // Vocabulary: <unk> is id 0; probing numbers the others in ARPA order, the trie by ascending hash.
  std::vector<std::string> words;
  bool saw_unk = false;
  for (const auto& e : arpa.grams[0]) {
    if (e.words[0] == "<unk>" || e.words[0] == "<UNK>") saw_unk = true;
    else words.push_back(e.words[0]);
  }
  if (trie) std::sort(words.begin(), words.end(), [](const auto& a, const auto& b) { return Hash(a) < Hash(b); });
  std::map<std::string, uint32_t> id;
  for (size_t i = 0; i < words.size(); ++i) id[words[i]] = static_cast<uint32_t>(i + 1);
  id["<unk>"] = id["<UNK>"] = 0;

  // Every n-gram as ids with its weights; which n-grams are extended to the right (context of a longer one)
  // and to the left (suffix of a longer one).
  std::vector<std::vector<Gram>> g(N);
  std::vector<std::map<Ids, size_t>> where(N);
  for (int n = 1; n <= N; ++n)
    for (const auto& e : arpa.grams[n - 1]) {
      Gram x{{}, e.prob, e.backoff};
      for (const auto& w : e.words) x.ids.push_back(id.at(w));
      where[n - 1][x.ids] = g[n - 1].size();
      g[n - 1].push_back(std::move(x));
    }
  if (!saw_unk) {  // KenLM's stand-in: log10 p = -100, back-off +0.0
    Gram unk{{0}, -100.0f, 0.0f};
    where[0][unk.ids] = g[0].size();
    g[0].push_back(unk);
  }
  for (int n = 2; n <= N; ++n)
    for (const Gram& x : g[n - 1]) {
      Ids ctx(x.ids.begin(), x.ids.end() - 1), suffix(x.ids.begin() + 1, x.ids.end());
      if (!where[n - 2].count(ctx) || !where[n - 2].count(suffix))
        throw std::runtime_error("an n-gram's context or suffix is missing");
      g[n - 2][where[n - 2][ctx]].right = true;
      g[n - 2][where[n - 2][suffix]].left = true;
    }
  // Back-offs: zero is -0.0 unless the n-gram is a context (+0.0).
  for (auto& order : g)
    for (Gram& x : order)
      if (x.backoff == 0.0f) x.backoff = x.right ? 0.0f : -0.0f;
  // rest_probing's default rest cost (REST_MAX): the highest probability among the n-gram and all n-grams
  // that extend it to the left.
  for (auto& order : g)
    for (Gram& x : order) x.rest = x.prob;
  for (int n = N; n >= 2; --n)
    for (const Gram& y : g[n - 1]) {
      Gram& suffix = g[n - 2][where[n - 2].at(Ids(y.ids.begin() + 1, y.ids.end()))];
      suffix.rest = std::max(suffix.rest, y.rest);
    }

  std::vector<uint64_t> counts(N);
  for (int n = 0; n < N; ++n) counts[n] = arpa.grams[n].size();
  if (trie && !saw_unk) counts[0] += 1;  // the trie's header counts <unk>

  // Header: sanity values, fixed parameters, counts, padded to 8.
  std::string out;
  const char magic[] = "mmap lm http://kheafield.com/code format version 5\n";
  Put(out, 0, magic, sizeof magic - 1);
  PutValue(out, 56, 0.0f);
  PutValue(out, 60, 1.0f);
  PutValue(out, 64, -0.5f);
  PutValue(out, 68, uint32_t{1});
  PutValue(out, 72, uint32_t{0xFFFFFFFFu});
  PutValue(out, 76, uint32_t{0});
  PutValue(out, 80, uint64_t{1});
  PutValue(out, 88, static_cast<uint8_t>(N));
  PutValue(out, 92, opt.probing_multiplier);
  PutValue(out, 96, static_cast<int32_t>(opt.type));
  PutValue(out, 100, static_cast<uint8_t>(opt.include_vocab));
  PutValue(out, 104, uint32_t{trie ? 1u : 0u});
  for (int n = 0; n < N; ++n) PutValue(out, 108 + 8 * n, counts[n]);
  out.resize((108 + 8 * N + 7) / 8 * 8, '\0');

  if (!trie) {
    auto buckets = [&](uint64_t entries) {
      return std::max<uint64_t>(entries + 1,
                                static_cast<uint64_t>(opt.probing_multiplier * static_cast<float>(entries)));
    };
    auto insert = [&](size_t table, uint64_t nb, size_t entry, uint64_t key, const std::string& value) {
      for (uint64_t i = key % nb;; i = (i + 1) % nb) {
        uint64_t k;
        std::memcpy(&k, &out[table + i * entry], 8);
        if (k == 0) {
          Put(out, table + i * entry, &key, 8);
          Put(out, table + i * entry + 8, value.data(), value.size());
          return;
        }
      }
    };
    // Vocabulary: version, bound, then (hash, id) in a probing table.
    size_t at = out.size();
    PutValue(out, at, uint32_t{0});
    PutValue(out, at + 4, static_cast<uint32_t>(words.size() + 1));
    at += 8;
    uint64_t vb = buckets(counts[0]);
    out.resize(at + vb * 12, '\0');
    for (const auto& w : words) {
      uint32_t v = id[w];
      insert(at, vb, 12, Hash(w), std::string(reinterpret_cast<const char*>(&v), 4));
    }
    at += vb * 12;
    const size_t wsize = rest ? 12 : 8;
    auto weights = [&](const Gram& x) {
      std::string s;
      float p = WithSign(x.prob, !x.left);  // sign bit set: nothing extends it to the left
      s.append(reinterpret_cast<const char*>(&p), 4);
      s.append(reinterpret_cast<const char*>(&x.backoff), 4);
      if (rest) {
        float r = WithSign(x.rest, true);
        s.append(reinterpret_cast<const char*>(&r), 4);
      }
      return s;
    };
    out.resize(at + (counts[0] + 1) * wsize, '\0');
    for (const Gram& x : g[0]) {
      std::string w = weights(x);
      Put(out, at + x.ids[0] * wsize, w.data(), w.size());
    }
    at += (counts[0] + 1) * wsize;
    for (int n = 2; n <= N; ++n) {
      const bool longest = n == N;
      const size_t entry = longest ? 12 : 8 + wsize;
      uint64_t nb = buckets(counts[n - 1]);
      out.resize(at + nb * entry, '\0');
      for (const Gram& x : g[n - 1]) {
        uint64_t key = x.ids.back();
        for (int k = n - 2; k >= 0; --k) key = Combine(key, x.ids[k]);
        // The highest order stores its probability as is (negative: nothing extends it to the left).
        std::string v = longest ? std::string(reinterpret_cast<const char*>(&x.prob), 4) : weights(x);
        insert(at, nb, entry, key, v);
      }
      at += nb * entry;
    }
  } else {
    // Sorted vocabulary: the count of words besides <unk>, then their hashes ascending (room for counts[0]).
    size_t at = out.size();
    PutValue(out, at, static_cast<uint64_t>(words.size()));
    for (size_t i = 0; i < words.size(); ++i) PutValue(out, at + 8 + 8 * i, Hash(words[i]));
    at += 8 + 8 * counts[0];
    out.resize(at, '\0');
    // The n-grams of each order sorted by their words read right to left.
    std::vector<std::vector<Ids>> sorted(N);  // per order, the n-grams' ids right to left, ascending
    std::vector<std::vector<const Gram*>> gram_at(N);
    for (int n = 0; n < N; ++n) {
      std::map<Ids, const Gram*> by_reversed;
      for (const Gram& x : g[n]) by_reversed[Ids(x.ids.rbegin(), x.ids.rend())] = &x;
      for (const auto& [rev, x] : by_reversed) {
        sorted[n].push_back(rev);
        gram_at[n].push_back(x);
      }
    }
    // first_child(n, rev): index in order n + 1's sorted list of the first n-gram extending rev to the left.
    auto first_child = [&](int n, const Ids& rev_prefix) -> uint64_t {
      return std::lower_bound(sorted[n].begin(), sorted[n].end(), rev_prefix) - sorted[n].begin();
    };
    QuantTables q;
    const int P = opt.prob_bits, B = opt.backoff_bits;
    if (quant) {
      PutValue(out, at, uint8_t{2});
      PutValue(out, at + 1, static_cast<uint8_t>(P));
      PutValue(out, at + 2, static_cast<uint8_t>(B));
      out.resize(at + 8, '\0');
      at += 8;
      for (int n = 2; n <= N; ++n) {
        std::vector<float> probs, backoffs;
        for (const Gram& x : g[n - 1]) {
          probs.push_back(x.prob);
          if (x.backoff != 0.0f) backoffs.push_back(x.backoff);
        }
        q.prob.push_back(Centers(probs, size_t{1} << P));
        for (float c : q.prob.back()) PutValue(out, (at += 4) - 4, c);
        if (n < N) {
          std::vector<float> b = {-0.0f, 0.0f};
          std::vector<float> rest_bins = Centers(backoffs, (size_t{1} << B) - 2);
          b.insert(b.end(), rest_bins.begin(), rest_bins.end());
          q.backoff.push_back(b);
          for (float c : b) PutValue(out, (at += 4) - 4, c);
        }
      }
      if (tables) *tables = q;
    }
    // Unigrams: prob, backoff, first bigram; one entry more for the end of the last range, and one spare.
    for (uint64_t w = 0; w <= counts[0]; ++w) {
      if (w < counts[0]) {
        const Gram& x = g[0][where[0].at(Ids{static_cast<uint32_t>(w)})];
        PutValue(out, at + 16 * w, x.prob);
        PutValue(out, at + 16 * w + 4, x.backoff);
      }
      PutValue(out, at + 16 * w + 8, first_child(1, Ids{static_cast<uint32_t>(w)}));
    }
    at += 16 * (counts[0] + 2);
    out.resize(at, '\0');
    const uint8_t word_bits = Required(counts[0]);
    for (int n = 2; n <= N; ++n) {
      const bool longest = n == N;
      const uint64_t entries = counts[n - 1];
      const int value_bits = quant ? (longest ? P : P + B) : (longest ? 31 : 63);
      int next_bits = longest ? 0 : Required(counts[n]);
      std::vector<uint64_t> next(entries + 1);
      if (!longest)
        for (uint64_t i = 0; i <= entries; ++i)
          next[i] = i < entries ? first_child(n, sorted[n - 1][i]) : counts[n];
      if (array && !longest) {
        // Choose the chop as KenLM does, then the table: [0] = 0, [k] = first record whose next >> inline >= k.
        uint8_t required = Required(counts[n]), chop = 0;
        int64_t lowest = INT64_MAX;
        for (uint8_t c = 0; c <= std::min<int>(required, opt.pointer_bits); ++c) {
          int64_t change = static_cast<int64_t>((counts[n] >> (required - c)) * 64 - (entries + 1) * c);
          if (change < lowest) lowest = change, chop = c;
        }
        next_bits = required - chop;
        uint64_t table_entries = (counts[n] >> next_bits) + 1;
        PutValue(out, at, uint8_t{0});
        PutValue(out, at + 1, static_cast<uint8_t>(opt.pointer_bits));
        size_t table = (at + 7) / 8 * 8 + 8;
        out.resize(table, '\0');
        uint64_t first = 0;  // next[] ascends, so one pass finds each k's first record
        for (uint64_t k = 0; k < table_entries; ++k) {
          while (k > 0 && first <= entries && (next[first] >> next_bits) < k) ++first;
          PutValue(out, table + 8 * k, first);
        }
        at += 8 * (1 + table_entries) + 7;
        out.resize(at, '\0');
      }
      const uint64_t total = word_bits + value_bits + next_bits;
      const size_t bytes = ((entries + 1) * total + 7) / 8 + 8;
      out.resize(at + bytes, '\0');
      for (uint64_t i = 0; i <= entries; ++i) {
        uint64_t bit = i * total;
        if (i < entries) {
          const Gram& x = *gram_at[n - 1][i];
          PutBits(out, at, bit, word_bits, x.ids.front());
          if (quant) {
            uint64_t p = Nearest(q.prob[n - 2], 0, x.prob);
            if (longest) PutBits(out, at, bit + word_bits, P, p);
            else {
              uint64_t b = x.backoff == 0.0f ? (x.right ? 1 : 0) : Nearest(q.backoff[n - 2], 2, x.backoff);
              PutBits(out, at, bit + word_bits, B, b);
              PutBits(out, at, bit + word_bits + B, P, p);
            }
          } else {
            PutBits(out, at, bit + word_bits, 31, Bits32(x.prob) & 0x7FFFFFFFu);
            if (!longest) PutBits(out, at, bit + word_bits + 31, 32, Bits32(x.backoff));
          }
        }
        if (!longest) PutBits(out, at, bit + word_bits + value_bits, next_bits, next[i] & ((1ull << next_bits) - 1));
      }
      at += bytes;
    }
  }
  if (opt.include_vocab) {
    out.append("<unk>", 6);
    for (const auto& w : words) out.append(w.c_str(), w.size() + 1);
  }
  return out;
}

}  // namespace sluice::testing::kenlm
