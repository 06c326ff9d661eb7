// Near-duplicate detection: document_minhash_deduplicator, document_simhash_deduplicator
// (datajuicer-ops.md §5).
//
// Contract, per sample: t = text, Python-lowercased if `lowercase`, with every match of `ignore_pattern`
// (Python `regex` dialect, no flags) removed. Shingles of `window_size` w:
//   space        tokens = t split on " " only, empties dropped; shingle = " ".join(tokens[i:i+w]);
//   punctuation  tokens = t split at every \p{P} code point, empties kept; shingle = " ".join(...);
//   character    shingle = t[i:i+w] in code points;
//   sentencepiece (minhash only) tokens = the pieces of t under the SentencePiece model at `tokenizer_model`
//                (required), as encode_as_pieces gives them ('▁' markers kept); shingle = "".join(...);
// for i in 0 .. len(tokens) - w (none when there are fewer than w tokens).
//
// minhash: h(s) = SHA-1(s)[0:4] as a little-endian uint32; for permutation j (the (a_j, b_j) of
//   minhash_perms.inc) v_j = min over shingles of ((h * a_j + b_j) mod 2^64 mod (2^61 - 1)) & 0xFFFFFFFF,
//   the mod 2^64 being numpy's wrapping uint64 arithmetic. A text without shingles is an error (DataJuicer
//   1.4.3 raises, so the sample is dropped under skip_op_error). Bands: B x R with band b = v[bR .. bR+R);
//   when num_bands or num_rows_per_band is null, (B, R) minimises 0.5 FP + 0.5 FN (MinHashOptimalBands).
//   The fingerprint is one 64-bit hash per band (XXH3 of the band's R values, seeded with the band index)
//   and the decision compares hashes of the same band only. DataJuicer compares the band values
//   themselves, so two different bands count as equal here with probability 2^-64 per pair of samples and
//   band. Decision: samples sharing a band are unioned; the first sample (input order) of each connected
//   component is kept.
// simhash: token hash = MD5(s)[0:8] big-endian; bit k of the simhash is set iff more shingles (counted
//   with repetition) have bit k set than not; no shingles gives 0. Fingerprint: the uint64. Decision:
//   distinct values within Hamming distance `hamming_distance` are linked, transitively; a sample is kept
//   iff it is the first (input order) of its cluster. Pairs are found by permutation blocking: the 64 bits
//   are cut into num_blocks blocks; two values within distance k agree on at least num_blocks - k blocks,
//   so for every choice of num_blocks - k blocks the values are sorted with those blocks on top and only
//   values sharing them are compared. That finds every pair exactly when k < num_blocks, which is required
//   (kUsage otherwise). An unknown tokenization fails when a sample is hashed (DataJuicer's
//   NotImplementedError, a run-time error there too).
//
// Memory of the decisions (ctx.memory_bytes): a union-find of 4 bytes per sample and keep bits are set
// aside; the rest holds (key, index) records of 16 bytes. minhash takes as many bands per pass over the
// fingerprints as fit, simhash one block choice per pass; a pass whose records do not fit (one band of
// a large dataset) spills sorted runs and merges them (external_sort.h).
#include <unicode/uchar.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>
#include <unordered_map>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/error.h"
#include "core/sample.h"
#include "ops/dedup/external_sort.h"
#include "ops/dedup/near_deduplicators.h"
#include "ops/dedup/sha1.h"
#include "ops/op.h"
#include "ops/text/analysis.h"
#include "ops/text/md5_many.h"
#include "ops/text/model_files.h"
#include "ops/text/sentencepiece_tokenizer.h"
#include "ops/text/pystr.h"
#include "ops/text/regex.h"
#include "core/utf8.h"

// GCC 12's unmasked AVX-512 intrinsics take an _mm512_undefined source and trip -W(maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace sluice {

namespace {

struct PermPair {
  uint64_t a, b;
};
constexpr PermPair kMinHashPerms[] = {
#include "ops/dedup/minhash_perms.inc"
};
constexpr int kMaxPermutations = static_cast<int>(std::size(kMinHashPerms));
constexpr uint64_t kMersenne61 = (uint64_t{1} << 61) - 1;

enum class Tokenization { kSpace, kPunctuation, kCharacter, kSentencePiece, kUnknown };

Tokenization ParseTokenization(const std::string& s) {
  if (s == "space") return Tokenization::kSpace;
  if (s == "punctuation") return Tokenization::kPunctuation;
  if (s == "character") return Tokenization::kCharacter;
  if (s == "sentencepiece") return Tokenization::kSentencePiece;
  return Tokenization::kUnknown;
}

inline bool IsPunctuation(char32_t c) {
  if (c < 0x80) {
    // ASCII \p{P}: string.punctuation less the symbols $ + < = > ^ ` | ~ (categories Sc/Sm/Sk).
    constexpr std::string_view kAsciiP = "!\"#%&'()*,-./:;?@[\\]_{}";
    return kAsciiP.find(static_cast<char>(c)) != std::string_view::npos;
  }
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_P_MASK) != 0;
}

// Lowercasing, ignore_pattern and shingling, shared by both ops. Owns scratch buffers (one per op instance,
// so no allocation per sample once they have grown).
class Shingler {
 public:
  // `sentencepiece`: the op takes tokenization sentencepiece (minhash); it loads the model of
  // `tokenizer_model` here, failing before any data is read when it is not given or not readable.
  Shingler(const Params& p, std::string_view op, bool sentencepiece = false)
      : tokenization_(ParseTokenization(p.Get("tokenization").as_string())),
        tokenization_name_(p.Get("tokenization").as_string()),
        window_(p.GetInt("window_size")),
        lowercase_(p.GetBool("lowercase")) {
    if (window_ < 1) Fail(ErrorKind::kUsage, "{}: window_size must be at least 1, got {}", op, window_);
    if (sentencepiece && tokenization_ == Tokenization::kSentencePiece) {
      std::string model = p.Has("tokenizer_model") ? p.GetString("tokenizer_model") : std::string();
      if (model.empty())
        Fail(ErrorKind::kUsage, "{}: tokenization 'sentencepiece' needs the path of a SentencePiece model in tokenizer_model",
             op);
      tokenizer_ = text::SentencePieceTokenizer::Load(
          text::ResolveModelFile({std::string(op), "SentencePiece model", "tokenizer_model", model, {}}));
    }
    if (p.Has("ignore_pattern")) {
      ignore_ = std::make_unique<text::Regex>(text::Regex::Python(p.Get("ignore_pattern").as_string(), 0, "ignore_pattern"));
      empty_ = text::ReplTemplate("", *ignore_);
    }
  }

