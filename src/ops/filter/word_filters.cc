// Word-level filters: words_num_filter, word_repetition_filter (datajuicer-ops.md §5, §2.3).
//
// Contract (words = split_on_whitespace(text, new_line=true, tab=true), §2.3):
//   words_num_filter: num_words = number of words that are non-empty after stripping SPECIAL_CHARACTERS
//     from both ends (no lowercasing). Keep if num_words in [min_num, max_num].
//   word_repetition_filter: words refined with lowercasing + special-character stripping (empty words
//     dropped); n-grams = rep_len consecutive words joined by ' '; word_rep_ratio = (sum of the
//     frequencies of n-grams occurring more than once) / (number of n-grams); 0.0 when there are fewer
//     than rep_len words. Keep if in [min_ratio, max_ratio].
//   `tokenization: true`: words = the SentencePiece pieces of the text (sentencepiece_tokenizer.h; model from
//   `tokenizer_model` or <lang>.sp.model, found when the op is constructed), kept with their '▁' markers,
//   then refined exactly as above, each piece as one word. A piece may hold a space (a model trained with
//   escape_whitespaces=false): DataJuicer's n-grams are then the strings ' '.join makes of the refined pieces,
//   so piece sequences that join to the same string are one n-gram.
//   `lang` only selects the tokenizer model.
// Both skip the computation when their stats key is already present (§1.3). Word n-grams are hashed by a
// rolling hash over per-word hashes; counts are exact (byte comparison of the joined n-grams, only for the
// n-grams a branch-free prefilter cannot prove unique; see ngram_counter.h). When a piece holds a space the
// rolling hash would tell apart n-grams that join to the same string: they are hashed from those strings.
#include <xxhash.h>

#include <algorithm>

#include "core/sample.h"
#include "ops/filter/filter_util.h"
#include "ops/op.h"
#include "ops/text/analysis.h"
#include "ops/text/ngram_counter.h"
#include "ops/text/sentencepiece_tokenizer.h"
#include "ops/text/words.h"

namespace sluice {
namespace {

class WordsNumFilter : public Filter {
 public:
  explicit WordsNumFilter(const Params& p)
      : Filter("words_num_filter", p),
        lo_(OptionalNumber(p, "min_num")),
        hi_(OptionalNumber(p, "max_num")),
        tokenizer_(text::TokenizerFromParams(p, "words_num_filter")) {}

  void ComputeStats(Sample& s) override {
    if (Cached(s, "num_words")) return;
    int64_t n = 0;
    if (tokenizer_) {
      const auto& pieces = tokenizer_->EncodeShared(FilterText(s, slot()));
      for (size_t i = 0; i < pieces.size(); ++i) n += !pieces[i].empty() && text::HasNonSpecial(pieces[i]);
    } else {
      n = static_cast<int64_t>(text::CountNonSpecialWords(FilterText(s, slot()), true, true));
    }
    s.stats.SetInt("num_words", n);
  }

  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, "num_words"), lo_, hi_); }

 private:
  std::optional<double> lo_, hi_;
  std::shared_ptr<const text::SentencePieceTokenizer> tokenizer_;  // null without tokenization
};

class WordRepetitionFilter : public Filter {
 public:
  explicit WordRepetitionFilter(const Params& p)
      : Filter("word_repetition_filter", p),
        n_(static_cast<size_t>(PositiveInt(p, "rep_len", "word_repetition_filter"))),
        lo_(OptionalNumber(p, "min_ratio")),
        hi_(OptionalNumber(p, "max_ratio")),
        tokenizer_(text::TokenizerFromParams(p, "word_repetition_filter")) {
    opt_.lower_case = true;
    opt_.strip_special = true;
    opt_.hash_words = true;
    if (tokenizer_) opt_.new_line = opt_.tab = false;  // RefinePieces' condition
    opt_lowered_ = opt_;
    opt_lowered_.lower_case = false;
    opt_lowered_.padded = true;  // TextAnalysis::lowered() is
  }

