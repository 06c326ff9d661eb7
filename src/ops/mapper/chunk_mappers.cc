// text_chunk_mapper (datajuicer-ops.md §4): one sample in, one sample per chunk out (ExpandingMapper).
//
// Contract (DataJuicer's get_text_chunks; lengths in code points):
//   split_pattern set, max_len null: re.split("(" + split_pattern + ")", text) -- the separators (and any
//     groups of the pattern) are pieces of their own -- then the pieces whose strip() is empty are dropped.
//   max_len set, split_pattern null: [text] if len <= max_len, else the windows text[i:i+max_len] for
//     i = 0, step max_len - overlap_len, while i < len.
//   both set: [text] if len <= max_len; else in the first max_len code points find the LAST match of the
//     pattern: chunk = the prefix before it, the rest starts after it (the separator is consumed, no
//     overlap); no match: chunk = that prefix, the rest starts at max_len - overlap_len. Repeat on the rest.
//     Empty chunks are kept.
// Matching follows stdlib `re` (Regex::Python with kRegexStdlibRe: DataJuicer imports re here, not the
// regex module, so \w, \s and \b are str's classes); an empty match is not taken twice at one position.
// Construction errors (DataJuicer's ValueErrors): both null, overlap_len >= max_len, max_len < 1,
// overlap_len < 0. `tokenizer` (token lengths with a Hugging Face / tiktoken / DashScope tokenizer) is
// refused: sluice has no such tokenizer for this op yet.
#include <algorithm>
#include <optional>

#include "core/error.h"
#include "ops/op.h"
#include "ops/text/pystr.h"
#include "ops/text/regex.h"
#include "core/utf8.h"

namespace sluice {
namespace {

class TextChunkMapper : public ExpandingMapper {
 public:
  explicit TextChunkMapper(const Params& p) : ExpandingMapper("text_chunk_mapper"), overlap_(p.GetInt("overlap_len")) {
    if (p.Has("max_len")) max_len_ = p.GetInt("max_len");
    if (p.Has("tokenizer"))
      Fail(ErrorKind::kUsage,
           "text_chunk_mapper: tokenizer '{}' is not supported yet (token lengths need a tokenizer sluice cannot load "
           "for this op); leave tokenizer null to measure chunks in characters",
           p.GetString("tokenizer"));
    if (!max_len_ && !p.Has("split_pattern")) Fail(ErrorKind::kUsage, "text_chunk_mapper: max_len and split_pattern cannot be both null");
    if (max_len_ && *max_len_ < 1) Fail(ErrorKind::kUsage, "text_chunk_mapper: max_len must be a positive integer, got {}", *max_len_);
    if (overlap_ < 0) Fail(ErrorKind::kUsage, "text_chunk_mapper: overlap_len must be >= 0, got {}", overlap_);
    if (max_len_ && overlap_ >= *max_len_) Fail(ErrorKind::kUsage, "text_chunk_mapper: overlap_len must be less than max_len");
    if (p.Has("split_pattern")) {
      std::string pat = p.GetString("split_pattern");
      pattern_.emplace(text::Regex::Python(max_len_ ? pat : "(" + pat + ")", text::kRegexStdlibRe, "split_pattern"));
    }
  }

  void Split(const std::string& t, std::vector<std::string>& pieces) override {
    pieces.clear();
    if (!max_len_) return SplitOnPattern(t, pieces);
    Offsets(t);
    size_t len = starts_.size() - 1;
    size_t max_len = static_cast<size_t>(*max_len_), step = max_len - static_cast<size_t>(overlap_);
    if (len <= max_len) {
      pieces.push_back(t);
      return;
    }
    if (!pattern_) {
      for (size_t i = 0; i < len; i += step) pieces.push_back(t.substr(starts_[i], starts_[std::min(len, i + max_len)] - starts_[i]));
      return;
    }
    size_t from = 0;  // code point where the rest starts
    while (len - from > max_len) {
      size_t b0 = starts_[from], b1 = starts_[from + max_len];
      std::string_view prefix(t.data() + b0, b1 - b0);
      std::optional<std::pair<size_t, size_t>> last;
      ForEachMatch(prefix, [&](size_t b, size_t e) { last = {b, e}; });
      if (!last) {
        pieces.emplace_back(prefix);
        from += step;
      } else {
        pieces.emplace_back(prefix.substr(0, last->first));
        size_t next = CodePointAt(b0 + last->second);
        // Only an empty match at the very start can leave the rest where it was; DataJuicer recurses until
        // Python's recursion limit and fails the sample.
        if (next == from) Fail(ErrorKind::kInput, "split_pattern's last match in the first max_len characters is empty at their start: no progress");
        from = next;
      }
    }
    pieces.push_back(t.substr(starts_[from]));
  }