  Tokenization tokenization() const { return tokenization_; }
  // Whether a shingle ForEach passed lives in the shingler's scratch string (a window joined with single
  // spaces), valid only until the next call of f; all others are views into the text ForEach was given
  // or its lowered/stripped copy, valid until the next ForEach.
  bool IsScratch(std::string_view shingle) const { return shingle.data() == joined_.data(); }
  const std::string& tokenization_name() const { return tokenization_name_; }
  bool lowercase() const { return lowercase_; }
  int64_t window() const { return window_; }
  text::Regex* ignore() const { return ignore_.get(); }

  // Calls f(shingle) for every shingle of the sample's text, in order, repetitions included.
  template <typename F>
  void ForEach(std::string_view t, F&& f) {
    if (lowercase_) {
      lower_.clear();
      text::PyLowerAppend(t, lower_);
      t = lower_;
    }
    if (ignore_ && ignore_->ReplaceAll(t, empty_, stripped_) > 0) t = stripped_;
    const size_t w = static_cast<size_t>(window_);
    switch (tokenization_) {
      case Tokenization::kCharacter: {
        // starts_[k] = byte offset of code point k; shingle i = [starts_[i], starts_[i + w]).
        starts_.clear();
        for (size_t i = 0; i < t.size(); i += text::SeqLen(static_cast<unsigned char>(t[i]))) starts_.push_back(i);
        starts_.push_back(t.size());
        size_t n = starts_.size() - 1;
        for (size_t i = 0; i + w <= n; ++i) f(t.substr(starts_[i], starts_[i + w] - starts_[i]));
        return;
      }
      case Tokenization::kSpace:
        tokens_.clear();
        for (size_t i = 0; i < t.size();) {
          size_t j = t.find(' ', i);
          if (j == std::string_view::npos) j = t.size();
          if (j > i) tokens_.push_back(t.substr(i, j - i));
          i = j + 1;
        }
        break;
      case Tokenization::kPunctuation: {
        tokens_.clear();
        size_t begin = 0;
        for (size_t i = 0; i < t.size();) {
          size_t at = i;
          if (IsPunctuation(utf8::Next(t, i))) {
            tokens_.push_back(t.substr(begin, at - begin));
            begin = i;
          }
        }
        tokens_.push_back(t.substr(begin));
        break;
      }
      case Tokenization::kSentencePiece:
        if (tokenizer_) {
          tokenizer_->Encode(t, pieces_);
          tokens_.clear();
          for (size_t i = 0; i < pieces_.size(); ++i) tokens_.push_back(pieces_[i]);
          break;
        }
        [[fallthrough]];  // simhash: DataJuicer has no sentencepiece shingles there
      case Tokenization::kUnknown:
        Fail(ErrorKind::kUsage, "unknown tokenization '{}' (DataJuicer, too, fails on every sample)", tokenization_name_);
    }
    // Token windows joined by one space (pieces: by nothing). With space tokenization a window whose tokens
    // are separated by single spaces is a substring of t already.
    const bool contiguous_possible = tokenization_ == Tokenization::kSpace;
    const bool spaced = tokenization_ != Tokenization::kSentencePiece;
    for (size_t i = 0; i + w <= tokens_.size(); ++i) {
      std::string_view first = tokens_[i], last = tokens_[i + w - 1];
      if (contiguous_possible) {
        size_t span = static_cast<size_t>(last.data() + last.size() - first.data());
        size_t joined = w - 1;
        for (size_t k = i; k < i + w; ++k) joined += tokens_[k].size();
        if (span == joined) {
          f(std::string_view(first.data(), span));
          continue;
        }
      }
      joined_.clear();
      for (size_t k = i; k < i + w; ++k) {
        if (k > i && spaced) joined_ += ' ';
        joined_.append(tokens_[k]);
      }
      f(std::string_view(joined_));
    }
  }

 private:
  Tokenization tokenization_;
  std::string tokenization_name_;
  int64_t window_;
  bool lowercase_;
  std::unique_ptr<text::Regex> ignore_;
  text::ReplTemplate empty_;
  std::shared_ptr<const text::SentencePieceTokenizer> tokenizer_;  // tokenization sentencepiece only
  text::SentencePieceTokenizer::Pieces pieces_;
  std::string lower_, stripped_, joined_;
  std::vector<size_t> starts_;
  std::vector<std::string_view> tokens_;
};

const std::string& TextOf(const Sample& s, int slot) {
  const TextField& tf = s.texts[static_cast<size_t>(slot)];
  if (tf.is_null || !tf.present) Fail(ErrorKind::kInput, "the text field is null or missing");
  return tf.value();
}

// A (key, sample index) record of the decisions' sorts (minhash puts the band above the index's 32 bits).
struct KeyIndex {
  uint64_t key, index;
  bool operator<(const KeyIndex& o) const { return key != o.key ? key < o.key : index < o.index; }
};

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// ---- minhash ---------------------------------------------------------------------------------------------

