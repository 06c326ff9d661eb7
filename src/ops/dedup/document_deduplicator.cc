// document_deduplicator (datajuicer-ops.md §5): exact duplicates by MD5 of the normalized text.
//
// Contract: key = md5(utf8(t.strip())) where t = text, lowercased (Python lower()) if `lowercase`, and with
// every match of \s+|\d+|[<ASCII string.punctuation>] removed if `ignore_non_character` (Python `regex`
// semantics: \s = White_Space, \d = Nd; only ASCII punctuation, so CJK punctuation stays). The strip() is
// unconditional, so texts differing only in leading/trailing whitespace are duplicates with the default
// params. The fingerprint is the 16-byte digest itself (equal hex strings <=> equal digests); the decision
// keeps the first sample of each digest in input order (DataJuicer returns datasets of at most one sample
// untouched, which that rule already gives), by an external sort of (digest, index) records, 24 bytes
// each, within the decision's memory budget.
#include <unicode/uchar.h>

#include <cstring>

#include "core/error.h"
#include "core/sample.h"
#include "ops/dedup/external_sort.h"
#include "ops/op.h"
#include "ops/text/md5.h"
#include "ops/text/pystr.h"
#include "core/utf8.h"

namespace sluice {
namespace {

struct AsciiRemoveTable {
  bool v[128] = {};
  constexpr AsciiRemoveTable() {
    for (int c = 0x09; c <= 0x0D; ++c) v[c] = true;  // \s (ASCII part of White_Space)
    v[' '] = true;
    for (int c = '0'; c <= '9'; ++c) v[c] = true;  // \d
    for (char c : std::string_view("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")) v[static_cast<unsigned char>(c)] = true;
  }
};
constexpr AsciiRemoveTable kAsciiRemove;

inline bool RemoveNonAscii(char32_t c) {
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE) ||
         u_charType(static_cast<UChar32>(c)) == U_DECIMAL_DIGIT_NUMBER;
}

class DocumentDeduplicator : public Deduplicator {
 public:
  explicit DocumentDeduplicator(const Params& p)
      : Deduplicator("document_deduplicator", 16),
        lowercase_(p.GetBool("lowercase")),
        ignore_non_character_(p.GetBool("ignore_non_character")) {}

  DedupStats Decide(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep) override {
    struct Rec {
      uint64_t hi, lo, index;
      bool operator<(const Rec& o) const {
        return hi != o.hi ? hi < o.hi : lo != o.lo ? lo < o.lo : index < o.index;
      }
    };
    DedupStats stats;
    uint64_t n = fps.count();
    dedup::ExternalSorter<Rec> sorter(ctx, dedup::SortBudget(ctx, n / 8), n, stats);
    ++stats.passes;
    fps.Scan([&](uint64_t first, const uint8_t* data, size_t count) {
      for (size_t i = 0; i < count; ++i) {
        Rec r{0, 0, first + i};
        std::memcpy(&r.hi, data + 16 * i, 8);
        std::memcpy(&r.lo, data + 16 * i + 8, 8);
        sorter.Add(r);
      }
    });
    bool any = false;
    Rec prev{};
    uint64_t first = 0;
    sorter.ForEach([&](const Rec& r) {
      if (!any || r.hi != prev.hi || r.lo != prev.lo) {
        keep[r.index] = true;  // the first index of each digest
        first = r.index;
      } else if (ctx.on_duplicate) {
        ctx.on_duplicate(r.index, first);
      }
      any = true;
      prev = r;
    });
    return stats;
  }

 protected:
  void ComputeFingerprint(const Sample& s, uint8_t* key) override {
    const TextField& tf = s.texts[static_cast<size_t>(slot())];
    if (tf.is_null || !tf.present) Fail(ErrorKind::kInput, "the text field is null or missing");
    std::string_view t = tf.value();
    if (lowercase_) {
      lower_.clear();
      text::PyLowerAppend(t, lower_);
      t = lower_;
    }
    if (ignore_non_character_) {
      kept_.clear();
      const unsigned char* p = reinterpret_cast<const unsigned char*>(t.data());
      for (size_t i = 0, n = t.size(); i < n;) {
        if (p[i] < 0x80) {
          if (!kAsciiRemove.v[p[i]]) kept_ += static_cast<char>(p[i]);
          ++i;
          continue;
        }
        size_t at = i;
        if (!RemoveNonAscii(utf8::Next(t, i))) kept_.append(t.data() + at, i - at);
      }
      t = kept_;
    }
    text::Md5Digest(text::PyStrip(t), key);
  }

 private:
  bool lowercase_;
  bool ignore_non_character_;
  std::string lower_;
  std::string kept_;
};

}  // namespace

void RegisterDocumentDeduplicator(std::vector<OpDef>& ops) {
  ops.push_back({"document_deduplicator", OpKind::kDeduplicator,
                 "drop exact duplicates (MD5 of the stripped text), keeping the first occurrence",
                 {{"lowercase", ParamType::kBool, ParamValue::Bool(false), "compare texts lowercased", false},
                  {"ignore_non_character", ParamType::kBool, ParamValue::Bool(false),
                   "ignore whitespace, digits and ASCII punctuation when comparing", false}},
                 [](const Params& p) { return std::make_unique<DocumentDeduplicator>(p); }});
}

}  // namespace sluice
