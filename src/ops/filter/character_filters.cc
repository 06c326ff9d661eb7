// Character-level filters: alphanumeric_filter, character_repetition_filter, special_characters_filter
// (datajuicer-ops.md §5).
//
// Contract (len = code points; ratios are 0.0 when the denominator is 0):
//   alphanumeric_filter: alnum_ratio = #{c in text : c.isalnum()} / len(text) (Python isalnum: CJK, ①, ²,
//     fullwidth digits count; emoji, punctuation, spaces do not). Keep if alnum_ratio in [min_ratio, max_ratio].
//     `tokenization: true`: alpha_token_ratio = #{c in text : c.isalpha()} / #tokens, the tokens of
//     DataJuicer's Hugging Face tokenizer EleutherAI/pythia-6.9b-deduped (len(tokenizer.tokenize(text)),
//     text::BpeTokenizer over its tokenizer.json: `tokenizer_model`, else
//     EleutherAI/pythia-6.9b-deduped/tokenizer.json or pythia-6.9b-deduped/tokenizer.json in SLUICE_MODELS_DIR;
//     missing: kUsage at construction); 0.0 when there are no tokens. Keep if in [min_ratio, max_ratio].
//   character_repetition_filter: over the code-point n-grams text[i:i+rep_len] (overlapping), with U the
//     number of distinct n-grams, S those occurring once, F the frequencies sorted descending and
//     k = min(floor(sqrt(U)), U - S): char_rep_ratio = sum(F[:k]) / sum(F); 0.0 when len < rep_len.
//     Keep if in [min_ratio, max_ratio].
//   special_characters_filter: special_char_ratio = #{c in text : c in SPECIAL_CHARACTERS (§2.4)} / len(text)
//     (spaces, digits and ASCII punctuation are special). Keep if in [min_ratio, max_ratio].
// All skip the computation when their stats key is already present (§1.3). N-gram counts are exact
// (ngram_counter.h): a branch-free prefilter over the n-gram hashes sets aside the n-grams that certainly
// occur once, and only the rest is counted in a table -- ASCII n-grams of up to 16 characters keyed by
// their bytes, others by a hash plus byte comparison. All buffers are reused across records.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "core/sample.h"
#include "ops/filter/filter_util.h"
#include "ops/op.h"
#include "ops/text/bpe_tokenizer.h"
#include "ops/text/model_files.h"
#include "ops/text/analysis.h"
#include "ops/text/ngram_counter.h"
#include "ops/text/pystr.h"
#include "ops/text/simd.h"
#include "ops/text/special_chars.h"
#include "core/utf8.h"

namespace sluice {
namespace {

struct AsciiAlnumTable {
  uint8_t v[128] = {};
  constexpr AsciiAlnumTable() {
    for (int c = '0'; c <= '9'; ++c) v[c] = 1;
    for (int c = 'a'; c <= 'z'; ++c) v[c] = v[c - 32] = 1;
  }
  uint8_t operator[](unsigned char c) const { return v[c]; }
};
constexpr AsciiAlnumTable kAsciiAlnum;

class AlphanumericFilter : public Filter {
 public:
  explicit AlphanumericFilter(const Params& p)
      : Filter("alphanumeric_filter", p), lo_(OptionalNumber(p, "min_ratio")), hi_(OptionalNumber(p, "max_ratio")) {
    if (p.GetBool("tokenization")) {
      text::ModelQuery q{"alphanumeric_filter", "Hugging Face tokenizer file",
                         "tokenizer_model", p.GetString("tokenizer_model"),
                         {"EleutherAI/pythia-6.9b-deduped/tokenizer.json", "pythia-6.9b-deduped/tokenizer.json"}};
      tokenizer_ = text::BpeTokenizer::Load(text::ResolveModelFile(q));
    }
  }

  void ComputeStats(Sample& s) override {
    if (tokenizer_) {
      if (Cached(s, "alpha_token_ratio")) return;
      const std::string& t = FilterText(s, slot());
      size_t alpha = 0;
      for (size_t i = 0; i < t.size();) alpha += text::IsPyAlpha(utf8::Next(t, i));
      size_t tokens = tokenizer_->CountTokens(t);
      s.stats.SetDouble("alpha_token_ratio",
                        tokens == 0 ? 0.0 : static_cast<double>(alpha) / static_cast<double>(tokens));
      return;
    }
    if (Cached(s, "alnum_ratio")) return;
    const std::string& t = FilterText(s, slot());
    size_t len = 0, alnum = 0, i = 0, n = t.size();
    const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
    auto step = [&] {  // one code point at t[i]
      alnum += p[i] < 0x80 ? kAsciiAlnum[p[i++]] : text::IsPyAlnumNonAscii(utf8::Next(t, i));
      ++len;
    };
    while (i + 32 <= n) {
      const char* block = t.data() + i;
      if (text::NonAscii32(block) == 0) {  // 32 ASCII characters
        alnum += static_cast<size_t>(__builtin_popcount(text::AsciiAlnum32(block)));
        len += 32;
        i += 32;
        continue;
      }
      for (size_t end = i + 32; i < end;) step();  // a character may straddle the block end
    }
    while (i < n) step();
    s.stats.SetDouble("alnum_ratio", len == 0 ? 0.0 : static_cast<double>(alnum) / static_cast<double>(len));
  }