// Adaptive Gauss-Kronrod (7, 15) quadrature of f over [a, b].
template <typename F>
double Integrate(const F& f, double a, double b, double tol = 1e-14, int depth = 0) {
  static constexpr double kXk[8] = {0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                                    0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                                    0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                                    0.207784955007898467600689403773245, 0.0};
  static constexpr double kWk[8] = {0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                                    0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                                    0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                                    0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
  static constexpr double kWg[4] = {0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                                    0.381830050505118944950369775488975, 0.417959183673469387755102040816327};
  double c = (a + b) / 2, h = (b - a) / 2, fc = f(c);
  double rk = fc * kWk[7], rg = fc * kWg[3];
  for (int j = 0; j < 7; ++j) {
    double x = h * kXk[j], s = f(c - x) + f(c + x);
    rk += kWk[j] * s;
    if (j % 2 == 1) rg += kWg[j / 2] * s;
  }
  if (std::abs((rk - rg) * h) <= tol || depth > 40) return rk * h;
  return Integrate(f, a, c, tol / 2, depth + 1) + Integrate(f, c, b, tol / 2, depth + 1);
}

#if defined(__x86_64__)
// The signature loop with AVX-512 (8 lanes, a native 64-bit multiply), for CPUs that have it (checked at
// run time: the build targets AVX2). Fills sig[0 .. the returned count), a multiple of 32.
__attribute__((target("avx512f,avx512dq"))) size_t SignatureAvx512(const uint64_t* a, const uint64_t* b, size_t used,
                                                                  const uint32_t* hashes, size_t n, uint32_t* sig) {
  const __m512i p = _mm512_set1_epi64(static_cast<long long>(kMersenne61));
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFFll);
  size_t j = 0;
  for (; j + 32 <= used; j += 32) {
    __m512i av[4], bv[4], mn[4];
    for (int k = 0; k < 4; ++k) {
      av[k] = _mm512_loadu_si512(a + j + 8 * k);
      bv[k] = _mm512_loadu_si512(b + j + 8 * k);
      mn[k] = low32;
    }
    for (size_t i = 0; i < n; ++i) {
      const __m512i h = _mm512_set1_epi64(hashes[i]);
      for (int k = 0; k < 4; ++k) {
        __m512i x = _mm512_add_epi64(_mm512_mullo_epi64(h, av[k]), bv[k]);
        __m512i y = _mm512_add_epi64(_mm512_and_si512(x, p), _mm512_srli_epi64(x, 61));
        y = _mm512_mask_sub_epi64(y, _mm512_cmpge_epu64_mask(y, p), y, p);
        mn[k] = _mm512_min_epu64(mn[k], _mm512_and_si512(y, low32));
      }
    }
    for (int k = 0; k < 4; ++k) _mm256_storeu_si256(reinterpret_cast<__m256i*>(sig + j + 8 * k), _mm512_cvtepi64_epi32(mn[k]));
  }
  return j;
}
#endif

class MinHashDeduplicator : public Deduplicator {
 public:
  MinHashDeduplicator(const char* name, const Params& p, int bands, int rows)
      : Deduplicator(name, static_cast<size_t>(bands) * 8),
        shingler_(p, name, true),
        bands_(bands),
        rows_(rows) {
    // Only the first B x R permutations reach a band; the rest never affect the result.
    int used = bands * rows;
    a_.resize(static_cast<size_t>(used));
    b_.resize(static_cast<size_t>(used));
    for (int j = 0; j < used; ++j) {
      a_[j] = kMinHashPerms[j].a;
      b_[j] = kMinHashPerms[j].b;
    }
    sig_.resize(static_cast<size_t>(used));
  }

  DedupStats Decide(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep) override {
    DedupStats stats;
    const uint64_t n = fps.count();
    dedup::UnionFind uf(n);
    const uint64_t budget = dedup::SortBudget(ctx, 4 * n + n / 8);
    const uint64_t per_band = std::max<uint64_t>(n * sizeof(KeyIndex), 1);
    const int group = static_cast<int>(std::clamp<uint64_t>(budget / per_band, 1, static_cast<uint64_t>(bands_)));
    const size_t fs = fingerprint_size();
    for (int b0 = 0; b0 < bands_; b0 += group) {
      const int b1 = std::min(bands_, b0 + group);
      dedup::ExternalSorter<KeyIndex> sorter(ctx, budget, n * static_cast<uint64_t>(b1 - b0), stats);
      ++stats.passes;
      fps.Scan([&](uint64_t first, const uint8_t* data, size_t count) {
        for (size_t i = 0; i < count; ++i)
          for (int b = b0; b < b1; ++b)
            sorter.Add({Load64(data + i * fs + 8 * static_cast<size_t>(b)), (uint64_t{static_cast<uint32_t>(b)} << 32) | (first + i)});
      });
      // Records sort by (band hash, band, index): a run of one hash in one band is a set of duplicates.
      uint64_t run_key = 0, run_band = 0, run_first = 0;
      bool any = false;
      sorter.ForEach([&](const KeyIndex& r) {
        uint64_t band = r.index >> 32, index = r.index & 0xFFFFFFFFu;
        if (any && r.key == run_key && band == run_band) {
          uf.Union(static_cast<uint32_t>(run_first), static_cast<uint32_t>(index));
          return;
        }
        any = true;
        run_key = r.key;
        run_band = band;
        run_first = index;
      });
    }
    uf.KeepRoots(ctx, keep);
    return stats;
  }

 protected:
  void ComputeFingerprint(const Sample& s, uint8_t* out) override {
    if (!Signature(TextOf(s, slot())))
      Fail(ErrorKind::kInput, "the text has fewer than window_size tokens, so no shingles (DataJuicer fails on it too)");
    for (int b = 0; b < bands_; ++b) {
      uint64_t h = XXH3_64bits_withSeed(sig_.data() + static_cast<size_t>(b) * rows_, sizeof(uint32_t) * rows_,
                                        static_cast<uint64_t>(b));
      std::memcpy(out + 8 * static_cast<size_t>(b), &h, 8);
    }
  }

