// Word-list filters: flagged_words_filter, stopwords_filter (datajuicer-ops.md §5, §2.3, §2.6).
//
// Contract (both):
//   words = split_on_whitespace(text, new_line=true, tab=true), refined by lowercasing, stripping
//   SPECIAL_CHARACTERS from both ends (emptied words dropped) and, with use_words_aug, appending for each
//   g in words_aug_group_sizes every window of g consecutive words joined by words_aug_join_char.
//   ratio = #{w in words : w is in the list of `lang`} / #words (augmented entries count in both), 0.0
//   when there are no words, capped at 1.0. Stats `flagged_words_ratio` / `stopwords_ratio`, skipped when
//   already present (§1.3). Keep if ratio in [min_ratio, max_ratio].
//   Matching is exact string equality with the list entry as written (entries are not lowercased, so an
//   entry with an upper-case letter never matches, as in DataJuicer).
// Word lists (§2.6): `flagged_words_dir` / `stopwords_dir` is a directory whose `*.json` files with
//   `flagged_words` / `stopwords` in their name each hold {lang: [word, ...]}; lists of one language from
//   several files are merged; `all` is every language's words unless a file defines it. When the
//   parameter is null (sluice's default, see data/wordlists/README.md) the lists shipped with sluice are
//   used: $SLUICE_WORDLISTS_DIR, else data/wordlists of the source tree sluice was built from. A missing
//   directory, no matching file, malformed JSON, a value that is not a list of strings, or a `lang` that
//   no file has is a kUsage error at construction naming the file and the cause (DataJuicer would instead
//   download its default lists, or fail every sample on an unknown `lang`).
// `tokenization: true`: words = the SentencePiece pieces of the text (sentencepiece_tokenizer.h; model from
//   `tokenizer_model` or <lang>.sp.model, found when the op is constructed), kept with their '▁' markers
//   ('▁' is not a special character, so "▁the" is a word of its own and matches only a list entry written
//   "▁the", as in DataJuicer), then refined, augmented and counted exactly as above, each piece as one word
//   (also one holding a space: text::RefinePieces). `lang` selects both the list and the model.
// The list of `lang` is loaded once per op instance into a WordSet; per record nothing is allocated once
// the word buffers have grown.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <simdjson.h>

#include "core/error.h"
#include "core/sample.h"
#include "ops/filter/filter_util.h"
#include "ops/op.h"
#include "ops/text/sentencepiece_tokenizer.h"
#include "ops/text/word_set.h"
#include "ops/text/words.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// The lists shipped with sluice: $SLUICE_WORDLISTS_DIR, else <source root>/data/wordlists (CMake defines
// SLUICE_DATA_DIR), so a build works without installing.
std::string ShippedWordListDir() {
  if (const char* env = std::getenv("SLUICE_WORDLISTS_DIR"); env != nullptr && *env != '\0') return env;
  return (fs::path(SLUICE_DATA_DIR) / "wordlists").string();
}

// Reads the `kind` word lists of `dir` (contract above) and inserts the words of `lang` into `out`.
void LoadWordList(const char* op, const std::string& dir, std::string_view kind, const std::string& lang,
                  text::WordSet& out) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    Fail(ErrorKind::kUsage, "{}: word-list directory {} does not exist or is not a directory", op, dir);
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.ends_with(".json") && name.find(kind) != std::string::npos && it->is_regular_file(ec)) files.push_back(it->path());
  }
  if (ec) Fail(ErrorKind::kUsage, "{}: cannot list word-list directory {}: {}", op, dir, ec.message());
  if (files.empty())
    Fail(ErrorKind::kUsage, "{}: no {} word list in {} (expected *{}*.json files holding {{lang: [words]}})", op, kind,
         dir, kind);
  std::sort(files.begin(), files.end());

  bool found = false, file_has_all = false;
  std::vector<std::string> langs;
  text::WordSet every;  // lang == "all" without an `all` list: the words of every language
  simdjson::dom::parser parser;
  for (const fs::path& file : files) {
    simdjson::dom::element doc;
    if (auto err = parser.load(file.string()).get(doc))
      Fail(ErrorKind::kUsage, "{}: word list {}: {}", op, file.string(), simdjson::error_message(err));
    simdjson::dom::object obj;
    if (doc.get(obj))
      Fail(ErrorKind::kUsage, "{}: word list {}: expected a JSON object {{lang: [words]}}", op, file.string());
    for (auto [key, value] : obj) {
      simdjson::dom::array words;
      if (value.get(words))
        Fail(ErrorKind::kUsage, "{}: word list {}: the value of \"{}\" is not a list of words", op, file.string(), key);
      bool wanted = key == lang;
      found = found || wanted;
      file_has_all = file_has_all || key == "all";
      if (std::find(langs.begin(), langs.end(), key) == langs.end()) langs.emplace_back(key);
      for (auto w : words) {
        std::string_view word;
        if (w.get(word))
          Fail(ErrorKind::kUsage, "{}: word list {}: a word of \"{}\" is not a string", op, file.string(), key);
        if (wanted) out.Insert(word);
        if (lang == "all") every.Insert(word);
      }
    }
  }
  if (lang == "all" && !file_has_all) {
    out = std::move(every);
    return;
  }
  if (!found) {
    std::sort(langs.begin(), langs.end());
    std::string have;
    for (const auto& l : langs) have += (have.empty() ? "" : ", ") + l;
    Fail(ErrorKind::kUsage, "{}: no {} list for lang '{}' in {} (languages there: {}, and all)", op, kind, lang, dir, have);
  }
}