  bool Keep(const Sample& s) const override {
    return InRange(StatNumber(s, tokenizer_ ? "alpha_token_ratio" : "alnum_ratio"), lo_, hi_);
  }

 private:
  std::optional<double> lo_, hi_;
  std::shared_ptr<const text::BpeTokenizer> tokenizer_;  // tokenization: true
};

// Positions of the first 8 set bits of every byte value, for CodePointStarts.
struct BitPositions {
  uint8_t pos[256][8] = {};
  constexpr BitPositions() {
    for (int m = 0; m < 256; ++m) {
      int k = 0;
      for (int b = 0; b < 8; ++b)
        if (m & (1 << b)) pos[m][k++] = static_cast<uint8_t>(b);
    }
  }
};
constexpr BitPositions kBitPositions;

// Writes the byte offset of every code point start of p[0, size) to off (which has room for size + 8
// entries) and returns how many there are. 8 bytes at a time: a mask of the non-continuation bytes
// selects their positions from a table, written 8-wide.
size_t CodePointStarts(const unsigned char* p, size_t size, uint32_t* off) {
  size_t len = 0, i = 0;
#if defined(__AVX2__)
  for (; i + 8 <= size; i += 8) {
    uint64_t x;
    std::memcpy(&x, p + i, 8);
    uint64_t cont = x & ~(x << 1) & 0x8080808080808080ull;  // bit 7 set, bit 6 clear: a continuation byte
    unsigned starts = ~static_cast<unsigned>(((cont >> 7) * 0x0102040810204080ull) >> 56) & 0xFF;
    __m256i at = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(kBitPositions.pos[starts])));
    at = _mm256_add_epi32(at, _mm256_set1_epi32(static_cast<int>(i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(off + len), at);
    len += static_cast<size_t>(__builtin_popcount(starts));
  }
#endif
  for (; i < size; ++i) {
    off[len] = static_cast<uint32_t>(i);
    len += (p[i] & 0xC0) != 0x80;
  }
  return len;
}

class CharacterRepetitionFilter : public Filter {
 public:
  explicit CharacterRepetitionFilter(const Params& p)
      : Filter("character_repetition_filter", p),
        n_(static_cast<size_t>(PositiveInt(p, "rep_len", "character_repetition_filter"))),
        lo_(OptionalNumber(p, "min_ratio")),
        hi_(OptionalNumber(p, "max_ratio")) {}