 private:
  // Sets sig_[j] = min over the shingle hashes of ((h * a_j + b_j) mod 2^64 mod (2^61 - 1)) & 0xFFFFFFFF;
  // false when the text has no shingles.
  bool Signature(std::string_view text) {
    hashes_.clear();
    shingler_.ForEach(text, [&](std::string_view sh) { hashes_.push_back(text::Sha1Le32(sh)); });
    if (hashes_.empty()) return false;
    // Shingles are a set in DataJuicer; a repeated hash cannot change a minimum, so no need to collapse them.
    const size_t used = sig_.size();
    size_t j = 0;
#if defined(__x86_64__)
    static const bool kAvx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    if (kAvx512) j = SignatureAvx512(a_.data(), b_.data(), used, hashes_.data(), hashes_.size(), sig_.data());
#endif
#if defined(__AVX2__)
    // 64-bit lanes; h < 2^32, so h * a mod 2^64 = h * a_lo + ((h * a_hi) << 32), two 32x32->64 multiplies
    // (mul_epu32 reads the low 32 bits of each lane).
    // x mod (2^61 - 1) for x < 2^64 is (x & p) + (x >> 61), minus p once if that reaches p.
    const __m256i p = _mm256_set1_epi64x(static_cast<long long>(kMersenne61));
    const __m256i pm1 = _mm256_set1_epi64x(static_cast<long long>(kMersenne61 - 1));
    const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFFll);
    for (; j + 16 <= used; j += 16) {
      __m256i alo[4], ahi[4], bb[4], mn[4];
      for (int k = 0; k < 4; ++k) {
        alo[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&a_[j + 4 * k]));
        ahi[k] = _mm256_srli_epi64(alo[k], 32);
        bb[k] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(&b_[j + 4 * k]));
        mn[k] = low32;
      }
      for (uint32_t h32 : hashes_) {
        const __m256i h = _mm256_set1_epi64x(h32);
        for (int k = 0; k < 4; ++k) {
          __m256i x = _mm256_add_epi64(_mm256_mul_epu32(h, alo[k]), _mm256_slli_epi64(_mm256_mul_epu32(h, ahi[k]), 32));
          x = _mm256_add_epi64(x, bb[k]);
          __m256i y = _mm256_add_epi64(_mm256_and_si256(x, p), _mm256_srli_epi64(x, 61));
          y = _mm256_sub_epi64(y, _mm256_and_si256(_mm256_cmpgt_epi64(y, pm1), p));
          mn[k] = _mm256_min_epu32(mn[k], _mm256_and_si256(y, low32));
        }
      }
      for (int k = 0; k < 4; ++k) {
        alignas(32) uint64_t v[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(v), mn[k]);
        for (int l = 0; l < 4; ++l) sig_[j + 4 * k + l] = static_cast<uint32_t>(v[l]);
      }
    }
#endif
    for (; j < used; ++j) {
      uint64_t a = a_[j], m = 0xFFFFFFFFu;
      for (uint32_t h : hashes_) {
        uint64_t x = h * a + b_[j];  // wraps mod 2^64, as numpy's uint64 does
        uint64_t y = (x & kMersenne61) + (x >> 61);
        if (y >= kMersenne61) y -= kMersenne61;
        m = std::min<uint64_t>(m, y & 0xFFFFFFFFu);
      }
      sig_[j] = static_cast<uint32_t>(m);
    }
    return true;
  }
  friend std::vector<uint32_t> sluice::MinHashSignature(Op& op, std::string_view text);

  Shingler shingler_;
  int bands_, rows_;
  std::vector<uint64_t> a_, b_;
  std::vector<uint32_t> hashes_, sig_;
};

std::unique_ptr<Op> MakeMinHash(const char* op, const Params& p) {
  Tokenization t = ParseTokenization(p.Get("tokenization").as_string());
  if (t == Tokenization::kUnknown)
    Fail(ErrorKind::kUsage, "{}: unknown tokenization '{}' (space, punctuation, character or sentencepiece)", op,
         p.Get("tokenization").as_string());
  int64_t perms = p.GetInt("num_permutations");
  if (perms < 1 || perms > kMaxPermutations)
    Fail(ErrorKind::kUsage, "{}: num_permutations must be in [1, {}], got {}", op, kMaxPermutations, perms);
  double threshold = p.GetNumber("jaccard_threshold");
  int bands, rows;
  if (p.Has("num_bands") && p.Has("num_rows_per_band")) {
    int64_t b = p.GetInt("num_bands"), r = p.GetInt("num_rows_per_band");
    if (b < 1 || r < 1 || b * r > perms)
      Fail(ErrorKind::kUsage, "{}: num_bands x num_rows_per_band must be in [1, num_permutations = {}], got {} x {}", op,
           perms, b, r);
    bands = static_cast<int>(b);
    rows = static_cast<int>(r);
  } else {
    if (!(threshold > 0 && threshold < 1))
      Fail(ErrorKind::kUsage, "{}: jaccard_threshold must be in (0, 1), got {}", op, threshold);
    std::tie(bands, rows) = MinHashOptimalBands(threshold, static_cast<int>(perms));
  }
  return std::make_unique<MinHashDeduplicator>(op, p, bands, rows);
}

// ---- simhash ---------------------------------------------------------------------------------------------

// The fast path of the simhash shingles for space tokenization when ignore_pattern is null or `\p{P}` (a
// class of single code points, so removing its matches is removing those code points). Then
// " ".join(tokens) -- the text lowered (if asked), the ignored code points removed, runs of spaces cut to
// one and the ends trimmed -- holds every shingle as a substring: shingle i runs from the start of token i
// to the end of token i + w - 1. SpaceNormalizer builds that string and the offsets of its spaces in one
// pass (64 bytes at a time with AVX-512 VBMI2 where the CPU has it, else byte by byte); which code points
// the pattern removes is asked of the compiled pattern itself (ASCII at construction, others on first
// sight, cached), so the set is exactly the regex's.
// Tests turn the vector paths off to check the scalar ones on any CPU (SimHashVectorPaths).
std::atomic<bool> g_simhash_vector{true};

struct NormalizedText {
  char* out;      // >= 64 bytes of slack after the longest possible result
  size_t len;     // bytes of out in use
  uint32_t* sp;   // offsets of the spaces in out
  size_t nsp;
};

