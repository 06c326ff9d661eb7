// Length filters (datajuicer-ops.md §5). Lengths are code points (Python len); lines are
// text.splitlines() (§2.1: 10 kinds of boundary, "\r\n" counts once, no empty last line after a trailing
// boundary, "" has no lines).
//
// Contract:
//   text_length_filter:          text_len = len(text) (int).
//   average_line_length_filter:  avg_line_length = len(text) / len(text.splitlines()) -- the numerator is the
//                                whole text INCLUDING the line boundaries; 0.0 when there are no lines.
//   maximum_line_length_filter:  max_line_length = max(len(line) for line in text.splitlines()), 0 when
//                                there are no lines (int).
// Each keeps the sample if its value is in [min_len, max_len] (§1.4) and skips the computation when its
// stats key is already present (§1.3). Inside a chain the line counts come from the record's shared
// analysis (ops/text/analysis.h), so the two line filters walk the lines once.
#include "core/sample.h"
#include "ops/filter/filter_util.h"
#include "ops/op.h"
#include "ops/text/analysis.h"
#include "ops/text/pystr.h"
#include "core/utf8.h"

namespace sluice {
namespace {

class LengthFilterBase : public Filter {
 protected:
  LengthFilterBase(const char* name, const char* key, const Params& p)
      : Filter(name, p), key_(key), lo_(OptionalNumber(p, "min_len")), hi_(OptionalNumber(p, "max_len")) {}

 public:
  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, key_), lo_, hi_); }

 protected:
  const char* key_;

 private:
  std::optional<double> lo_, hi_;
};

class TextLengthFilter : public LengthFilterBase {
 public:
  explicit TextLengthFilter(const Params& p) : LengthFilterBase("text_length_filter", "text_len", p) {}

  void ComputeStats(Sample& s) override {
    if (Cached(s, key_)) return;
    s.stats.SetInt(key_, static_cast<int64_t>(FilterTextCodePoints(s, slot())));
  }
};

class AverageLineLengthFilter : public LengthFilterBase {
 public:
  explicit AverageLineLengthFilter(const Params& p)
      : LengthFilterBase("average_line_length_filter", "avg_line_length", p) {}

  void ComputeStats(Sample& s) override {
    if (Cached(s, key_)) return;
    size_t lines, code_points;
    if (auto* a = text::TextAnalysis::Of(s, slot())) {  // shared with maximum_line_length_filter
      lines = a->lines().n;
      code_points = a->lines().code_points;
    } else {
      auto c = text::CountLinesAndCodePoints(FilterText(s, slot()));
      lines = c.lines;
      code_points = c.code_points;
    }
    double v = lines == 0 ? 0.0 : static_cast<double>(code_points) / static_cast<double>(lines);
    s.stats.SetDouble(key_, v);
  }
};

class MaximumLineLengthFilter : public LengthFilterBase {
 public:
  explicit MaximumLineLengthFilter(const Params& p)
      : LengthFilterBase("maximum_line_length_filter", "max_line_length", p) {}

  void ComputeStats(Sample& s) override {
    if (Cached(s, key_)) return;
    if (auto* a = text::TextAnalysis::Of(s, slot())) {  // shared with average_line_length_filter
      s.stats.SetInt(key_, static_cast<int64_t>(a->lines().longest));
      return;
    }
    size_t longest = 0;
    text::ForEachLine(FilterText(s, slot()), [&longest](std::string_view line) {
      // A line has at least as many bytes as code points: skip counting lines that cannot win.
      if (line.size() > longest) longest = std::max(longest, utf8::CodePointCount(line));
    });
    s.stats.SetInt(key_, static_cast<int64_t>(longest));
  }
};

std::vector<ParamSpec> LenParams(const char* what) {
  return {{"min_len", ParamType::kInt, ParamValue::Int(10), std::string("minimum ") + what},
          {"max_len", ParamType::kInt, ParamValue::Int(kMaxSizeInt), std::string("maximum ") + what + " (default sys.maxsize)"}};
}

}  // namespace

void RegisterLengthFilters(std::vector<OpDef>& ops) {
  ops.push_back({"text_length_filter", OpKind::kFilter, "keep samples whose text length (code points) is in [min_len, max_len]",
                 LenParams("length"), [](const Params& p) { return std::make_unique<TextLengthFilter>(p); }});
  ops.push_back({"average_line_length_filter", OpKind::kFilter,
                 "keep samples whose average line length (text length / number of lines) is in [min_len, max_len]",
                 LenParams("average line length"),
                 [](const Params& p) { return std::make_unique<AverageLineLengthFilter>(p); }});
  ops.push_back({"maximum_line_length_filter", OpKind::kFilter,
                 "keep samples whose longest line (code points) is in [min_len, max_len]",
                 LenParams("line length"), [](const Params& p) { return std::make_unique<MaximumLineLengthFilter>(p); }});
}

}  // namespace sluice