  void ComputeStats(Sample& s) override {
    if (Cached(s, "word_rep_ratio")) return;
    const std::string& t = FilterText(s, slot());
    if (!tokenizer_) {
      // Inside a chain the lowercased text comes from the record's shared analysis (ops/text/analysis.h;
      // document_simhash_deduplicator lowercases it too): refining it without lowering is the same.
      if (auto* a = text::TextAnalysis::Of(s, slot())) s.stats.SetDouble("word_rep_ratio", Ratio(a->lowered(), opt_lowered_));
      else s.stats.SetDouble("word_rep_ratio", Ratio(t, opt_));
      return;
    }
    bool whole = text::RefinePieces(tokenizer_->EncodeShared(t), opt_, pieces_, words_);
    s.stats.SetDouble("word_rep_ratio", RatioOfWords(whole));
  }

  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, "word_rep_ratio"), lo_, hi_); }

 private:
  double Ratio(std::string_view t, const text::RefineOptions& opt) {
    text::RefineWords(t, opt, words_);
    return RatioOfWords(false);
  }

  // The ratio over words_; by_string: an n-gram's hash is that of its joined string (words may hold spaces),
  // else a rolling hash of its word hashes.
  double RatioOfWords(bool by_string) {
    size_t w = words_.size();
    if (w < n_) return 0.0;
    size_t grams = w - n_ + 1;
    if (by_string) {
      gram_hashes_.resize(grams);
      for (size_t i = 0; i < grams; ++i) {
        std::string_view g = words_.Joined(i, i + n_);
        gram_hashes_[i] = XXH3_64bits(g.data(), g.size());
      }
      return CountRepeats(grams);
    }
    // Polynomial rolling hash over the word hashes; equality is decided on the joined bytes. The grams are
    // cut into 4 stretches rolled independently (a rolling step is a chain of dependent multiplies, so
    // one chain would leave the core idle).
    constexpr uint64_t kB = 0x100000001B3ull;
    uint64_t top = 1;
    for (size_t k = 1; k < n_; ++k) top *= kB;
    gram_hashes_.resize(grams);
    uint64_t* gh = gram_hashes_.data();
    constexpr size_t kChains = 4;
    const size_t stretch = (grams + kChains - 1) / kChains;
    size_t at[kChains], end[kChains];
    uint64_t h[kChains];
    for (size_t c = 0; c < kChains; ++c) {
      at[c] = std::min(grams, c * stretch);
      end[c] = std::min(grams, at[c] + stretch);
      h[c] = 0;
      if (at[c] < end[c]) {
        for (size_t k = 0; k < n_; ++k) h[c] = h[c] * kB + words_.hash(at[c] + k);
        gh[at[c]] = h[c];
      }
    }
    for (size_t step = 1; step < stretch; ++step)
      for (size_t c = 0; c < kChains; ++c) {
        size_t i = at[c] + step;
        if (i >= end[c]) continue;
        h[c] = (h[c] - words_.hash(i - 1) * top) * kB + words_.hash(i - 1 + n_);
        gh[i] = h[c];
      }
    return CountRepeats(grams);
  }

  // The ratio from gram_hashes_ (equal n-grams have equal hashes).
  double CountRepeats(size_t grams) {
    // Only n-grams whose hash bucket is hit twice can repeat; count those exactly.
    const auto& cand = prefilter_.Candidates(gram_hashes_.data(), grams);
    auto eq = [this](uint32_t a, uint32_t b) { return words_.Joined(a, a + n_) == words_.Joined(b, b + n_); };
    counter_.Reset(cand.size());
    for (uint32_t g : cand) counter_.Add(g, gram_hashes_[g], eq);
    // Occurrences of n-grams seen more than once = all occurrences minus the n-grams seen once.
    size_t singles = (grams - cand.size()) + counter_.singles();
    return static_cast<double>(grams - singles) / static_cast<double>(grams);
  }

  size_t n_;
  std::optional<double> lo_, hi_;
  std::shared_ptr<const text::SentencePieceTokenizer> tokenizer_;  // null without tokenization
  text::PieceScratch pieces_;
  text::RefineOptions opt_, opt_lowered_;  // opt_lowered_: for text already lowercased
  text::WordList words_;
  std::vector<uint64_t> gram_hashes_;  // per n-gram
  text::NgramCounter counter_;
  text::RepeatPrefilter prefilter_;
};

std::vector<ParamSpec> TokenizationParams() {
  return {{"lang", ParamType::kString, ParamValue::String("en"), "language of the tokenizer model (only used with tokenization)"},
          {"tokenization", ParamType::kBool, ParamValue::Bool(false),
           "split with the SentencePiece model <lang>.sp.model instead of whitespace", false},
          text::TokenizerModelParam()};
}

}  // namespace

void RegisterWordFilters(std::vector<OpDef>& ops) {
  auto words_num = TokenizationParams();
  words_num.push_back({"min_num", ParamType::kInt, ParamValue::Int(10), "minimum number of words"});
  words_num.push_back({"max_num", ParamType::kInt, ParamValue::Int(kMaxSizeInt), "maximum number of words (default sys.maxsize)"});
  ops.push_back({"words_num_filter", OpKind::kFilter, "keep samples whose number of words is in [min_num, max_num]",
                 std::move(words_num), [](const Params& p) { return std::make_unique<WordsNumFilter>(p); }});

  auto word_rep = TokenizationParams();
  word_rep.push_back({"rep_len", ParamType::kInt, ParamValue::Int(10), "n-gram length in words", false});
  word_rep.push_back({"min_ratio", ParamType::kNumber, ParamValue::Double(0.0), "minimum ratio"});
  word_rep.push_back({"max_ratio", ParamType::kNumber, ParamValue::Double(0.5), "maximum ratio"});
  ops.push_back({"word_repetition_filter", OpKind::kFilter,
                 "keep samples whose word n-gram repetition ratio is in [min_ratio, max_ratio]", std::move(word_rep),
                 [](const Params& p) { return std::make_unique<WordRepetitionFilter>(p); }});
}

}  // namespace sluice