class SpaceNormalizer {
 public:
  SpaceNormalizer(bool lowercase, text::Regex* ignore) : lowercase_(lowercase), ignore_(ignore) {
    for (int c = 0; c < 128; ++c) {
      bool drop = false;
      if (ignore_ != nullptr) {
        char ch = static_cast<char>(c);
        size_t b, e;
        drop = ignore_->Search(std::string_view(&ch, 1), 0, &b, &e) && b == 0 && e == 1;
      }
      keep_[c] = drop ? 0xFF : static_cast<uint8_t>(c);
      lower_keep_[c] = drop ? 0xFF : static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
  }

  // Normalizes `t`; the result is valid until the next call. With `shared` (the record's analysis of t,
  // ops/text/analysis.h) the ASCII test and the lowercased text come from there.
  NormalizedText Run(std::string_view t, text::TextAnalysis* shared = nullptr) {
    const uint8_t* table = keep_;
    if (lowercase_) {
      if (shared != nullptr ? shared->is_ascii() : text::IsAscii(t)) {
        table = lower_keep_;
      } else if (shared != nullptr) {
        t = shared->lowered();
      } else {
        if (lower_.size() < t.size() + t.size() / 2 + 8) lower_.resize(t.size() + t.size() / 2 + 8);
        t = std::string_view(lower_.data(), text::PyLowerTo(t, lower_.data()));
      }
    }
    if (out_.size() < t.size() + 128) out_.resize(t.size() + 128);
    if (sp_.size() < t.size() / 2 + 2) sp_.resize(t.size() / 2 + 2);
    NormalizedText r{out_.data(), 0, sp_.data(), 0};
#if defined(__x86_64__)
    static const bool kAvx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vbmi2") &&
                                __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
    if (kAvx512 && g_simhash_vector.load(std::memory_order_relaxed)) RunAvx512(t, table, r);
    else RunScalar(t, table, r);
#else
    RunScalar(t, table, r);
#endif
    if (r.len > 0 && r.out[r.len - 1] == ' ') {  // a trailing space: the last token was followed by spaces
      --r.len;
      --r.nsp;
    }
    return r;
  }

  // The scalar reference, public for tests of the vector path.
  void RunScalar(std::string_view t, const uint8_t* table, NormalizedText& r) {
    for (size_t i = 0; i < t.size();) {
      unsigned char c = static_cast<unsigned char>(t[i]);
      if (c < 0x80) {
        ++i;
        uint8_t m = table[c];
        if (m == 0xFF) continue;
        if (m == ' ') {
          if (r.len == 0 || r.out[r.len - 1] == ' ') continue;
          r.sp[r.nsp++] = static_cast<uint32_t>(r.len);
        }
        r.out[r.len++] = static_cast<char>(m);
        continue;
      }
      NonAscii(t, i, r);
    }
  }

#if defined(__x86_64__)
  __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2,bmi2,popcnt"))) void RunAvx512(
      std::string_view t, const uint8_t* table, NormalizedText& r) {
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i drop = _mm512_set1_epi8(static_cast<char>(0xFF)), space = _mm512_set1_epi8(' ');
    const char* src = t.data();
    const size_t n = t.size();
    char* out = r.out;
    size_t len = r.len, nsp = r.nsp;
    uint32_t* sp = r.sp;
    for (size_t i = 0; i < n;) {
      const size_t k = std::min<size_t>(64, n - i);
      const uint64_t valid = _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(k));
      const __m512i v = _mm512_maskz_loadu_epi8(valid, src + i);
      const uint64_t non_ascii = _mm512_movepi8_mask(v) & valid;
      // The ASCII bytes before the first non-ASCII one (all k bytes when there is none).
      const uint64_t take = non_ascii != 0 ? _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(__builtin_ctzll(non_ascii))) : valid;
      if (take != 0) {
        // Map through the table (lowercase or keep; 0xFF = drop), pack the kept bytes, then drop each
        // space whose predecessor in the output is a space (or that would start the output).
        const __m512i mapped = _mm512_permutex2var_epi8(t0, v, t1);
        const uint64_t keep = _mm512_mask_cmpneq_epi8_mask(take, mapped, drop);
        const __m512i packed = _mm512_maskz_compress_epi8(keep, mapped);
        const uint64_t in_use = _bzhi_u64(~uint64_t{0}, static_cast<unsigned>(__builtin_popcountll(keep)));
        const uint64_t spaces = _mm512_mask_cmpeq_epi8_mask(in_use, packed, space);
        const uint64_t after_space = (spaces << 1) | uint64_t{len == 0 || out[len - 1] == ' '};
        const uint64_t dup = spaces & after_space;
        const uint64_t keep2 = in_use & ~dup;
        _mm512_storeu_si512(out + len, _mm512_maskz_compress_epi8(keep2, packed));
        for (uint64_t s = _pext_u64(spaces & ~dup, keep2); s != 0; s &= s - 1)
          sp[nsp++] = static_cast<uint32_t>(len + static_cast<size_t>(__builtin_ctzll(s)));
        len += static_cast<size_t>(__builtin_popcountll(keep2));
        i += static_cast<size_t>(__builtin_popcountll(take));
      }
      if (non_ascii != 0) {
        r.len = len;
        r.nsp = nsp;
        NonAscii(t, i, r);
        len = r.len;
      }
    }
    r.len = len;
    r.nsp = nsp;
  }
#endif

 private:
  // The code point at t[i] (not ASCII, so never a space): kept or dropped; advances i.
  void NonAscii(std::string_view t, size_t& i, NormalizedText& r) {
    size_t at = i;
    char32_t c = utf8::Next(t, i);
    if (ignore_ != nullptr && Dropped(c)) return;
    for (size_t k = at; k < i; ++k) r.out[r.len++] = t[k];
  }

  bool Dropped(char32_t c) {
    auto ask = [this](char32_t cp) {
      char buf[4];
      size_t n = utf8::Encode(cp, buf), b, e;
      return ignore_->Search(std::string_view(buf, n), 0, &b, &e) && b == 0 && e == n;
    };
    if (c < 0x10000) {
      if (bmp_.empty()) bmp_.assign(0x10000, 0);
      uint8_t& v = bmp_[c];
      if (v == 0) v = ask(c) ? 2 : 1;
      return v == 2;
    }
    auto it = astral_.find(c);
    if (it == astral_.end()) it = astral_.emplace(c, ask(c)).first;
    return it->second;
  }

  bool lowercase_;
  text::Regex* ignore_;
  alignas(64) uint8_t keep_[128];        // byte -> itself, 0xFF if dropped
  alignas(64) uint8_t lower_keep_[128];  // byte -> its lowercase, 0xFF if dropped
  std::string lower_, out_;
  std::vector<uint32_t> sp_;
  std::vector<uint8_t> bmp_;  // per BMP code point: 0 not asked yet, 1 kept, 2 dropped
  std::unordered_map<char32_t, bool> astral_;
};

