// Length filters: text_length_filter (datajuicer-ops.md §5). Lengths are code points (Python len).
#include "core/sample.h"
#include "ops/op.h"
#include "ops/text/utf8.h"

namespace sluice {
namespace {

constexpr double kMaxSize = 9223372036854775807.0;  // sys.maxsize: DataJuicer's "no upper bound"

class TextLengthFilter : public Filter {
 public:
  explicit TextLengthFilter(const Params& p)
      : Filter("text_length_filter", p), lo_(OptionalNumber(p, "min_len")), hi_(OptionalNumber(p, "max_len")) {}

  void ComputeStats(Sample& s) override {
    if (Cached(s, "text_len")) return;
    s.stats.SetInt("text_len", static_cast<int64_t>(utf8::CodePointCount(s.text(slot()))));
  }
  bool Keep(const Sample& s) const override { return InRange(StatNumber(s, "text_len"), lo_, hi_); }

 private:
  std::optional<double> lo_, hi_;
};

}  // namespace

void RegisterLengthFilters(std::vector<OpDef>& ops) {
  ops.push_back({"text_length_filter", OpKind::kFilter, "keep samples whose text length (code points) is in [min_len, max_len]",
                 {{"min_len", ParamType::kInt, ParamValue::Int(10), "minimum length"},
                  {"max_len", ParamType::kInt, ParamValue::Int(INT64_MAX), "maximum length (default sys.maxsize)"}},
                 [](const Params& p) { return std::make_unique<TextLengthFilter>(p); }});
}

}  // namespace sluice