class WordListFilter : public Filter {
 public:
  // `kind` is both the file-name marker and, with "_dir", the directory parameter; `stat` the stats key.
  WordListFilter(const char* name, const char* kind, const char* stat, const Params& p)
      : Filter(name, p), stat_(stat), lo_(OptionalNumber(p, "min_ratio")), hi_(OptionalNumber(p, "max_ratio")) {
    opt_.lower_case = true;
    opt_.strip_special = true;
    opt_.use_words_aug = p.GetBool("use_words_aug");
    opt_.aug_join_char = p.GetString("words_aug_join_char");
    opt_.aug_group_sizes.clear();
    const ParamValue& sizes = p.Get("words_aug_group_sizes");
    if (sizes.type() != ParamValue::Type::kList)
      Fail(ErrorKind::kUsage, "{}: words_aug_group_sizes must be a list of positive integers, got {}", name, sizes.ToJson());
    for (const ParamValue& g : sizes.as_list()) {
      bool integral = g.type() == ParamValue::Type::kInt ||
                      (g.type() == ParamValue::Type::kDouble && g.as_number() == static_cast<double>(static_cast<int64_t>(g.as_number())));
      if (!integral || g.as_number() < 1 || g.as_number() > 1e6)
        Fail(ErrorKind::kUsage, "{}: words_aug_group_sizes must be a list of positive integers, got {}", name, sizes.ToJson());
      opt_.aug_group_sizes.push_back(static_cast<int>(g.as_number()));
    }
    std::string dir_param = std::string(kind) + "_dir";
    std::string dir = p.Has(dir_param) ? p.GetString(dir_param) : ShippedWordListDir();
    LoadWordList(name, dir, kind, p.GetString("lang"), list_);
    tokenizer_ = text::TokenizerFromParams(p, name);
    if (tokenizer_) opt_.new_line = opt_.tab = false;  // RefinePieces' condition
  }

  void ComputeStats(Sample& s) override {
    if (Cached(s, stat_)) return;
    const std::string& t = FilterText(s, slot());
    if (tokenizer_) {
      text::RefinePieces(tokenizer_->EncodeShared(t), opt_, pieces_, words_);
    } else {
      text::RefineWords(t, opt_, words_);
    }
    size_t n = words_.size(), hits = 0;
    for (size_t i = 0; i < n; ++i) hits += list_.Contains(words_[i]);
    double ratio = n == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(n);
    s.stats.SetDouble(stat_, std::min(ratio, 1.0));
  }

  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, stat_), lo_, hi_); }

 private:
  const char* stat_;
  std::optional<double> lo_, hi_;
  text::RefineOptions opt_;
  text::WordSet list_;
  std::shared_ptr<const text::SentencePieceTokenizer> tokenizer_;  // null without tokenization
  text::PieceScratch pieces_;
  text::WordList words_;
};

// DataJuicer's parameters, in its order; `kind` names the directory parameter.
std::vector<ParamSpec> WordListParams(const std::string& kind, double min_ratio, double max_ratio) {
  return {
      {"lang", ParamType::kString, ParamValue::String("en"),
       "language whose word list ('all': every language) and, with tokenization, model <lang>.sp.model are used", false},
      {"tokenization", ParamType::kBool, ParamValue::Bool(false),
       "split with the SentencePiece model <lang>.sp.model instead of whitespace", false},
      {"min_ratio", ParamType::kNumber, ParamValue::Double(min_ratio), "minimum ratio"},
      {"max_ratio", ParamType::kNumber, ParamValue::Double(max_ratio), "maximum ratio"},
      {kind + "_dir", ParamType::kString, {},
       "directory of *" + kind + "*.json files holding {lang: [words]} (DataJuicer's asset format); "
       "null: the lists shipped with sluice (data/wordlists, or $SLUICE_WORDLISTS_DIR)"},
      {"use_words_aug", ParamType::kBool, ParamValue::Bool(false),
       "also match the concatenations of consecutive words (for languages such as Chinese and Vietnamese)", false},
      {"words_aug_group_sizes", ParamType::kAny, ParamValue::List({ParamValue::Int(2)}),
       "numbers of consecutive words concatenated by use_words_aug", false},
      {"words_aug_join_char", ParamType::kString, ParamValue::String(""), "separator of the concatenated words", false},
      text::TokenizerModelParam(),
  };
}

}  // namespace

void RegisterWordListFilters(std::vector<OpDef>& ops) {
  ops.push_back({"flagged_words_filter", OpKind::kFilter,
                 "keep samples whose ratio of flagged words (the flagged-words list of `lang`) is in [min_ratio, max_ratio]",
                 WordListParams("flagged_words", 0.0, 0.045), [](const Params& p) {
                   return std::make_unique<WordListFilter>("flagged_words_filter", "flagged_words", "flagged_words_ratio", p);
                 }});
  ops.push_back({"stopwords_filter", OpKind::kFilter,
                 "keep samples whose ratio of stopwords (the stopword list of `lang`) is in [min_ratio, max_ratio]",
                 WordListParams("stopwords", 0.3, 1.0), [](const Params& p) {
                   return std::make_unique<WordListFilter>("stopwords_filter", "stopwords", "stopwords_ratio", p);
                 }});
}

}  // namespace sluice