// Bit votes of 64-bit hashes: ones[p] += number of h[i] with bit p set. Nibble counters (4 bits, so at
// most 15 adds) in 4 interleaved lanes a_j (nibble f of a_j counts bit 4f + j), spilled into byte
// counters every 15 hashes and into ones every 255.
void CountBitsScalar(const uint64_t* h, size_t n, uint64_t* ones) {
  constexpr uint64_t kNib = 0x1111111111111111ull, kLowNibbles = 0x0F0F0F0F0F0F0F0Full;
  for (size_t base = 0; base < n;) {
    uint64_t bytes[8] = {};  // bytes[j]: byte i = count of bit 8i + j (j < 4), bytes[4 + j]: bit 8i + 4 + j
    const size_t end255 = std::min(n, base + 255);
    while (base < end255) {
      const size_t end = std::min(end255, base + 15);
      uint64_t a[4] = {};
      for (; base < end; ++base)
        for (int j = 0; j < 4; ++j) a[j] += (h[base] >> j) & kNib;
      for (int j = 0; j < 4; ++j) {
        bytes[j] += a[j] & kLowNibbles;
        bytes[4 + j] += (a[j] >> 4) & kLowNibbles;
      }
    }
    for (int j = 0; j < 4; ++j)
      for (int i = 0; i < 8; ++i) {
        ones[8 * i + j] += (bytes[j] >> (8 * i)) & 0xFF;
        ones[8 * i + 4 + j] += (bytes[4 + j] >> (8 * i)) & 0xFF;
      }
  }
}

#if defined(__x86_64__)
// The same with 8 hashes per vector: nibble lanes hold at most 15 vectors (120 hashes); each spill sums
// the 8 lanes bytewise (at most 120 per byte, so a plain 64-bit add never carries between bytes).
__attribute__((target("avx512f"))) void CountBitsAvx512(const uint64_t* h, size_t n, uint64_t* ones) {
  const __m512i nib = _mm512_set1_epi64(0x1111111111111111ll), low = _mm512_set1_epi64(0x0F0F0F0F0F0F0F0Fll);
  for (size_t base = 0; base < n;) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (int v = 0; v < 15 && base < n; ++v, base += 8) {
      const __mmask8 m = static_cast<__mmask8>(n - base >= 8 ? 0xFF : (1u << (n - base)) - 1);
      const __m512i x = _mm512_maskz_loadu_epi64(m, h + base);
      a0 = _mm512_add_epi64(a0, _mm512_and_si512(x, nib));
      a1 = _mm512_add_epi64(a1, _mm512_and_si512(_mm512_srli_epi64(x, 1), nib));
      a2 = _mm512_add_epi64(a2, _mm512_and_si512(_mm512_srli_epi64(x, 2), nib));
      a3 = _mm512_add_epi64(a3, _mm512_and_si512(_mm512_srli_epi64(x, 3), nib));
    }
    const __m512i a[4] = {a0, a1, a2, a3};
    for (int j = 0; j < 4; ++j) {
      uint64_t lo = static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_and_si512(a[j], low)));
      uint64_t hi = static_cast<uint64_t>(_mm512_reduce_add_epi64(_mm512_and_si512(_mm512_srli_epi64(a[j], 4), low)));
      for (int i = 0; i < 8; ++i) {
        ones[8 * i + j] += (lo >> (8 * i)) & 0xFF;
        ones[8 * i + 4 + j] += (hi >> (8 * i)) & 0xFF;
      }
    }
  }
}
#endif

void CountBits(const uint64_t* h, size_t n, uint64_t* ones) {
#if defined(__x86_64__)
  static const bool kAvx512 = __builtin_cpu_supports("avx512f");
  if (kAvx512 && g_simhash_vector.load(std::memory_order_relaxed)) return CountBitsAvx512(h, n, ones);
#endif
  CountBitsScalar(h, n, ones);
}


class SimHashDeduplicator : public Deduplicator {
 public:
  explicit SimHashDeduplicator(const Params& p)
      : Deduplicator("document_simhash_deduplicator", 8),
        shingler_(p, "document_simhash_deduplicator"),
        blocks_(static_cast<int>(p.GetInt("num_blocks"))),
        distance_(static_cast<int>(p.GetInt("hamming_distance"))) {
    const char* op = "document_simhash_deduplicator";
    if (blocks_ < 1 || blocks_ > 64) Fail(ErrorKind::kUsage, "{}: num_blocks must be in [1, 64], got {}", op, blocks_);
    if (distance_ < 0 || distance_ >= blocks_)
      Fail(ErrorKind::kUsage,
           "{}: hamming_distance must be in [0, num_blocks) (here [0, {})), got {}: permutation blocking finds all "
           "pairs only then",
           op, blocks_, distance_);
    if (shingler_.tokenization() == Tokenization::kSpace &&
        (!p.Has("ignore_pattern") || p.Get("ignore_pattern").as_string() == "\\p{P}"))
      fast_ = std::make_unique<SpaceNormalizer>(shingler_.lowercase(), shingler_.ignore());
  }

