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
//   then refined exactly as above. The pieces never contain a space (checked at load), so word_repetition
//   joins them with spaces and refines that with space as the only separator.
//   `lang` only selects the tokenizer model.
// Both skip the computation when their stats key is already present (§1.3). Word n-grams are hashed by a
// rolling hash over per-word hashes; counts are exact (byte comparison of the joined n-grams, only for the
// n-grams a branch-free prefilter cannot prove unique; see ngram_counter.h).
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
    if (tokenizer_) opt_.new_line = opt_.tab = false;  // the pieces are joined by single spaces
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
    const auto& pieces = tokenizer_->EncodeShared(t);
    joined_.clear();
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i) joined_ += ' ';
      joined_ += pieces[i];
    }
    s.stats.SetDouble("word_rep_ratio", Ratio(joined_, opt_));
  }

  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, "word_rep_ratio"), lo_, hi_); }

 private:
  double Ratio(std::string_view t, const text::RefineOptions& opt) {
    text::RefineWords(t, opt, words_);
    size_t w = words_.size();
    if (w < n_) return 0.0;
    size_t grams = w - n_ + 1;
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
  std::string joined_;  // ' '.join(pieces)
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
