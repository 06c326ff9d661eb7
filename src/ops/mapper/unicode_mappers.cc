// Unicode repair: fix_unicode_mapper (the behaviour of ftfy.fix_text, datajuicer-ops.md §4).
//
// Contract: text = ftfy.fix_text(text, normalization=N) with ftfy 6.3.1's default configuration, natively
// (src/ops/text/ftfy.h states the steps). `normalization` is null or "" (-> NFC) or NFC / NFKC / NFD / NFKD
// in any case; anything else is a kUsage error when the op is built, as DataJuicer raises at init.
#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "ops/op.h"
#include "ops/text/ftfy.h"

namespace sluice {
namespace {

ftfy::Normalization ParseNormalization(const Params& p) {
  const ParamValue& v = p.Get("normalization");
  if (v.is_null() || v.as_string().empty()) return ftfy::Normalization::kNFC;
  std::string name = v.as_string();
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
  if (name == "NFC") return ftfy::Normalization::kNFC;
  if (name == "NFKC") return ftfy::Normalization::kNFKC;
  if (name == "NFD") return ftfy::Normalization::kNFD;
  if (name == "NFKD") return ftfy::Normalization::kNFKD;
  Fail(ErrorKind::kUsage, "fix_unicode_mapper: normalization must be one of NFC, NFKC, NFD, NFKD, got '{}'",
       v.as_string());
}

class FixUnicodeMapper : public Mapper {
 public:
  explicit FixUnicodeMapper(const Params& p) : Mapper("fix_unicode_mapper"), fixer_(ParseNormalization(p)) {}

  bool Map(std::string& text) override { return fixer_.FixText(text); }

 private:
  ftfy::Fixer fixer_;
};

}  // namespace

void RegisterUnicodeMappers(std::vector<OpDef>& ops) {
  ops.push_back({"fix_unicode_mapper", OpKind::kMapper,
                 "fix mojibake, HTML entities, control characters, curly quotes, fullwidth forms and line breaks "
                 "(ftfy.fix_text), then Unicode-normalize",
                 {{"normalization", ParamType::kString, {}, "NFC (default), NFKC, NFD or NFKD"}},
                 [](const Params& p) { return std::make_unique<FixUnicodeMapper>(p); }});
}

}  // namespace sluice
