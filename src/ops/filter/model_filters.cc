// Model-based filters (datajuicer-ops.md §6): language_id_score_filter (fastText), perplexity_filter
// (SentencePiece + a KenLM-compatible n-gram model), token_num_filter (a Hugging Face BPE tokenizer). Models are local files found when the op is constructed
// (model_files.h), loaded once per process and shared by all worker threads.
//
// Contract:
//   language_id_score_filter: input = text.lower() with every '\n' replaced by ' ', given to fastText as one
//     line (the Python binding appends '\n', which fastText reads as its end-of-sentence token). Top-1
//     prediction: stats `lang` = its label with every "__label__" removed (a JSON string), `lang_score` = its
//     probability (the float fastText computes, widened to double). Both are skipped when both are cached.
//     Keep iff (lang is empty, or the label is one of lang -- a string or a list of strings) and lang_score
//     passes [min_score, no upper bound] with §1.4's closedness / reversed_range; reversed_range never
//     inverts the language test. A text for which the model predicts nothing is an error for that sample.
//   perplexity_filter: pieces = SentencePiece pieces of the raw text; s = ' '.join(pieces); over the lines of
//     s.splitlines(): logsum += NgramLm::ScoreSentence(line) (bos/eos), n += len(line.split()) + 1 (Python
//     str.split: Unicode whitespace); perplexity = round(10 ** (-logsum / n), 1), 0.0 when n = 0. A finite
//     exponent that overflows a double is an error for that sample (Python raises OverflowError). Keep iff
//     perplexity in [min_ppl, max_ppl].
// Model files: language_id_score_filter reads `model_path` or lid.176.bin; perplexity_filter reads
// `tokenizer_model` or <lang>.sp.model, and `lm_model` or <lang>.arpa, then DataJuicer's <lang>.arpa.bin (read
// by content: a KenLM binary file of any type build_binary writes, or ARPA text under that name). Names are
// looked up in SLUICE_MODELS_DIR.
#include <fasttext/fasttext.h>
#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <cstdio>
#include <cstdlib>
#include <istream>
#include <streambuf>

#include "core/json_writer.h"
#include "core/sample.h"
#include "ops/filter/filter_util.h"
#include "ops/op.h"
#include "ops/text/bpe_tokenizer.h"
#include "ops/text/model_files.h"
#include "ops/text/ngram_lm.h"
#include "ops/text/pystr.h"
#include "ops/text/sentencepiece_tokenizer.h"
#include "core/utf8.h"

namespace sluice {
namespace {

// A fastText model with its labels as DataJuicer reports them.
struct LanguageModel {
  fasttext::FastText ft;
  std::vector<std::string> labels;  // label id -> label without "__label__"

  static std::shared_ptr<const LanguageModel> Load(const std::string& path) {
    return text::CachedModel<LanguageModel>(path, [](const std::string& file) {
      auto m = std::make_shared<LanguageModel>();
      try {
        m->ft.loadModel(file);
      } catch (const std::exception& e) {
        Fail(ErrorKind::kUsage, "cannot load the fastText model {}: {}", file, e.what());
      }
      if (m->ft.getArgs().model != fasttext::model_name::sup)
        Fail(ErrorKind::kUsage, "the fastText model {} is not a supervised (classification) model", file);
      auto dict = m->ft.getDictionary();
      for (int32_t i = 0; i < dict->nlabels(); ++i) {
        std::string l = dict->getLabel(i);
        for (size_t at; (at = l.find("__label__")) != std::string::npos;) l.erase(at, 9);
        m->labels.push_back(std::move(l));
      }
      return std::shared_ptr<const LanguageModel>(std::move(m));
    });
  }
};

// An istream source over a buffer owned by the caller, so fastText reads the text without a copy.
class ViewBuf : public std::streambuf {
 public:
  void Reset(std::string& s) { setg(s.data(), s.data(), s.data() + s.size()); }

 protected:
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override {
    char* target = (dir == std::ios_base::beg ? eback() : dir == std::ios_base::cur ? gptr() : egptr()) + off;
    if (target < eback() || target > egptr()) return pos_type(off_type(-1));
    setg(eback(), target, egptr());
    return pos_type(target - eback());
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }
};

class LanguageIdScoreFilter : public Filter {
 public:
  explicit LanguageIdScoreFilter(const Params& p)
      : Filter("language_id_score_filter", p), min_score_(OptionalNumber(p, "min_score")), in_(&buf_) {
    // DataJuicer: a non-empty string is a one-language list; "" (or an empty list, or null) keeps any language.
    const ParamValue& lang = p.Get("lang");
    if (lang.type() == ParamValue::Type::kList || !lang.as_string().empty()) langs_ = p.GetStringList("lang");
    for (const auto& l : langs_) AppendJsonString(langs_json_.emplace_back(), l);
    text::ModelQuery q{"language_id_score_filter", "fastText language-id model", "model_path",
                       p.GetString("model_path"), {"lid.176.bin"}};
    model_ = LanguageModel::Load(text::ResolveModelFile(q));
    dict_ = model_->ft.getDictionary();
  }

