#include "ops/text/kenlm_binary.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "io/env.h"
#include "ops/text/pystr.h"

namespace sluice::text {

static_assert(std::endian::native == std::endian::little,
              "the KenLM binary reader loads little-endian fields directly");

uint64_t KenlmMurmurHash64A(const void* key, size_t len, uint64_t seed) {
  constexpr uint64_t kMul = 0xc6a4a7935bd1e995ull;
  constexpr int kShift = 47;
  const auto* bytes = static_cast<const unsigned char*>(key);
  uint64_t h = seed ^ (static_cast<uint64_t>(len) * kMul);
  const size_t whole = len / 8;
  for (size_t i = 0; i < whole; ++i) {
    uint64_t k;
    std::memcpy(&k, bytes + 8 * i, 8);
    k *= kMul;
    k ^= k >> kShift;
    k *= kMul;
    h = (h ^ k) * kMul;
  }
  if (size_t rest = len % 8; rest != 0) {
    uint64_t tail = 0;  // the last 1..7 bytes as a little-endian number
    for (size_t i = rest; i > 0; --i) tail = (tail << 8) | bytes[8 * whole + i - 1];
    h = (h ^ tail) * kMul;
  }
  h ^= h >> kShift;
  h *= kMul;
  h ^= h >> kShift;
  return h;
}

namespace {

// --- the file layout (facts from KenLM's lm/binary_format.*, lm/vocab.*, lm/search_*.*, lm/trie.*, lm/bhiksha.*,
// lm/quantize.*); offsets are from the start of the file ---------------------------------------------------

constexpr std::string_view kMagicPrefix = "mmap lm ";
constexpr std::string_view kMagicBeforeVersion = "mmap lm http://kheafield.com/code format version";
constexpr std::string_view kMagicIncomplete = "mmap lm http://kheafield.com/code incomplete\n";
// The magic text of version 5, zero-filled to 56 bytes (the text plus its two NULs, rounded up to 8).
constexpr std::string_view kMagicV5 = "mmap lm http://kheafield.com/code format version 5\n";
constexpr size_t kMagicField = 56;
// After the magic: float 0, 1, -0.5; uint32 1, 0xFFFFFFFF, 0 (padding); uint64 1.
constexpr size_t kSanityEnd = 88;
// The fixed parameters after it: uint8 order @88, float probing_multiplier @92, int32 model type @96,
// bool has_vocabulary @100, uint32 search_version @104; then order uint64 counts @108 (not 8-aligned).
constexpr size_t kOrderAt = 88, kMultiplierAt = 92, kTypeAt = 96, kHasVocabAt = 100, kSearchVersionAt = 104;
constexpr size_t kCountsAt = 108;

enum ModelType { kProbing = 0, kRestProbing = 1, kTrie = 2, kQuantTrie = 3, kArrayTrie = 4, kQuantArrayTrie = 5 };
constexpr const char* kTypeNames[] = {"probing", "rest_probing", "trie", "quant_trie", "array_trie",
                                      "quant_array_trie"};
constexpr uint32_t kHashedSearchVersion = 0, kTrieSearchVersion = 1;
constexpr uint8_t kQuantVersion = 2, kArrayPointerVersion = 0;
constexpr uint32_t kProbingVocabVersion = 0;

constexpr uint64_t Align8(uint64_t n) { return (n + 7) / 8 * 8; }

uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
float LoadFloat(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
uint32_t Bits(float f) { return std::bit_cast<uint32_t>(f); }

constexpr uint32_t kSign = 0x80000000u;
// KenLM marks an n-gram no longer n-gram extends to the right by a back-off of -0.0 (and +0.0 otherwise).
bool HasExtension(float backoff) { return Bits(backoff) != kSign; }

// Bit-packed fields: `mask` (at most 57 bits) of the little-endian 64 bits that start at byte bit / 8.
uint64_t ReadBits(const uint8_t* base, uint64_t bit, uint64_t mask) {
  return (Load64(base + (bit >> 3)) >> (bit & 7)) & mask;
}
// A log probability stored without its sign bit (31 bits), and a whole float at a bit offset.
float ReadNonPositive31(const uint8_t* base, uint64_t bit) {
  return std::bit_cast<float>(static_cast<uint32_t>(Load64(base + (bit >> 3)) >> (bit & 7)) | kSign);
}
float ReadFloat32(const uint8_t* base, uint64_t bit) {
  return std::bit_cast<float>(static_cast<uint32_t>(Load64(base + (bit >> 3)) >> (bit & 7)));
}

uint8_t RequiredBits(uint64_t max_value) { return static_cast<uint8_t>(std::bit_width(max_value)); }
uint64_t MaskOf(uint8_t bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }

// KenLM's hash of an n-gram extended by one more word of context (to the left).
uint64_t CombineWordHash(uint64_t current, uint32_t next) {
  return (current * 8978948897894561157ull) ^ ((1 + static_cast<uint64_t>(next)) * 17894857484156487943ull);
}

// Overflow-checked sizes: a corrupt count must fail validation, not wrap around.
struct Sizer {
  bool overflow = false;
  uint64_t Add(uint64_t a, uint64_t b) {
    uint64_t r;
    overflow |= __builtin_add_overflow(a, b, &r);
    return r;
  }
  uint64_t Mul(uint64_t a, uint64_t b) {
    uint64_t r;
    overflow |= __builtin_mul_overflow(a, b, &r);
    return r;
  }
};

// Buckets of one of KenLM's linear-probing tables (hash % buckets, key 0 = empty) for `entries` keys.
uint64_t ProbingBuckets(uint64_t entries, float multiplier, Sizer& sz) {
  float scaled = multiplier * static_cast<float>(entries);
  if (!(scaled < 1.8e19f)) {
    sz.overflow = true;
    return 0;
  }
  return std::max(sz.Add(entries, 1), static_cast<uint64_t>(scaled));
}

// Pointer compression of the trie (-a): of a next pointer's RequiredBits(max_next) bits, the top `chop` bits
// go to a sorted table; KenLM picks the chop (up to the configured bits) that saves the most space.
uint8_t ChopBits(uint64_t max_offset, uint64_t max_next, uint8_t configured) {
  uint8_t required = RequiredBits(max_next), best = 0;
  int64_t lowest = std::numeric_limits<int64_t>::max();
  for (uint8_t chop = 0; chop <= std::min(required, configured); ++chop) {
    int64_t change = static_cast<int64_t>((max_next >> (required - chop)) * 64 - max_offset * chop);
    if (change < lowest) {
      lowest = change;
      best = chop;
    }
  }
  return best;
}
uint64_t ArrayPointerEntries(uint64_t max_offset, uint64_t max_next, uint8_t configured) {
  return (max_next >> (RequiredBits(max_next) - ChopBits(max_offset, max_next, configured))) + 1;
}

struct State {
  uint32_t words[kKenlmMaxOrder];
  float backoff[kKenlmMaxOrder];
  int length = 0;
};

// --- probing (and rest_probing): hash tables ---------------------------------------------------------------

template <bool kRest>
struct HashedSearch {
  using Node = uint64_t;
  static constexpr size_t kWeights = kRest ? 12 : 8;  // prob, backoff[, rest]
  static constexpr size_t kVocabEntry = 12;           // uint64 hash, uint32 id (packed)
  static constexpr size_t kMiddleEntry = 8 + kWeights;
  static constexpr size_t kLongestEntry = 12;         // uint64 key, float prob
  struct Table {
    const uint8_t* base = nullptr;
    uint64_t buckets = 1;
  };

  int order = 0;
  Table vocab;
  const uint8_t* unigrams = nullptr;
  uint64_t unigram_slots = 0;
  Table middle[kKenlmMaxOrder];
  Table longest;

  static const uint8_t* Find(const Table& t, uint64_t key, size_t entry) {
    uint64_t i = key % t.buckets;
    for (uint64_t probes = 0; probes < t.buckets; ++probes) {
      const uint8_t* e = t.base + i * entry;
      uint64_t k = Load64(e);
      if (k == key) return e;
      if (k == 0) return nullptr;
      if (++i == t.buckets) i = 0;
    }
    return nullptr;
  }
  uint32_t Index(std::string_view word) const {
    const uint8_t* e = Find(vocab, KenlmMurmurHash64A(word.data(), word.size(), 0), kVocabEntry);
    if (e == nullptr) return 0;
    uint32_t id = Load32(e + 8);
    return id < unigram_slots ? id : 0;
  }
  // The stored probability's sign bit says whether a longer n-gram extends this one to the left (clear) or
  // not (set); the probability itself is always non-positive.
  static float Prob(float stored, bool& independent_left) {
    independent_left = (Bits(stored) & kSign) != 0;
    return std::bit_cast<float>(Bits(stored) | kSign);
  }
  float Unigram(uint32_t w, Node& node, float& prob, bool& independent_left) const {
    const uint8_t* e = unigrams + w * kWeights;
    prob = Prob(LoadFloat(e), independent_left);
    node = w;
    return LoadFloat(e + 4);
  }
  bool Middle(int i, uint32_t w, Node& node, float& prob, float& backoff, bool& independent_left) const {
    node = CombineWordHash(node, w);
    const uint8_t* e = Find(middle[i], node, kMiddleEntry);
    if (e == nullptr) {
      independent_left = true;
      return false;
    }
    prob = Prob(LoadFloat(e + 8), independent_left);
    backoff = LoadFloat(e + 12);
    return true;
  }
  bool Longest(uint32_t w, Node node, float& prob) const {
    const uint8_t* e = Find(longest, CombineWordHash(node, w), kLongestEntry);
    if (e == nullptr) return false;
    prob = LoadFloat(e + 8);
    return true;
  }
};

// --- trie (with or without quantization and array-compressed pointers) ----------------------------------

template <bool kQuant, bool kArray>
struct TrieSearch {
  struct Node {
    uint64_t begin = 0, end = 0;  // children: records [begin, end) of the next order
  };
  // The bit-packed records of one order (2..order): word id, value bits, then (not for the highest order)
  // the index of the first child in the next order, whose top bits may live in a sorted table (kArray).
  struct Level {
    const uint8_t* base = nullptr;
    uint64_t entries = 0, next_limit = 0;
    uint8_t word_bits = 0, value_bits = 0, next_bits = 0, total_bits = 0;
    uint64_t word_mask = 0, next_mask = 0;
    const uint8_t* high_table = nullptr;  // kArray: uint64 ascending, [0] == 0
    uint64_t high_entries = 0;
    const uint8_t* prob_bins = nullptr;     // kQuant: float centers
    const uint8_t* backoff_bins = nullptr;  // kQuant: float centers ([0] -0.0, [1] +0.0)
  };

  int order = 0;
  const uint8_t* vocab = nullptr;  // ascending uint64 word hashes; word id = position + 1 (0 = <unk>)
  uint64_t vocab_words = 0;
  const uint8_t* unigrams = nullptr;  // per word id: float prob, float backoff, uint64 first child
  uint64_t unigram_next_limit = 0;
  uint8_t prob_bits = 0, backoff_bits = 0;
  Level level[kKenlmMaxOrder];  // level[i]: the (i + 2)-grams

  uint32_t Index(std::string_view word) const {
    uint64_t h = KenlmMurmurHash64A(word.data(), word.size(), 0);
    uint64_t lo = 0, hi = vocab_words;
    while (lo < hi) {
      uint64_t mid = lo + (hi - lo) / 2, k = Load64(vocab + 8 * mid);
      if (k < h) lo = mid + 1;
      else if (k > h) hi = mid;
      else return static_cast<uint32_t>(mid + 1);
    }
    return 0;
  }
  static void SetRange(Node& node, uint64_t begin, uint64_t end, uint64_t limit) {
    if (begin <= end && end <= limit) node = {begin, end};
    else node = {};  // inconsistent pointers: nothing below
  }
  float Unigram(uint32_t w, Node& node, float& prob, bool& independent_left) const {
    const uint8_t* e = unigrams + 16 * static_cast<uint64_t>(w);
    prob = LoadFloat(e);
    SetRange(node, Load64(e + 8), Load64(e + 16 + 8), unigram_next_limit);
    independent_left = node.begin == node.end;
    return LoadFloat(e + 4);
  }
  static bool FindWord(const Level& l, const Node& node, uint32_t w, uint64_t& at) {
    uint64_t lo = node.begin, hi = node.end;
    while (lo < hi) {
      uint64_t mid = lo + (hi - lo) / 2, k = ReadBits(l.base, mid * l.total_bits, l.word_mask);
      if (k < w) lo = mid + 1;
      else if (k > w) hi = mid;
      else {
        at = mid;
        return true;
      }
    }
    return false;
  }
  // kArray: the top bits of record `index`'s next pointer = the last table position holding a value <= index.
  static uint64_t High(const Level& l, uint64_t index) {
    uint64_t lo = 0, hi = l.high_entries;
    while (lo < hi) {
      uint64_t mid = lo + (hi - lo) / 2;
      if (Load64(l.high_table + 8 * mid) <= index) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;  // table[0] == 0 (checked at load), so lo >= 1
  }
  float QuantProb(const Level& l, uint64_t bit) const {
    return LoadFloat(l.prob_bins + 4 * ReadBits(l.base, bit, MaskOf(prob_bits)));
  }
  bool Middle(int i, uint32_t w, Node& node, float& prob, float& backoff, bool& independent_left) const {
    const Level& l = level[i];
    uint64_t at;
    if (!FindWord(l, node, w, at)) {
      independent_left = true;
      return false;
    }
    uint64_t bit = at * l.total_bits + l.word_bits;
    if constexpr (kQuant) {
      backoff = LoadFloat(l.backoff_bins + 4 * ReadBits(l.base, bit, MaskOf(backoff_bits)));
      prob = QuantProb(l, bit + backoff_bits);
    } else {
      prob = ReadNonPositive31(l.base, bit);
      backoff = ReadFloat32(l.base, bit + 31);
    }
    uint64_t next_bit = bit + l.value_bits;
    uint64_t begin = ReadBits(l.base, next_bit, l.next_mask);
    uint64_t end = ReadBits(l.base, next_bit + l.total_bits, l.next_mask);
    if constexpr (kArray) {
      begin |= High(l, at) << l.next_bits;
      end |= High(l, at + 1) << l.next_bits;
    }
    SetRange(node, begin, end, l.next_limit);
    independent_left = node.begin == node.end;
    return true;
  }
  bool Longest(uint32_t w, const Node& node, float& prob) const {
    const Level& l = level[order - 2];
    uint64_t at;
    if (!FindWord(l, node, w, at)) return false;
    uint64_t bit = at * l.total_bits + l.word_bits;
    prob = kQuant ? QuantProb(l, bit) : ReadNonPositive31(l.base, bit);
    return true;
  }
};

}  // namespace

// --- scoring: KenLM's FullScore over any of the search structures -----------------------------------------

class KenlmBinaryModel::Scorer {
 public:
  virtual ~Scorer() = default;
  virtual float ScoreSentence(std::string_view line) const = 0;
  // "<s>" or "</s>" when the vocabulary lacks it (the model cannot score sentences), else nullptr.
  virtual const char* MissingMarker() const = 0;
};

namespace {

template <class Search>
class SearchScorer final : public KenlmBinaryModel::Scorer {
 public:
  explicit SearchScorer(const Search& s) : s_(s), bos_(s.Index("<s>")), eos_(s.Index("</s>")) {
    typename Search::Node node;
    float prob;
    bool independent;
    bos_backoff_ = s_.Unigram(bos_, node, prob, independent);  // the begin-sentence state, the same for every line
  }

  const char* MissingMarker() const override { return bos_ == 0 ? "<s>" : eos_ == 0 ? "</s>" : nullptr; }

  float ScoreSentence(std::string_view line) const override {
    State states[2];
    State* in = &states[0];
    State* out = &states[1];
    in->words[0] = bos_;
    in->backoff[0] = bos_backoff_;
    in->length = 1;
    float total = 0;
    ForEachAsciiWord(line, [&](std::string_view word) {
      total += Score(*in, s_.Index(word), *out);
      std::swap(in, out);
    });
    total += Score(*in, eos_, *out);
    return total;
  }

 private:
  // log10 p(w | in), with the state after w in `out`.
  float Score(const State& in, uint32_t w, State& out) const {
    typename Search::Node node;
    bool independent_left;
    float prob;
    out.backoff[0] = s_.Unigram(w, node, prob, independent_left);
    out.length = HasExtension(out.backoff[0]) ? 1 : 0;
    out.words[0] = w;
    int matched = 1;  // the length of the n-gram `prob` belongs to
    if (in.length > 0) {
      int i = 0;  // context words used so far
      for (;; ++i) {
        if (i == in.length || independent_left) break;
        if (i == s_.order - 2) {
          float p;
          if (s_.Longest(in.words[i], node, p)) {
            prob = p;
            matched = s_.order;
          }
          break;
        }
        float p, b;
        if (!s_.Middle(i, in.words[i], node, p, b, independent_left)) break;
        out.backoff[i + 1] = b;
        prob = p;
        matched = i + 2;
        if (HasExtension(b)) out.length = matched;
      }
      for (int k = 1; k < out.length; ++k) out.words[k] = in.words[k - 1];
    }
    for (int k = matched - 1; k < in.length; ++k) prob += in.backoff[k];
    return prob;
  }

  Search s_;
  uint32_t bos_, eos_;
  float bos_backoff_;
};

// Validation and layout: every check names the file and the cause before anything is scored.
class Layout {
 public:
  Layout(const std::string& path, const uint8_t* data, uint64_t size) : path_(path), data_(data), size_(size) {}

  [[noreturn]] void Bad(const std::string& why) const {
    Fail(ErrorKind::kUsage, "the n-gram model {} is not a usable KenLM binary file: {}", path_, why);
  }
  void Need(uint64_t end, const char* what) const {
    if (end > size_)
      Bad(fmt::format("it is truncated: it has {} bytes, but its header puts the {} at byte {}", size_, what, end));
  }

  void CheckSanity() const {
    if (size_ >= kMagicIncomplete.size() &&
        std::string_view(reinterpret_cast<const char*>(data_), kMagicIncomplete.size()) == kMagicIncomplete)
      Bad("build_binary did not finish writing it (its header says 'incomplete')");
    std::string_view head(reinterpret_cast<const char*>(data_), std::min<uint64_t>(size_, kMagicField));
    if (head.starts_with(kMagicBeforeVersion)) {
      std::string_view rest = head.substr(kMagicBeforeVersion.size());
      size_t digits = rest.size() > 1 && rest[0] == ' ' ? rest.find_first_not_of("0123456789", 1) : 0;
      std::string version(rest.substr(1, digits == std::string_view::npos ? rest.size() - 1 : digits - 1));
      if (!version.empty() && version != "5")
        Bad(fmt::format("it has binary format version {}; sluice reads version 5 (KenLM's current format): rebuild it "
                        "with build_binary from the ARPA file, or supply the ARPA file",
                        version));
    } else {
      Bad("it does not start with KenLM's binary header");
    }
    Need(kSanityEnd, "sanity values");
    uint8_t want[kSanityEnd] = {};
    std::memcpy(want, kMagicV5.data(), kMagicV5.size());
    const float floats[3] = {0.0f, 1.0f, -0.5f};
    const uint32_t ints[3] = {1u, 0xFFFFFFFFu, 0u};
    const uint64_t one = 1;
    std::memcpy(want + 56, floats, 12);
    std::memcpy(want + 68, ints, 12);
    std::memcpy(want + 80, &one, 8);
    if (std::memcmp(data_, want, kMagicField) != 0) Bad("its magic text is not version 5's");
    if (std::memcmp(data_ + kMagicField, want + kMagicField, kSanityEnd - kMagicField) == 0) return;
    if (data_[60] == 0x3f && data_[61] == 0x80 && data_[62] == 0 && data_[63] == 0)
      Bad("it was written on a big-endian machine; sluice reads little-endian files (rebuild it on x86-64 or ARM)");
    if (Load64(data_ + 76) == 1)
      Bad("it is KenLM's old 32-bit binary format, which KenLM no longer reads either; rebuild it with build_binary");
    Bad("its sanity values (0.0, 1.0, -0.5, 1, 2^32-1, 1) do not match: another architecture or compiler wrote it");
  }

  void ReadParameters() {
    Need(kCountsAt, "fixed parameters");
    order_ = data_[kOrderAt];
    if (order_ < 2 || order_ > kKenlmMaxOrder)
      Bad(fmt::format("its order is {}; KenLM binary models have order 2 to {}", order_, kKenlmMaxOrder));
    multiplier_ = LoadFloat(data_ + kMultiplierAt);
    int32_t type;
    std::memcpy(&type, data_ + kTypeAt, 4);
    if (type < kProbing || type > kQuantArrayTrie)
      Bad(fmt::format("its model type is {}, which no KenLM version writes (0 to 5: probing, rest_probing, trie, "
                      "quant_trie, array_trie, quant_array_trie)",
                      type));
    type_ = type;
    uint8_t has_vocab = data_[kHasVocabAt];
    if (has_vocab > 1) Bad(fmt::format("its has_vocabulary flag is {}, not 0 or 1", has_vocab));
    has_vocab_ = has_vocab == 1;
    uint32_t search_version = Load32(data_ + kSearchVersionAt);
    uint32_t want_version = IsTrie() ? kTrieSearchVersion : kHashedSearchVersion;
    if (search_version != want_version)
      Bad(fmt::format("its {} data structure has version {}, but KenLM's format 5 uses version {}",
                      kTypeNames[type_], search_version, want_version));
    header_end_ = Align8(kCountsAt + 8 * static_cast<uint64_t>(order_));
    Need(kCountsAt + 8 * static_cast<uint64_t>(order_), "n-gram counts");
    for (int n = 0; n < order_; ++n) counts_[n] = Load64(data_ + kCountsAt + 8 * n);
    if (counts_[0] == 0 || counts_[0] >= 0xFFFFFFFFull)
      Bad(fmt::format("its unigram count {} is out of range", counts_[0]));
    for (int n = 1; n < order_; ++n)
      if (counts_[n] >= (1ull << 57))
        Bad(fmt::format("its {}-gram count {} is out of range", n + 1, counts_[n]));
  }

  bool IsTrie() const { return type_ >= kTrie; }
  bool IsQuant() const { return type_ == kQuantTrie || type_ == kQuantArrayTrie; }
  bool IsArray() const { return type_ == kArrayTrie || type_ == kQuantArrayTrie; }

  // Checks that the file holds everything the header implies, then, when it carries them, that the `words`
  // vocabulary strings (NUL-terminated, <unk> first) follow the model data and end the file.
  void CheckEnd(uint64_t end, uint64_t words, Sizer& sz) const {
    if (sz.overflow) Bad("the n-gram counts in its header imply a size beyond 2^64 bytes");
    Need(end, "end of the model data");
    if (!has_vocab_) return;
    Need(sz.Add(end, 6), "vocabulary strings");
    if (std::memcmp(data_ + end, "<unk>\0", 6) != 0)
      Bad(fmt::format("its vocabulary strings do not start with <unk> at byte {}, where the header puts them", end));
    uint64_t found = 0;
    for (const uint8_t* p = data_ + end; p < data_ + size_; ++found) {
      const void* nul = std::memchr(p, 0, data_ + size_ - p);
      if (nul == nullptr) break;
      p = static_cast<const uint8_t*>(nul) + 1;
    }
    if (found != words || data_[size_ - 1] != 0)
      Bad(fmt::format("it is truncated or padded: its vocabulary strings hold {} complete words, its header {}",
                      found, words));
  }

  template <bool kRest>
  std::unique_ptr<const KenlmBinaryModel::Scorer> Hashed() const {
    if (!(multiplier_ >= 1.0f) || !std::isfinite(multiplier_))
      Bad(fmt::format("its probing multiplier is {}; KenLM requires at least 1.0", multiplier_));
    using Search = HashedSearch<kRest>;
    Search s;
    s.order = order_;
    Sizer sz;
    uint64_t at = header_end_;
    Need(at + 8, "vocabulary header");
    uint32_t vocab_version = Load32(data_ + at), bound = Load32(data_ + at + 4);
    if (vocab_version != kProbingVocabVersion)
      Bad(fmt::format("its probing vocabulary has version {}, not {}", vocab_version, kProbingVocabVersion));
    if (bound == 0 || bound > counts_[0] + 1)
      Bad(fmt::format("its vocabulary size {} disagrees with its unigram count {}", bound, counts_[0]));
    at += 8;
    s.vocab = {data_ + at, ProbingBuckets(counts_[0], multiplier_, sz)};
    at = sz.Add(at, sz.Mul(s.vocab.buckets, Search::kVocabEntry));
    s.unigrams = data_ + at;
    s.unigram_slots = counts_[0] + 1;
    at = sz.Add(at, sz.Mul(s.unigram_slots, Search::kWeights));
    for (int n = 2; n < order_; ++n) {
      s.middle[n - 2] = {data_ + at, ProbingBuckets(counts_[n - 1], multiplier_, sz)};
      at = sz.Add(at, sz.Mul(s.middle[n - 2].buckets, Search::kMiddleEntry));
    }
    s.longest = {data_ + at, ProbingBuckets(counts_[order_ - 1], multiplier_, sz)};
    at = sz.Add(at, sz.Mul(s.longest.buckets, Search::kLongestEntry));
    CheckEnd(at, bound, sz);
    return std::make_unique<SearchScorer<Search>>(s);
  }

  template <bool kQuant, bool kArray>
  std::unique_ptr<const KenlmBinaryModel::Scorer> Trie() const {
    using Search = TrieSearch<kQuant, kArray>;
    Search s;
    s.order = order_;
    Sizer sz;
    uint64_t at = header_end_;
    Need(at + 8, "vocabulary");
    s.vocab_words = Load64(data_ + at);
    if (s.vocab_words >= counts_[0])
      Bad(fmt::format("its vocabulary has {} words besides <unk>, more than its unigram count {} allows",
                      s.vocab_words, counts_[0]));
    s.vocab = data_ + at + 8;
    at = sz.Add(at, sz.Mul(counts_[0] + 1, 8));
    // Quantization: 8 bytes (version, probability bits, back-off bits, padding), then per order 2..N-1 the
    // probability and back-off centers, then the highest order's probability centers.
    const uint8_t* quant = data_ + at;
    if constexpr (kQuant) {
      Need(sz.Add(at, 8), "quantization header");
      if (quant[0] != kQuantVersion)
        Bad(fmt::format("its quantization has version {}, not {}", int(quant[0]), int(kQuantVersion)));
      s.prob_bits = quant[1];
      s.backoff_bits = quant[2];
      if (s.prob_bits < 1 || s.prob_bits > 25 || s.backoff_bits < 1 || s.backoff_bits > 25)
        Bad(fmt::format("its quantization bits ({} for probabilities, {} for back-offs) are outside 1..25",
                        int(s.prob_bits), int(s.backoff_bits)));
      uint64_t probs = 4ull << s.prob_bits, backoffs = 4ull << s.backoff_bits;
      for (int n = 2; n < order_; ++n) {
        s.level[n - 2].prob_bins = quant + 8 + (n - 2) * (probs + backoffs);
        s.level[n - 2].backoff_bins = s.level[n - 2].prob_bins + probs;
      }
      s.level[order_ - 2].prob_bins = quant + 8 + (order_ - 2) * (probs + backoffs);
      at = sz.Add(at, 8 + (order_ - 2) * (probs + backoffs) + probs);
    }
    const uint8_t middle_value_bits = kQuant ? s.prob_bits + s.backoff_bits : 63;
    const uint8_t longest_value_bits = kQuant ? s.prob_bits : 31;
    s.unigrams = data_ + at;
    s.unigram_next_limit = counts_[1];
    at = sz.Add(at, sz.Mul(counts_[0] + 2, 16));
    const uint8_t word_bits = RequiredBits(counts_[0]);
    uint8_t configured_chop = 0;
    for (int n = 2; n <= order_; ++n) {
      auto& l = s.level[n - 2];
      l.entries = counts_[n - 1];
      l.word_bits = word_bits;
      l.word_mask = MaskOf(word_bits);
      if (n < order_) {
        const uint64_t max_next = counts_[n];
        l.next_limit = max_next;
        l.value_bits = middle_value_bits;
        uint8_t next_bits = RequiredBits(max_next);
        if constexpr (kArray) {
          // A header (version, configured bits), then at the next 8-aligned file offset plus 8 the table.
          Need(sz.Add(at, 2), "pointer compression header");
          if (data_[at] != kArrayPointerVersion)
            Bad(fmt::format("its {}-gram pointer compression has version {}, not {}", n, int(data_[at]),
                            int(kArrayPointerVersion)));
          if (n == 2) configured_chop = data_[at + 1];  // KenLM reads the first order's setting
          uint8_t chop = ChopBits(l.entries + 1, max_next, configured_chop);
          next_bits = static_cast<uint8_t>(next_bits - chop);
          l.high_entries = ArrayPointerEntries(l.entries + 1, max_next, configured_chop);
          l.high_table = data_ + Align8(at) + 8;
          at = sz.Add(at, sz.Add(sz.Mul(sz.Add(l.high_entries, 1), 8), 7));
        }
        l.next_bits = next_bits;
        l.next_mask = MaskOf(next_bits);
      } else {
        l.value_bits = longest_value_bits;
      }
      l.total_bits = static_cast<uint8_t>(word_bits + l.value_bits + l.next_bits);
      l.base = data_ + at;
      uint64_t bits = sz.Mul(sz.Add(l.entries, 1), l.total_bits);
      at = sz.Add(at, sz.Add(sz.Add(bits, 7) / 8, 8));
    }
    CheckEnd(at, s.vocab_words + 1, sz);
    if constexpr (kArray) {
      for (int n = 2; n < order_; ++n)
        if (s.level[n - 2].high_entries == 0 || Load64(s.level[n - 2].high_table) != 0)
          Bad(fmt::format("its {}-gram pointer table does not start with 0", n));
    }
    return std::make_unique<SearchScorer<Search>>(s);
  }

  std::unique_ptr<const KenlmBinaryModel::Scorer> Build() const {
    switch (type_) {
      case kProbing: return Hashed<false>();
      case kRestProbing: return Hashed<true>();
      case kTrie: return Trie<false, false>();
      case kQuantTrie: return Trie<true, false>();
      case kArrayTrie: return Trie<false, true>();
      default: return Trie<true, true>();
    }
  }

  int order() const { return order_; }

 private:
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  int order_ = 0, type_ = 0;
  float multiplier_ = 0;
  bool has_vocab_ = false;
  uint64_t header_end_ = 0;
  uint64_t counts_[kKenlmMaxOrder] = {};
};

}  // namespace

bool LooksLikeKenlmBinary(std::string_view head) { return head.starts_with(kMagicPrefix); }

KenlmBinaryModel::~KenlmBinaryModel() = default;  // the scorer (declared last) goes before the bytes it reads

float KenlmBinaryModel::ScoreSentence(std::string_view line) const { return scorer_->ScoreSentence(line); }

std::unique_ptr<const KenlmBinaryModel> KenlmBinaryModel::Open(const std::string& path, Env* env) {
  if (env == nullptr) env = Env::Default();
  std::unique_ptr<RandomAccessFile> file;
  uint64_t size = 0;
  try {
    file = env->NewRandomAccessFile(path);
    size = env->FileSize(path);
  } catch (const Error& e) {
    Fail(ErrorKind::kUsage, "cannot open the n-gram model {}: {}", path, e.what());
  }
  std::unique_ptr<KenlmBinaryModel> m(new KenlmBinaryModel());
  const uint8_t* data = nullptr;
  if (size > 0) {
    m->map_ = file->Map(0, static_cast<size_t>(size), RandomAccessFile::Access::kRandom);
    if (m->map_) {
      data = reinterpret_cast<const uint8_t*>(m->map_->data());
    } else {
      m->copy_ = std::make_unique<uint64_t[]>((size + 7) / 8);  // 8-byte aligned, as a mapping is
      char* dst = reinterpret_cast<char*>(m->copy_.get());
      for (uint64_t done = 0; done < size;) {
        size_t got = file->ReadAt(done, static_cast<size_t>(size - done), dst + done);
        if (got == 0) Fail(ErrorKind::kUsage, "the n-gram model {} shrank while it was read", path);
        done += got;
      }
      data = reinterpret_cast<const uint8_t*>(dst);
    }
  }
  Layout layout(path, data, static_cast<size_t>(size));
  layout.CheckSanity();
  layout.ReadParameters();
  m->order_ = layout.order();
  m->scorer_ = layout.Build();
  if (const char* missing = m->scorer_->MissingMarker())
    Fail(ErrorKind::kUsage, "the n-gram model {} has no {} in its vocabulary", path, missing);
  return m;
}

}  // namespace sluice::text