  DedupStats Decide(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep) override {
    DedupStats stats;
    const uint64_t n = fps.count();
    dedup::UnionFind uf(n);
    const uint64_t budget = dedup::SortBudget(ctx, 4 * n + n / 8);
    // Block k covers bits [start[k], start[k + 1]); the first 64 % blocks blocks are one bit wider.
    std::vector<int> start(static_cast<size_t>(blocks_) + 1, 0);
    for (int k = 0; k < blocks_; ++k) start[k + 1] = start[k] + 64 / blocks_ + (k < 64 % blocks_ ? 1 : 0);
    const int chosen = blocks_ - distance_;
    std::vector<bool> pick(static_cast<size_t>(blocks_), false);
    std::fill(pick.begin(), pick.begin() + chosen, true);
    std::vector<KeyIndex> reps;
    do {
      // The permutation: the chosen blocks' bits on top (in block order), then the others.
      struct Move {
        int from, width, to;
      };
      std::vector<Move> moves;
      int top = 64, prefix = 0;
      for (int pass = 0; pass < 2; ++pass)
        for (int k = 0; k < blocks_; ++k)
          if (pick[k] == (pass == 0)) {
            int width = start[k + 1] - start[k];
            top -= width;
            moves.push_back({start[k], width, top});
            if (pass == 0) prefix += width;
          }
      auto permute = [&](uint64_t v) {
        uint64_t out = 0;
        for (const Move& m : moves) out |= ((v >> m.from) & ((uint64_t{2} << (m.width - 1)) - 1)) << m.to;
        return out;
      };
      const uint64_t prefix_mask = prefix == 64 ? ~uint64_t{0} : ~((uint64_t{1} << (64 - prefix)) - 1);
      dedup::ExternalSorter<KeyIndex> sorter(ctx, budget, n, stats);
      ++stats.passes;
      fps.Scan([&](uint64_t first, const uint8_t* data, size_t count) {
        for (size_t i = 0; i < count; ++i) sorter.Add({permute(Load64(data + 8 * i)), first + i});
      });
      // A group shares the chosen blocks. Equal values are duplicates outright; distinct ones (reps, at most
      // a few per group in practice) are compared pairwise.
      auto close_group = [&]() {
        for (size_t x = 0; x < reps.size(); ++x)
          for (size_t y = x + 1; y < reps.size(); ++y)
            if (std::popcount(reps[x].key ^ reps[y].key) <= distance_)
              uf.Union(static_cast<uint32_t>(reps[x].index), static_cast<uint32_t>(reps[y].index));
        reps.clear();
      };
      sorter.ForEach([&](const KeyIndex& r) {
        if (!reps.empty() && (reps.back().key & prefix_mask) != (r.key & prefix_mask)) close_group();
        if (!reps.empty() && reps.back().key == r.key) uf.Union(static_cast<uint32_t>(reps.back().index), static_cast<uint32_t>(r.index));
        else reps.push_back(r);
      });
      close_group();
    } while (std::prev_permutation(pick.begin(), pick.end()));
    uf.KeepRoots(ctx, keep);
    return stats;
  }

 protected:
  void ComputeFingerprint(const Sample& s, uint8_t* out) override {
    uint64_t v = Hash(TextOf(s, slot()), false, text::TextAnalysis::Of(s, slot()));
    std::memcpy(out, &v, 8);
  }

 private:
  // Bit k of the result is set iff more than half of the shingle hashes have bit k set. The shingles are
  // hashed in batches by Md5Prefix64 (the hash is digest bytes 0..7 read big-endian, so the votes are
  // counted on the little-endian read and the result byte-swapped).
  uint64_t Hash(std::string_view text, bool generic = false, text::TextAnalysis* shared = nullptr) {
    uint64_t ones[64] = {}, shingles = 0;
    if (fast_ && !generic) {
      const NormalizedText r = fast_->Run(text, shared);
      const size_t w = static_cast<size_t>(shingler_.window()), tokens = r.len == 0 ? 0 : r.nsp + 1;
      if (tokens >= w) {
        shingles = tokens - w + 1;
        if (batch_.size() < shingles) batch_.resize(shingles);
        if (hashes_.size() < shingles) hashes_.resize(shingles);
        for (size_t i = 0; i < shingles; ++i) {
          size_t b = i == 0 ? 0 : r.sp[i - 1] + 1, e = i + w - 1 < r.nsp ? r.sp[i + w - 1] : r.len;
          batch_[i] = std::string_view(r.out + b, e - b);
        }
        text::Md5Prefix64(batch_.data(), shingles, hashes_.data());
        CountBits(hashes_.data(), shingles, ones);
      }
    } else {
      // Most shingles are views into the (lowered, stripped) text, which outlives the batch; one the
      // shingler joined in its scratch string is copied to arena_ and its view pointed there when the
      // batch is hashed (the arena may move while it grows).
      size_t used = 0;
      if (batch_.size() < kBatch) batch_.resize(kBatch);
      if (hashes_.size() < kBatch) hashes_.resize(kBatch);
      auto hash_batch = [&] {
        for (const auto& [i, off] : arena_refs_) batch_[i] = std::string_view(arena_.data() + off, batch_[i].size());
        text::Md5Prefix64(batch_.data(), used, hashes_.data());
        CountBits(hashes_.data(), used, ones);
        shingles += used;
        used = 0;
        arena_.clear();
        arena_refs_.clear();
      };
      shingler_.ForEach(text, [&](std::string_view sh) {
        if (shingler_.IsScratch(sh)) {
          arena_refs_.emplace_back(used, arena_.size());
          arena_.append(sh);
        }
        batch_[used++] = sh;
        if (used == kBatch) hash_batch();
      });
      hash_batch();
    }
    uint64_t v = 0;
    for (int k = 0; k < 64; ++k)
      if (2 * ones[k] > shingles) v |= uint64_t{1} << k;
    return __builtin_bswap64(v);
  }
  friend uint64_t sluice::SimHashValueGeneric(Op& op, std::string_view text);
  friend uint64_t sluice::SimHashValue(Op& op, std::string_view text);

  Shingler shingler_;
  int blocks_, distance_;
  std::unique_ptr<SpaceNormalizer> fast_;  // space tokenization with ignore_pattern null or \p{P}
  // Hash's shingles and their hashes (reused across samples: no per-record allocation once grown).
  static constexpr size_t kBatch = 256;
  std::vector<std::string_view> batch_;
  std::vector<uint64_t> hashes_;
  std::string arena_;
  std::vector<std::pair<size_t, size_t>> arena_refs_;  // (index in batch_, offset in arena_)
};