 private:
  // re.split("(" + pattern + ")", t): text between matches, then every group of the match. A group that took
  // no part in a match is None in Python's list, and DataJuicer's piece.strip() raises on it: a sample error.
  void SplitOnPattern(const std::string& t, std::vector<std::string>& pieces) {
    size_t last = 0;
    auto keep = [&](std::string_view piece) {
      if (!text::PyStrip(piece).empty()) pieces.emplace_back(piece);
    };
    const size_t groups = pattern_->capture_count();
    ForEachMatch(t, [&](size_t b, size_t e) {
      keep(std::string_view(t).substr(last, b - last));
      const size_t* ov = pattern_->ovector();
      for (size_t g = 1; g <= groups; ++g) {
        // ovector entries past the last set group are not written by the match: groups() bounds what is valid
        if (g >= pattern_->groups() || ov[2 * g] == text::ReplTemplate::kUnset)
          Fail(ErrorKind::kInput,
               "split_pattern group {} took no part in a match: re.split gives None for it, which DataJuicer "
               "cannot strip (AttributeError)",
               g - 1);
        keep(std::string_view(t).substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
      }
      last = e;
    });
    keep(std::string_view(t).substr(last));
  }

  // Python's finditer (and split): leftmost matches left to right; after an empty match the next search
  // starts at the same position but may not match empty there (a non-empty match starting there counts).
  template <class F>
  void ForEachMatch(std::string_view t, F&& f) {
    size_t pos = 0, b = 0, e = 0;
    bool after_empty = false;
    while (pos <= t.size() && pattern_->Search(t, pos, &b, &e, after_empty)) {
      f(b, e);
      after_empty = b == e;
      pos = e;
    }
  }

  // starts_[i] = byte offset of code point i; starts_[n] = size.
  void Offsets(const std::string& t) {
    starts_.clear();
    for (size_t i = 0; i < t.size();) {
      starts_.push_back(i);
      utf8::Next(t, i);
    }
    starts_.push_back(t.size());
  }
  size_t CodePointAt(size_t byte) const {
    return static_cast<size_t>(std::lower_bound(starts_.begin(), starts_.end(), byte) - starts_.begin());
  }

  std::optional<int64_t> max_len_;
  int64_t overlap_;
  std::optional<text::Regex> pattern_;
  std::vector<size_t> starts_;
};

}  // namespace

void RegisterChunkMappers(std::vector<OpDef>& ops) {
  OpDef d{"text_chunk_mapper", OpKind::kMapper,
          "split each sample's text into chunks (by a pattern, a maximum length, or both); one sample per chunk",
          {{"max_len", ParamType::kInt, ParamValue(), "maximum chunk length in characters; null: split on the pattern only"},
           {"split_pattern", ParamType::kString, ParamValue::String("\\n\\n"), "regex (Python re) to split at; null: fixed windows"},
           {"overlap_len", ParamType::kInt, ParamValue::Int(0), "characters shared by consecutive windows (when a cut is forced)", false},
           {"tokenizer", ParamType::kString, ParamValue(), "measure lengths in tokens of this tokenizer (not supported yet)"},
           {"trust_remote_code", ParamType::kBool, ParamValue::Bool(false), "for Hugging Face tokenizers (used with tokenizer)", false}},
          [](const Params& p) { return std::make_unique<TextChunkMapper>(p); }};
  d.expands = true;
  ops.push_back(std::move(d));
}

}  // namespace sluice