  void ComputeStats(Sample& s) override {
    if (Cached(s, "char_rep_ratio")) return;
    const std::string& t = FilterText(s, slot());
    auto* a = text::TextAnalysis::Of(s, slot());  // inside a chain: is_ascii shared with other ops
    s.stats.SetDouble("char_rep_ratio", Ratio(t, a != nullptr ? a->is_ascii() : text::IsAscii(t)));
  }

  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, "char_rep_ratio"), lo_, hi_); }

 private:
  double Ratio(const std::string& t, bool ascii) {
    if (t.size() >= UINT32_MAX) Fail(ErrorKind::kInput, "text too large for character_repetition_filter (4 GiB)");
    const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
    size_t size = t.size();
    if (ascii) {
      if (size < n_) return 0.0;
      size_t grams = size - n_ + 1;
      hashes_.resize(grams);
      if (n_ <= 16) {
        uint64_t a, b;
        for (size_t g = 0; g < grams; ++g) {
          Key16(p, size, g, &a, &b);
          hashes_[g] = text::Ngram16Counter::Hash(a, b);
        }
        const auto& cand = prefilter_.Candidates(hashes_.data(), grams);
        counter16_.Reset(cand.size());
        for (uint32_t g : cand) {
          Key16(p, size, g, &a, &b);
          counter16_.Add(a, b);
        }
        return Finish(grams, grams - cand.size(), counter16_);
      }
      for (size_t g = 0; g < grams; ++g) hashes_[g] = XXH3_64bits(p + g, n_);
      const auto& cand = prefilter_.Candidates(hashes_.data(), grams);
      counter_.Reset(cand.size());
      auto eq = [p, n = n_](uint32_t a, uint32_t b) { return text::BytesEqual(p + a, p + b, n); };
      for (uint32_t g : cand) counter_.Add(g, hashes_[g], eq);
      return Finish(grams, grams - cand.size(), counter_);
    }
    // Code point starts (offs_[len] = size), then one n-gram per start. An n-gram of n bytes is all ASCII
    // and goes, exactly keyed, to counter16_; the others (never equal to those: more bytes) are hashed
    // into counter_ and compared by bytes.
    offs_.resize(size + 9);  // + 8: the 8-wide stores below may write past the last start
    uint32_t* off = offs_.data();
    size_t len = CodePointStarts(p, size, off);
    off[len] = static_cast<uint32_t>(size);
    if (len < n_) return 0.0;
    size_t grams = len - n_ + 1;
    hashes_.resize(grams);
    for (size_t g = 0; g < grams; ++g) {
      size_t s = off[g], l = off[g + n_] - s;
      if (n_ <= 16 && l == n_) {
        uint64_t a, b;
        Key16(p, size, s, &a, &b);
        hashes_[g] = text::Ngram16Counter::Hash(a, b);
      } else {
        hashes_[g] = XXH3_64bits(p + s, l);
      }
    }
    const auto& cand = prefilter_.Candidates(hashes_.data(), grams);
    counter16_.Reset(cand.size());
    counter_.Reset(cand.size());
    auto eq = [p, off, n = n_](uint32_t a, uint32_t b) {
      uint32_t la = off[a + n] - off[a], lb = off[b + n] - off[b];
      return la == lb && text::BytesEqual(p + off[a], p + off[b], la);
    };
    for (uint32_t g : cand) {
      size_t s = off[g], l = off[g + n_] - s;
      if (n_ <= 16 && l == n_) {
        uint64_t a, b;
        Key16(p, size, s, &a, &b);
        counter16_.Add(a, b);
      } else {
        counter_.Add(g, hashes_[g], eq);
      }
    }
    return Finish(grams, grams - cand.size(), counter16_, counter_);
  }

  // The exact 16-byte key of the ASCII n-gram p[i, i + n_) (n_ <= 16): two overlapping 8-byte loads, or
  // the n_ bytes zero-extended when n_ < 8.
  void Key16(const unsigned char* p, size_t size, size_t i, uint64_t* a, uint64_t* b) const {
    static_assert(std::endian::native == std::endian::little);
    if (n_ >= 8) {
      std::memcpy(a, p + i, 8);
      std::memcpy(b, p + i + n_ - 8, 8);
      return;
    }
    *a = 0;
    *b = 0;
    if (i + 8 <= size) {
      std::memcpy(a, p + i, 8);
      *a &= (uint64_t{1} << (8 * n_)) - 1;  // little-endian: the first n bytes are the low ones
    } else {
      std::memcpy(a, p + i, n_);
    }
  }

  // The top-k rule of the contract over the union of the counters' (disjoint) n-gram sets plus `outside`
  // n-grams the prefilter proved to be singletons.
  template <class... Counters>
  double Finish(size_t grams, size_t outside, const Counters&... cs) {
    size_t distinct = outside + (cs.distinct() + ...), singles = outside + (cs.singles() + ...);
    rep_.clear();
    (cs.ForEachRepeatedCount([&](uint32_t c) { rep_.push_back(c); }), ...);
    size_t k = std::min(static_cast<size_t>(std::sqrt(static_cast<double>(distinct))), distinct - singles);
    if (k < rep_.size()) std::nth_element(rep_.begin(), rep_.begin() + static_cast<ptrdiff_t>(k), rep_.end(), std::greater<>());
    uint64_t top_sum = 0;
    for (size_t j = 0; j < k; ++j) top_sum += rep_[j];
    return static_cast<double>(top_sum) / static_cast<double>(grams);
  }

  size_t n_;
  std::optional<double> lo_, hi_;
  text::NgramCounter counter_;
  text::Ngram16Counter counter16_;
  text::RepeatPrefilter prefilter_;
  std::vector<uint32_t> offs_;
  std::vector<uint64_t> hashes_;
  std::vector<uint32_t> rep_;
};