  void ComputeStats(Sample& s) override {
    if (Cached(s, "lang") && Cached(s, "lang_score")) return;
    const std::string& t = FilterText(s, slot());
    input_.clear();
    text::PyLowerAppend(t, input_);
    for (char& c : input_)
      if (c == '\n') c = ' ';
    input_ += '\n';
    buf_.Reset(input_);
    in_.clear();
    dict_->getLine(in_, words_, labels_);
    predictions_.clear();
    model_->ft.predict(1, words_, predictions_, 0.0f);
    if (predictions_.empty()) Fail(ErrorKind::kData, "language_id_score_filter: fastText predicted no label");
    StatValue& lang = s.stats.Set("lang");
    lang.kind = StatValue::Kind::kRaw;
    lang.raw.clear();
    AppendJsonString(lang.raw, model_->labels[static_cast<size_t>(predictions_[0].second)]);
    float score = std::exp(predictions_[0].first);
    s.stats.SetDouble("lang_score", static_cast<double>(score));
  }

  bool Keep(const Sample& s) const override {
    if (!langs_.empty() && !LangListed(s)) return false;  // the membership test is never reversed
    return InRange(StatNumber(s, "lang_score"), min_score_, std::nullopt);
  }

 private:
  bool LangListed(const Sample& s) const {
    const StatValue* v = s.stats.Find("lang");
    if (v == nullptr || v->kind != StatValue::Kind::kRaw) return false;  // a cached non-string is no label
    if (v->raw.find('\\') == std::string::npos) {
      for (const auto& j : langs_json_)
        if (v->raw == j) return true;
      return false;
    }
    // A cached value with escapes: compare the decoded string.
    simdjson::dom::parser parser;
    auto e = parser.parse(v->raw);
    std::string_view str;
    if (e.error() || e.value_unsafe().get_string().get(str)) return false;
    for (const auto& l : langs_)
      if (str == l) return true;
    return false;
  }

  std::optional<double> min_score_;
  std::vector<std::string> langs_, langs_json_;
  std::shared_ptr<const LanguageModel> model_;
  std::shared_ptr<const fasttext::Dictionary> dict_;  // model_'s
  // Per-record scratch, reused.
  std::string input_;
  ViewBuf buf_;
  std::istream in_;
  std::vector<int32_t> words_, labels_;
  fasttext::Predictions predictions_;
};

// Python's round(x, 1): the decimal string correctly rounded (ties to even on the exact binary value), read back.
double PyRound1(double x) {
  if (!std::isfinite(x)) return x;
  char buf[400];
  std::snprintf(buf, sizeof buf, "%.1f", x);
  return std::strtod(buf, nullptr);
}

// len(line.split()) with Python str.split() (runs of Unicode whitespace separate words).
size_t PySplitCount(std::string_view line) {
  size_t n = 0, i = 0;
  bool in_word = false;
  while (i < line.size()) {
    char32_t c = utf8::Next(line, i);
    bool space = text::IsPySpace(c);
    n += !space && !in_word;
    in_word = !space;
  }
  return n;
}

class PerplexityFilter : public Filter {
 public:
  explicit PerplexityFilter(const Params& p)
      : Filter("perplexity_filter", p), lo_(OptionalNumber(p, "min_ppl")), hi_(OptionalNumber(p, "max_ppl")) {
    const std::string& lang = p.GetString("lang");
    text::ModelQuery sp{"perplexity_filter", "SentencePiece model", "tokenizer_model", p.GetString("tokenizer_model"),
                        {lang + ".sp.model"}};
    text::ModelQuery lm{"perplexity_filter", "n-gram language model (ARPA or KenLM binary)", "lm_model", p.GetString("lm_model"),
                        {lang + ".arpa", lang + ".arpa.bin"}};
    std::string sp_path = text::ResolveModelFile(sp), lm_path = text::ResolveModelFile(lm);
    tokenizer_ = text::SentencePieceTokenizer::Load(sp_path);
    lm_ = text::NgramLm::Load(lm_path);
  }

  void ComputeStats(Sample& s) override {
    if (Cached(s, "perplexity")) return;
    const auto& pieces = tokenizer_->EncodeShared(FilterText(s, slot()));
    joined_.clear();
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (i) joined_ += ' ';
      joined_ += pieces[i];
    }
    double logsum = 0;
    size_t n = 0;
    text::ForEachLine(joined_, [&](std::string_view line) {
      logsum += lm_->ScoreSentence(line);
      n += PySplitCount(line) + 1;
    });
    double ppl = 0.0;
    if (n != 0) {
      double e = -logsum / static_cast<double>(n);
      ppl = std::pow(10.0, e);
      if (std::isinf(ppl) && std::isfinite(e)) Fail(ErrorKind::kData, "perplexity_filter: perplexity overflows");
    }
    s.stats.SetDouble("perplexity", PyRound1(ppl));
  }

  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, "perplexity"), lo_, hi_); }

 private:
  std::optional<double> lo_, hi_;
  std::shared_ptr<const text::SentencePieceTokenizer> tokenizer_;
  std::shared_ptr<const text::NgramLm> lm_;
  std::string joined_;
};