std::vector<ParamSpec> CommonShingleParams(const char* default_tokenization, int64_t default_window) {
  return {{"tokenization", ParamType::kString, ParamValue::String(default_tokenization),
           "how texts are cut into tokens: space, punctuation or character", false},
          {"window_size", ParamType::kInt, ParamValue::Int(default_window), "tokens per shingle", false},
          {"lowercase", ParamType::kBool, ParamValue::Bool(true), "lowercase texts first", false},
          {"ignore_pattern", ParamType::kString, ParamValue(),
           "regex (Python `regex` dialect) whose matches are removed first; null: none", true}};
}

}  // namespace

std::pair<int, int> MinHashOptimalBands(double threshold, int permutations) {
  double best = std::numeric_limits<double>::infinity();
  std::pair<int, int> opt{1, 1};
  for (int b = 1; b <= permutations; ++b) {
    for (int r = 1; r <= permutations / b; ++r) {
      double fp = Integrate([&](double s) { return 1 - std::pow(1 - std::pow(s, r), b); }, 0.0, threshold);
      double fn = Integrate([&](double s) { return std::pow(1 - std::pow(s, r), b); }, threshold, 1.0);
      double err = 0.5 * fp + 0.5 * fn;
      if (err < best) {  // strict: the first minimum wins
        best = err;
        opt = {b, r};
      }
    }
  }
  return opt;
}

std::vector<uint32_t> MinHashSignature(Op& op, std::string_view text) {
  auto& m = static_cast<MinHashDeduplicator&>(op);
  return m.Signature(text) ? m.sig_ : std::vector<uint32_t>{};
}

uint64_t SimHashValue(Op& op, std::string_view text) { return static_cast<SimHashDeduplicator&>(op).Hash(text); }
bool SimHashVectorPaths(bool enabled) { return g_simhash_vector.exchange(enabled); }
uint64_t SimHashValueGeneric(Op& op, std::string_view text) {
  return static_cast<SimHashDeduplicator&>(op).Hash(text, true);
}

void RegisterNearDeduplicators(std::vector<OpDef>& ops) {
  std::vector<ParamSpec> minhash = CommonShingleParams("space", 5);
  minhash[0].help = "how texts are cut into tokens: space, punctuation, character or sentencepiece (tokenizer_model)";
  minhash.push_back({"num_permutations", ParamType::kInt, ParamValue::Int(256), "MinHash permutations (at most 1024)", false});
  minhash.push_back({"jaccard_threshold", ParamType::kNumber, ParamValue::Double(0.7),
                     "Jaccard similarity the bands are tuned for when num_bands / num_rows_per_band are null", false});
  minhash.push_back({"num_bands", ParamType::kInt, ParamValue(), "LSH bands; null: chosen from jaccard_threshold", true});
  minhash.push_back({"num_rows_per_band", ParamType::kInt, ParamValue(), "rows per band; null: chosen from jaccard_threshold", true});
  minhash.push_back({"tokenizer_model", ParamType::kString, ParamValue(), "SentencePiece model file (required with tokenization: sentencepiece)", true});
  // DataJuicer's Ray twin: the same shingles, signatures, bands and union-find, distributed with BTS
  // union-find; it too keeps the sample with the smallest id of each group. Its knobs only steer Ray's
  // parallelism and batching, so they are checked for type and have no effect here.
  std::vector<ParamSpec> bts = minhash;
  for (const char* knob : {"union_find_parallel_num", "minhash_batch_size"})
    bts.push_back({knob, ParamType::kAny, ParamValue::String("auto"), "Ray parallelism/batching (int or 'auto'); no effect in sluice"});
  for (auto [knob, v] : {std::pair{"union_threshold", 256}, {"max_pending_edge_buffer_task", 20}, {"num_edge_buffer_task_returns", 10},
                         {"max_pending_filter_tasks", 20}, {"num_filter_task_returns", 10}, {"merge_batch_size", 1000}})
    bts.push_back({knob, ParamType::kInt, ParamValue::Int(v), "Ray task tuning; no effect in sluice"});
  bts.push_back({"memory_per_sample", ParamType::kNumber, ParamValue::Double(0.1), "Ray GPU batch sizing (MB); no effect in sluice"});
  ops.push_back({"document_minhash_deduplicator", OpKind::kDeduplicator,
                 "drop near duplicates: MinHash LSH over shingles, keeping the first sample of each connected group",
                 std::move(minhash), [](const Params& p) { return MakeMinHash("document_minhash_deduplicator", p); }});
  ops.push_back({"ray_bts_minhash_deduplicator", OpKind::kDeduplicator,
                 "document_minhash_deduplicator under DataJuicer's Ray name (its Ray tuning knobs have no effect)",
                 std::move(bts), [](const Params& p) {
                   for (const char* knob : {"union_find_parallel_num", "minhash_batch_size"}) {
                     const ParamValue& v = p.Get(knob);
                     bool ok = v.type() == ParamValue::Type::kInt ||
                               (v.type() == ParamValue::Type::kString && v.as_string() == "auto");
                     if (!ok) Fail(ErrorKind::kUsage, "ray_bts_minhash_deduplicator: {} must be an integer or 'auto'", knob);
                   }
                   return MakeMinHash("ray_bts_minhash_deduplicator", p);
                 }});

  std::vector<ParamSpec> simhash = CommonShingleParams("space", 6);
  simhash.push_back({"num_blocks", ParamType::kInt, ParamValue::Int(6), "blocks of the permutation search", false});
  simhash.push_back({"hamming_distance", ParamType::kInt, ParamValue::Int(4),
                     "simhashes at most this many bits apart are duplicates (transitively)", false});
  ops.push_back({"document_simhash_deduplicator", OpKind::kDeduplicator,
                 "drop near duplicates: 64-bit SimHash, clustering hashes within a Hamming distance, keeping the first",
                 std::move(simhash), [](const Params& p) { return std::make_unique<SimHashDeduplicator>(p); }});
}

}  // namespace sluice