// Bit k set iff p[k] (an ASCII byte) is a SPECIAL_CHARACTER: \t-\r, ' '-'@' (space, punctuation, digits),
// '['-'`' and '{'-'~' (tests/ops check this against IsSpecialChar).
inline uint32_t AsciiSpecial32(const char* p) {
#if defined(__AVX2__)
  __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  auto in_range = [&](char lo, char hi) {  // lo <= v <= hi for bytes < 0x80
    return _mm256_and_si256(_mm256_cmpgt_epi8(v, _mm256_set1_epi8(static_cast<char>(lo - 1))),
                            _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(hi + 1)), v));
  };
  __m256i m = _mm256_or_si256(_mm256_or_si256(in_range('\t', '\r'), in_range(' ', '@')),
                              _mm256_or_si256(in_range('[', '`'), in_range('{', '~')));
  return static_cast<uint32_t>(_mm256_movemask_epi8(m));
#else
  uint32_t bits = 0;
  for (int k = 0; k < 32; ++k) bits |= static_cast<uint32_t>(text::IsSpecialChar(static_cast<unsigned char>(p[k]))) << k;
  return bits;
#endif
}

class SpecialCharactersFilter : public Filter {
 public:
  explicit SpecialCharactersFilter(const Params& p)
      : Filter("special_characters_filter", p), lo_(OptionalNumber(p, "min_ratio")), hi_(OptionalNumber(p, "max_ratio")) {}

  void ComputeStats(Sample& s) override {
    if (Cached(s, "special_char_ratio")) return;
    const std::string& t = FilterText(s, slot());
    size_t len = 0, special = 0, i = 0, n = t.size();
    auto step = [&] {  // one code point at t[i]
      special += text::IsSpecialChar(utf8::Next(t, i));
      ++len;
    };
    while (i + 32 <= n) {
      const char* block = t.data() + i;
      if (text::NonAscii32(block) == 0) {  // 32 ASCII characters
        special += static_cast<size_t>(__builtin_popcount(AsciiSpecial32(block)));
        len += 32;
        i += 32;
        continue;
      }
      for (size_t end = i + 32; i < end;) step();  // a character may straddle the block end
    }
    while (i < n) step();
    s.stats.SetDouble("special_char_ratio", len == 0 ? 0.0 : static_cast<double>(special) / static_cast<double>(len));
  }

  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, "special_char_ratio"), lo_, hi_); }

 private:
  std::optional<double> lo_, hi_;
};

}  // namespace

void RegisterCharacterFilters(std::vector<OpDef>& ops) {
  ops.push_back({"alphanumeric_filter", OpKind::kFilter,
                 "keep samples whose ratio of alphanumeric characters (Python isalnum) is in [min_ratio, max_ratio]",
                 {{"tokenization", ParamType::kBool, ParamValue::Bool(false),
                   "ratio of alphabetic characters (isalpha) to the tokens of the Hugging Face tokenizer "
                   "EleutherAI/pythia-6.9b-deduped (stats key alpha_token_ratio)", false},
                  {"min_ratio", ParamType::kNumber, ParamValue::Double(0.25), "minimum ratio"},
                  {"max_ratio", ParamType::kNumber, ParamValue::Double(kMaxSizeFloat), "maximum ratio (default sys.maxsize)"},
                  {"tokenizer_model", ParamType::kString, ParamValue::String(""),
                   "sluice: path of the tokenizer.json used with tokenization (default: "
                   "EleutherAI/pythia-6.9b-deduped/tokenizer.json or pythia-6.9b-deduped/tokenizer.json in "
                   "SLUICE_MODELS_DIR)"}},
                 [](const Params& p) { return std::make_unique<AlphanumericFilter>(p); }});
  ops.push_back({"character_repetition_filter", OpKind::kFilter,
                 "keep samples whose character n-gram repetition ratio is in [min_ratio, max_ratio]",
                 {{"rep_len", ParamType::kInt, ParamValue::Int(10), "n-gram length in characters", false},
                  {"min_ratio", ParamType::kNumber, ParamValue::Double(0.0), "minimum ratio"},
                  {"max_ratio", ParamType::kNumber, ParamValue::Double(0.5), "maximum ratio"}},
                 [](const Params& p) { return std::make_unique<CharacterRepetitionFilter>(p); }});
  ops.push_back({"special_characters_filter", OpKind::kFilter,
                 "keep samples whose ratio of special characters (punctuation, digits, whitespace, emoji, ...) is in "
                 "[min_ratio, max_ratio]",
                 {{"min_ratio", ParamType::kNumber, ParamValue::Double(0.0), "minimum ratio"},
                  {"max_ratio", ParamType::kNumber, ParamValue::Double(0.25), "maximum ratio"}},
                 [](const Params& p) { return std::make_unique<SpecialCharactersFilter>(p); }});
}

}  // namespace sluice