// token_num_filter: num_token = the number of tokens of DataJuicer's Hugging Face tokenizer (its
// tokenize(): no special tokens added), through the native byte-level BPE (text/bpe_tokenizer.h).
// `hf_tokenizer` names the tokenizer as DataJuicer does (a hub id) or is a local tokenizer.json / directory.
class TokenNumFilter : public Filter {
 public:
  explicit TokenNumFilter(const Params& p)
      : Filter("token_num_filter", p), lo_(OptionalNumber(p, "min_num")), hi_(OptionalNumber(p, "max_num")) {
    std::string hf = p.GetString("hf_tokenizer");
    std::error_code ec;
    std::string given;
    if (std::filesystem::is_regular_file(hf, ec)) given = hf;
    else if (std::filesystem::is_directory(hf, ec)) given = hf + "/tokenizer.json";
    std::string last = hf.substr(hf.rfind('/') == std::string::npos ? 0 : hf.rfind('/') + 1);
    text::ModelQuery q{"token_num_filter", "Hugging Face tokenizer file", "hf_tokenizer", given,
                       {hf + "/tokenizer.json", last + "/tokenizer.json"}};
    tokenizer_ = text::BpeTokenizer::Load(text::ResolveModelFile(q));
  }

  void ComputeStats(Sample& s) override {
    if (Cached(s, "num_token")) return;
    s.stats.SetInt("num_token", static_cast<int64_t>(tokenizer_->CountTokens(FilterText(s, slot()))));
  }

  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, "num_token"), lo_, hi_); }

 private:
  std::optional<double> lo_, hi_;
  std::shared_ptr<const text::BpeTokenizer> tokenizer_;
};

}  // namespace

void RegisterModelFilters(std::vector<OpDef>& ops) {
  ops.push_back(
      {"token_num_filter", OpKind::kFilter,
       "keep samples whose number of Hugging Face tokenizer tokens is in [min_num, max_num]",
       {{"hf_tokenizer", ParamType::kString, ParamValue::String("EleutherAI/pythia-6.9b-deduped"),
         "tokenizer: a hub id looked up as <id>/tokenizer.json in SLUICE_MODELS_DIR, or a local tokenizer.json or "
         "directory holding one", false},
        {"min_num", ParamType::kNumber, ParamValue::Int(10), "minimum number of tokens"},
        {"max_num", ParamType::kNumber, ParamValue::Double(9223372036854775807.0), "maximum number of tokens (default sys.maxsize)"}},
       [](const Params& p) { return std::make_unique<TokenNumFilter>(p); }});
  ops.push_back(
      {"language_id_score_filter", OpKind::kFilter,
       "keep samples whose fastText language id is in lang (any if empty) with a score of at least min_score",
       {{"lang", ParamType::kStringList, ParamValue::String(""), "language(s) to keep; empty keeps any language"},
        {"min_score", ParamType::kNumber, ParamValue::Double(0.8), "minimum language-id score"},
        {"model_path", ParamType::kString, ParamValue::String(""),
         "sluice: path of the fastText model (default: lid.176.bin in SLUICE_MODELS_DIR)"}},
       [](const Params& p) { return std::make_unique<LanguageIdScoreFilter>(p); }});
  ops.push_back(
      {"perplexity_filter", OpKind::kFilter,
       "keep samples whose n-gram LM perplexity over SentencePiece pieces is in [min_ppl, max_ppl]",
       {{"lang", ParamType::kString, ParamValue::String("en"), "language of the models (<lang>.sp.model, <lang>.arpa.bin)"},
        {"min_ppl", ParamType::kNumber, ParamValue::Double(0), "minimum perplexity"},
        {"max_ppl", ParamType::kNumber, ParamValue::Double(1500), "maximum perplexity"},
        {"tokenizer_model", ParamType::kString, ParamValue::String(""),
         "sluice: path of the SentencePiece model (default: <lang>.sp.model in SLUICE_MODELS_DIR)"},
        {"lm_model", ParamType::kString, ParamValue::String(""),
         "sluice: path of the n-gram model, ARPA text or KenLM binary (default: <lang>.arpa, then <lang>.arpa.bin, in "
         "SLUICE_MODELS_DIR)"}},
       [](const Params& p) { return std::make_unique<PerplexityFilter>(p); }});
}

}  // namespace sluice
