// Selectors (datajuicer-ops.md §5): frequency_specified_field_selector, random_selector,
// range_specified_field_selector, tags_specified_field_selector, topk_specified_field_selector.
//
// A selector needs the whole dataset, so it runs on the deduplicator path (ops/op.h Selector): each sample's
// fingerprint is a fixed-size encoding of what the selection needs of it, and Select sets the keep bits
// over all fingerprints in input order. N below is the number of samples reaching the selector.
//
// Field access (all but random_selector): field_key is split at every '.' (no flat-key-first lookup: that
// is what DataJuicer's selectors do). The first part names a record field, the op's text key (the current
// text) or `__dj__stats__` (the current stats, those of earlier filters included). As in DataJuicer's
// Arrow-backed datasets, a missing last key reads as null, but a missing, null or non-dict level above it
// fails the selection (DataJuicer's AttributeError), and so does a key that no sample has (its assert).
// Those failures, like DataJuicer's TypeErrors below, are dataset-level: they fail the job (kData) rather
// than drop a sample.
//
// stats_to_number(v, reverse) (range always, topk with a dotted key): a string is parsed as Python's
// float() (Unicode digits and spaces, single underscores between digits, inf/infinity/nan); a number or
// bool is itself; a non-empty list is numpy's mean (rectangular, numeric leaves; pairwise summation; a
// list with no leaves such as [[]] gives nan); anything else ("", null, [], dicts, ragged or non-numeric
// lists) is unusable and reads as -9223372036854775807 when `reverse` (range: always), else
// +9223372036854775807, compared exactly against floats. Values are compared as long double (exact for
// every int64, uint64 and double); nan sorts below every number (Python's order is undefined there).
//
// topk_specified_field_selector: unchanged if N <= 1, field_key is empty, or top_ratio is falsy (null or
//   0) and topk is null. n = topk if top_ratio is falsy, else top_ratio * N, lowered to topk when topk is
//   smaller; int(n) samples are kept: the largest (reverse) / smallest values, ties to the lower index
//   (heapq.nlargest / nsmallest). A dotted key compares stats_to_number values; a single-level key the raw
//   values, which must then be numbers: null or a dict is DataJuicer's TypeError, strings and lists (which
//   DataJuicer orders lexicographically) are refused as unsupported. DataJuicer's order: by value.
// range_specified_field_selector: unchanged if N <= 1, field_key is empty, or both lower_* or both upper_*
//   are null. lower = max(int(lower_percentile * N) or 0, lower_rank), upper = min(int(upper_percentile * N)
//   or N, upper_rank), upper = max(lower, upper). S = the `upper` smallest stats_to_number values (ties to
//   the lower index); kept = the upper - lower largest of S (ties to the lower index). DataJuicer's order:
//   by value, descending.
// frequency_specified_field_selector: unchanged if N <= 1 or field_key is empty. Values must be strings,
//   numbers or null (else DataJuicer's assert fails) and are grouped by Python equality (1 == 1.0 == True)
//   through a 128-bit hash of a canonical form. Then unchanged if top_ratio is falsy and topk null; n =
//   topk if top_ratio is falsy, else top_ratio * (number of groups), lowered to topk when smaller. Groups
//   sorted by size (descending if reverse), ties by first appearance; the first int(n) groups are kept.
//   DataJuicer's order: group by group, input order within a group.
// tags_specified_field_selector: unchanged if N <= 1 or field_key is empty; keeps the samples whose value
//   is one of target_tags (strings, so only string values match). Values must be strings, numbers or null.
//   target_tags must be a list of strings (null fails at construction, as DataJuicer's set(None)).
// random_selector: unchanged if N <= 1 or both parameters are null. n = select_num if select_ratio is
//   falsy, else int(select_ratio * N) lowered to select_num. n <= 0 keeps everything (DataJuicer's sampler
//   falls back to the whole dataset), n >= N too (DataJuicer repeats rows for n > N; sluice keeps each
//   sample once). Otherwise exactly n samples are kept by selection sampling (Knuth's algorithm S): sample
//   i is kept iff floor(u_i * (N - i)) < (n - kept so far), u_i = SplitMix64(42 + i) read as a 64-bit
//   fraction. Depends only on N, n and the input order, never on partitioning. DataJuicer samples after an
//   HF shuffle with seed 42, which cannot be reproduced; its order is that shuffle, sluice's the input order.
//
// Memory of the decisions: keep bits (N / 8 bytes); topk and range sort (value, index) records of 32 bytes,
// frequency (hash, index) records of 24 bytes, within ctx.memory_bytes, spilling sorted runs beyond it
// (ops/dedup/external_sort.h; range sorts twice); frequency also holds one 40-byte entry per distinct value.
// With an `order` (tests), the kept indices are held too.
#include <simdjson.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/error.h"
#include "core/sample.h"
#include "ops/dedup/external_sort.h"
#include "ops/op.h"
#include "ops/text/pystr.h"

namespace sluice {
namespace {

namespace dom = simdjson::dom;

constexpr int64_t kMaxSize = std::numeric_limits<int64_t>::max();  // Python's sys.maxsize

// ---- field access -----------------------------------------------------------------------------------

enum class VKind : uint8_t { kAbsent, kBadPath, kNull, kBool, kInt, kUInt, kDouble, kString, kList, kDict };

struct Value {
  VKind kind = VKind::kAbsent;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string_view s;  // kString
  dom::element e;      // kList: valid until the next Read
};

Value FromElement(dom::element e) {
  Value v;
  switch (e.type()) {
    case dom::element_type::NULL_VALUE: v.kind = VKind::kNull; break;
    case dom::element_type::BOOL: v.kind = VKind::kBool; v.b = bool(e.get_bool()); break;
    case dom::element_type::INT64: v.kind = VKind::kInt; v.i = int64_t(e.get_int64()); break;
    case dom::element_type::UINT64: v.kind = VKind::kUInt; v.u = uint64_t(e.get_uint64()); break;
    case dom::element_type::DOUBLE: v.kind = VKind::kDouble; v.d = double(e.get_double()); break;
    case dom::element_type::STRING: v.kind = VKind::kString; v.s = std::string_view(e.get_string()); break;
    case dom::element_type::ARRAY: v.kind = VKind::kList; v.e = e; break;
    case dom::element_type::OBJECT: v.kind = VKind::kDict; v.e = e; break;
  }
  return v;
}

// One dotted field_key, read from samples (module comment).
class FieldPath {
 public:
  FieldPath(std::string key, std::string text_key) : key_(std::move(key)), text_key_(std::move(text_key)) {
    size_t at = 0;
    while (true) {
      size_t dot = key_.find('.', at);
      parts_.push_back(key_.substr(at, dot == std::string::npos ? std::string::npos : dot - at));
      if (dot == std::string::npos) break;
      at = dot + 1;
    }
  }
  bool empty() const { return key_.empty(); }
  bool multi_level() const { return parts_.size() > 1; }
  const std::string& key() const { return key_; }

  Value Read(const Sample& s, int slot) {
    const std::string& top = parts_[0];
    if (top == text_key_) {
      const TextField& t = s.texts[static_cast<size_t>(slot)];
      if (!t.present) return Missing(0);
      if (multi_level()) return Bad();
      Value v;
      v.kind = t.is_null ? VKind::kNull : VKind::kString;
      v.s = t.value();
      return v;
    }
    if (top == "__dj__stats__") {
      if (!multi_level()) return Kind(VKind::kDict);
      const StatValue* sv = s.stats.Find(parts_[1]);
      if (sv == nullptr) return Missing(1);
      Value v;
      switch (sv->kind) {
        case StatValue::Kind::kInt: v.kind = VKind::kInt; v.i = sv->i; break;
        case StatValue::Kind::kDouble: v.kind = VKind::kDouble; v.d = sv->d; break;
        case StatValue::Kind::kBool: v.kind = VKind::kBool; v.b = sv->i != 0; break;
        case StatValue::Kind::kRaw: {
          dom::element e;
          if (stats_parser_.parse(sv->raw).get(e)) Fail(ErrorKind::kData, "unreadable stats value: {}", sv->raw);
          return Walk(e, 2);
        }
      }
      return parts_.size() > 2 ? Bad() : v;
    }
    dom::element root;
    if (parser_.parse(s.line.data(), s.line.size()).get(root)) Fail(ErrorKind::kData, "the record is not valid JSON");
    dom::object o;
    dom::element e;
    if (root.get_object().get(o) || o[top].get(e)) return Missing(0);
    return Walk(e, 1);
  }

 private:
  static Value Kind(VKind k) {
    Value v;
    v.kind = k;
    return v;
  }
  static Value Bad() { return Kind(VKind::kBadPath); }
  // Key parts_[level] is missing: null if it is the last one, else the level below cannot be entered.
  Value Missing(size_t level) const { return Kind(level + 1 == parts_.size() ? VKind::kAbsent : VKind::kBadPath); }

  // `e` is the value of parts_[next - 1]; descends through the remaining parts.
  Value Walk(dom::element e, size_t next) const {
    for (; next < parts_.size(); ++next) {
      dom::object o;
      if (e.get_object().get(o)) return Bad();  // null, or a value that has no keys
      dom::element c;
      if (o[parts_[next]].get(c)) return Missing(next);
      e = c;
    }
    return FromElement(e);
  }

  std::string key_, text_key_;
  std::vector<std::string> parts_;
  dom::parser parser_, stats_parser_;
};

std::string TextKeyOf(const Params& p) { return p.Has("text_key") ? p.GetString("text_key") : "text"; }

// ---- stats_to_number -------------------------------------------------------------------------------

// numpy's pairwise summation (the float64 add reduction).
double PairwiseSum(const double* a, size_t n) {
  if (n < 8) {
    double r = 0.;
    for (size_t i = 0; i < n; ++i) r += a[i];
    return r;
  }
  if (n <= 128) {
    double r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int k = 0; k < 8; ++k) r[k] += a[i + static_cast<size_t>(k)];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return PairwiseSum(a, n2) + PairwiseSum(a + n2, n - n2);
}

// float(np.asarray(list).mean()) for a non-empty JSON array; nullopt where numpy raises (ragged nesting,
// non-numeric leaves).
std::optional<double> NumpyMean(dom::element list) {
  // The shape follows the first elements; every element must then match it.
  std::vector<size_t> shape;
  for (dom::element e = list;;) {
    dom::array a;
    if (e.get_array().get(a)) break;
    shape.push_back(a.size());
    if (a.size() == 0) break;
    e = *a.begin();
  }
  std::vector<double> leaves;
  bool floats = false, negative = false, big = false;
  auto walk = [&](auto&& self, dom::element e, size_t depth) -> bool {
    if (depth < shape.size()) {
      dom::array a;
      if (e.get_array().get(a) || a.size() != shape[depth]) return false;
      for (dom::element x : a)
        if (!self(self, x, depth + 1)) return false;
      return true;
    }
    switch (e.type()) {
      case dom::element_type::BOOL: leaves.push_back(bool(e.get_bool()) ? 1.0 : 0.0); return true;
      case dom::element_type::INT64: {
        int64_t x = int64_t(e.get_int64());
        negative |= x < 0;
        leaves.push_back(static_cast<double>(x));
        return true;
      }
      case dom::element_type::UINT64:
        big = true;
        leaves.push_back(static_cast<double>(uint64_t(e.get_uint64())));
        return true;
      case dom::element_type::DOUBLE: floats = true; leaves.push_back(double(e.get_double())); return true;
      default: return false;  // strings, null, dicts, or a list where a number belongs (ragged)
    }
  };
  if (!walk(walk, list, 0)) return std::nullopt;
  size_t n = leaves.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();  // numpy: mean of an empty array
  double sum = 0;
  if (floats || (big && negative)) {
    sum = 0. + PairwiseSum(leaves.data(), n);  // a float64 array: one reduction
  } else {
    // An integer array is cast to float64 through numpy's 8192-element buffers, each summed pairwise.
    constexpr size_t kBuffer = 8192;
    for (size_t at = 0; at < n; at += kBuffer) sum += PairwiseSum(leaves.data() + at, std::min(kBuffer, n - at));
  }
  return sum / static_cast<double>(n);
}

// stats_to_number: nullopt = unusable (the caller substitutes -+sys.maxsize).
std::optional<double> StatsToNumber(const Value& v) {
  switch (v.kind) {
    case VKind::kString: return text::PyFloat(v.s);
    case VKind::kBool: return v.b ? 1.0 : 0.0;
    case VKind::kInt: return static_cast<double>(v.i);
    case VKind::kUInt: return static_cast<double>(v.u);
    case VKind::kDouble: return v.d;
    case VKind::kList: {
      dom::array a;
      if (v.e.get_array().get(a) || a.size() == 0) return std::nullopt;
      return NumpyMean(v.e);
    }
    default: return std::nullopt;  // null, missing, dicts
  }
}

// ---- fingerprints --------------------------------------------------------------------------------------

// Byte 1 of every field selector's fingerprint.
constexpr uint8_t kFlagAbsent = 1;   // the last key is missing (reads as null)
constexpr uint8_t kFlagBadPath = 2;  // a level above it is missing, null or not a dict

uint8_t FlagsOf(const Value& v) {
  return v.kind == VKind::kAbsent ? kFlagAbsent : v.kind == VKind::kBadPath ? kFlagBadPath : 0;
}

void ForEachFingerprint(FingerprintSource& fps, size_t size, DedupStats& stats,
                        const std::function<void(uint64_t, const uint8_t*)>& f) {
  ++stats.passes;
  fps.Scan([&](uint64_t first, const uint8_t* data, size_t n) {
    for (size_t i = 0; i < n; ++i) f(first + i, data + i * size);
  });
}

void KeepAll(std::vector<bool>& keep, std::vector<uint64_t>* order) {
  std::fill(keep.begin(), keep.end(), true);
  if (order) {
    order->resize(keep.size());
    for (size_t i = 0; i < keep.size(); ++i) (*order)[i] = i;
  }
}

// Ordered values (topk, range): byte 0 the tag, byte 1 the flags, bytes 8..15 the payload.
enum OrdTag : uint8_t { kOrdDouble, kOrdInt, kOrdUInt, kOrdUnusable, kOrdNull, kOrdString, kOrdList, kOrdDict };
constexpr size_t kOrdSize = 16;

// A value in the selection's order: (cls, v) ascending, ties by index.
struct OrdRec {
  long double v;
  uint64_t index;
  uint8_t cls;
  bool operator<(const OrdRec& o) const {
    if (cls != o.cls) return cls < o.cls;
    if (v != o.v) return v < o.v;
    return index < o.index;
  }
  bool SameValue(const OrdRec& o) const { return cls == o.cls && v == o.v; }
};

// The value of an ordered fingerprint; `unusable` is what stats_to_number's failure reads as.
OrdRec OrdValue(const uint8_t* fp, uint64_t index, bool descending, int64_t unusable) {
  long double v = 0;
  bool nan = false;
  switch (fp[0]) {
    case kOrdDouble: {
      double d;
      std::memcpy(&d, fp + 8, 8);
      nan = std::isnan(d);
      v = nan ? 0 : static_cast<long double>(d);
      break;
    }
    case kOrdInt: {
      int64_t x;
      std::memcpy(&x, fp + 8, 8);
      v = static_cast<long double>(x);
      break;
    }
    case kOrdUInt: {
      uint64_t x;
      std::memcpy(&x, fp + 8, 8);
      v = static_cast<long double>(x);
      break;
    }
    default: v = static_cast<long double>(unusable); break;
  }
  // nan sorts below every number: first ascending, last descending.
  if (descending) return OrdRec{nan ? 0 : -v, index, static_cast<uint8_t>(nan ? 1 : 0)};
  return OrdRec{v, index, static_cast<uint8_t>(nan ? 0 : 1)};
}

void PutOrd(uint8_t* out, uint8_t tag, const void* payload) {
  out[0] = tag;
  if (payload) std::memcpy(out + 8, payload, 8);
}

void PutNumber(uint8_t* out, std::optional<double> d) {
  if (d) PutOrd(out, kOrdDouble, &*d);
  else PutOrd(out, kOrdUnusable, nullptr);
}

// ---- shared by the field selectors ---------------------------------------------------------------------

class FieldSelector : public Selector {
 protected:
  FieldSelector(std::string name, size_t fp_size, const Params& p)
      : Selector(std::move(name), fp_size), path_(p.GetString("field_key"), TextKeyOf(p)) {}

  // DataJuicer's own failures on the field: a level that cannot be entered, a key no sample has, and
  // (with `bad_type`) a value of the wrong type. Reports the first offending sample in input order.
  void CheckField(FingerprintSource& fps, DedupStats& stats, const std::function<const char*(const uint8_t*)>& bad_type) {
    uint64_t absent = 0, n = fps.count();
    std::optional<uint64_t> bad_at;
    std::string why;
    ForEachFingerprint(fps, fingerprint_size(), stats, [&](uint64_t i, const uint8_t* fp) {
      if (fp[1] & kFlagAbsent) ++absent;
      if (bad_at) return;
      if (fp[1] & kFlagBadPath) {
        bad_at = i;
        why = "a level above the last of the path is missing, null or not an object (DataJuicer's AttributeError)";
      } else if (const char* t = bad_type ? bad_type(fp) : nullptr) {
        bad_at = i;
        why = t;
      }
    });
    if (absent == n)
      Fail(ErrorKind::kData, "{}: field_key '{}': no sample has this field (DataJuicer's assertion fails too)", name(),
           path_.key());
    if (bad_at)
      Fail(ErrorKind::kData, "{}: field_key '{}': sample #{} reaching the op: {}", name(), path_.key(), *bad_at, why);
  }

  // The prologue of every field fingerprint: zeroes `out`, reads the field into `v` and its flags into
  // out[1]. False when nothing more is to be recorded: no field_key, or a path that cannot be entered.
  bool ReadField(const Sample& s, uint8_t* out, Value& v) {
    std::memset(out, 0, fingerprint_size());
    if (path_.empty()) return false;
    v = path_.Read(s, slot());
    out[1] = FlagsOf(v);
    return v.kind != VKind::kBadPath;
  }

  // Every sample's OrdRec fingerprint (kOrdSize bytes) as an OrdValue, sorted within the op's memory budget.
  static std::unique_ptr<dedup::ExternalSorter<OrdRec>> Sorted(FingerprintSource& fps, const DedupContext& ctx,
                                                               DedupStats& stats, bool descending, int64_t unusable) {
    uint64_t n = fps.count();
    auto sorter = std::make_unique<dedup::ExternalSorter<OrdRec>>(ctx, dedup::SortBudget(ctx, n / 8), n, stats);
    ForEachFingerprint(fps, kOrdSize, stats,
                       [&](uint64_t i, const uint8_t* fp) { sorter->Add(OrdValue(fp, i, descending, unusable)); });
    return sorter;
  }

  FieldPath path_;
};

// n from a ratio and a count as DataJuicer computes it: nullopt = "return the dataset unchanged".
std::optional<uint64_t> SelectNum(std::optional<double> ratio, std::optional<int64_t> count, uint64_t base) {
  double n;
  if (!ratio || *ratio == 0) {
    if (!count) return std::nullopt;
    n = static_cast<double>(*count);
  } else {
    n = *ratio * static_cast<double>(base);
    if (count && static_cast<double>(*count) < n) n = static_cast<double>(*count);
  }
  return static_cast<uint64_t>(std::trunc(n));  // int(), n >= 0
}

std::optional<double> OptRatio(const Params& p, const char* name, const char* op) {
  if (!p.Has(name)) return std::nullopt;
  double v = p.GetNumber(name);
  if (!(v >= 0 && v <= 1)) Fail(ErrorKind::kUsage, "{}: {} must be in [0, 1], got {}", op, name, v);
  return v;
}

std::optional<int64_t> OptPositive(const Params& p, const char* name, const char* op) {
  if (!p.Has(name)) return std::nullopt;
  int64_t v = p.GetInt(name);
  if (v <= 0) Fail(ErrorKind::kUsage, "{}: {} must be a positive integer, got {}", op, name, v);
  return v;
}

// ---- topk_specified_field_selector ---------------------------------------------------------------------

class TopkSelector : public FieldSelector {
 public:
  explicit TopkSelector(const Params& p)
      : FieldSelector("topk_specified_field_selector", kOrdSize, p),
        top_ratio_(OptRatio(p, "top_ratio", "topk_specified_field_selector")),
        topk_(OptPositive(p, "topk", "topk_specified_field_selector")),
        reverse_(p.GetBool("reverse")) {}

  DedupStats Select(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep,
                    std::vector<uint64_t>* order) override {
    DedupStats stats;
    uint64_t n_all = fps.count();
    std::optional<uint64_t> n = SelectNum(top_ratio_, topk_, n_all);
    if (n_all <= 1 || path_.empty() || !n) {
      KeepAll(keep, order);
      return stats;
    }
    bool raw = !path_.multi_level();
    CheckField(fps, stats, [&](const uint8_t* fp) -> const char* {
      if (!raw || *n == 0) return nullptr;  // nlargest(0) compares nothing
      switch (fp[0]) {
        case kOrdNull: return "the value is null, which Python cannot order against other values (TypeError)";
        case kOrdDict: return "the value is a dict, which Python cannot order (TypeError)";
        case kOrdString:
        case kOrdList:
          return "the value is a string or a list: sluice orders only numbers under a single-level field_key "
                 "(DataJuicer would compare them with Python's ordering)";
        default: return nullptr;
      }
    });
    uint64_t pos = 0;
    Sorted(fps, ctx, stats, reverse_, reverse_ ? -kMaxSize : kMaxSize)->ForEach([&](const OrdRec& r) {
      if (pos++ >= *n) return;
      keep[r.index] = true;
      if (order) order->push_back(r.index);
    });
    return stats;
  }

 protected:
  void ComputeFingerprint(const Sample& s, uint8_t* out) override {
    Value v;
    if (!ReadField(s, out, v)) return;
    if (path_.multi_level()) {
      PutNumber(out, StatsToNumber(v));
      return;
    }
    int64_t x;
    switch (v.kind) {
      case VKind::kBool: x = v.b; PutOrd(out, kOrdInt, &x); break;
      case VKind::kInt: PutOrd(out, kOrdInt, &v.i); break;
      case VKind::kUInt: PutOrd(out, kOrdUInt, &v.u); break;
      case VKind::kDouble: PutOrd(out, kOrdDouble, &v.d); break;
      case VKind::kString: PutOrd(out, kOrdString, nullptr); break;
      case VKind::kList: PutOrd(out, kOrdList, nullptr); break;
      case VKind::kDict: PutOrd(out, kOrdDict, nullptr); break;
      default: PutOrd(out, kOrdNull, nullptr); break;
    }
  }

 private:
  std::optional<double> top_ratio_;
  std::optional<int64_t> topk_;
  bool reverse_;
};

// ---- range_specified_field_selector --------------------------------------------------------------------

class RangeSelector : public FieldSelector {
 public:
  explicit RangeSelector(const Params& p)
      : FieldSelector("range_specified_field_selector", kOrdSize, p),
        lower_percentile_(OptRatio(p, "lower_percentile", "range_specified_field_selector")),
        upper_percentile_(OptRatio(p, "upper_percentile", "range_specified_field_selector")),
        lower_rank_(OptPositive(p, "lower_rank", "range_specified_field_selector")),
        upper_rank_(OptPositive(p, "upper_rank", "range_specified_field_selector")) {}

  DedupStats Select(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep,
                    std::vector<uint64_t>* order) override {
    DedupStats stats;
    uint64_t n_all = fps.count();
    if (n_all <= 1 || path_.empty() || (!lower_percentile_ && !lower_rank_) || (!upper_percentile_ && !upper_rank_)) {
      KeepAll(keep, order);
      return stats;
    }
    uint64_t lower = 0, upper = n_all;
    if (lower_percentile_) lower = static_cast<uint64_t>(std::trunc(*lower_percentile_ * static_cast<double>(n_all)));
    if (lower_rank_) lower = std::max(lower, static_cast<uint64_t>(*lower_rank_));
    if (upper_percentile_) upper = static_cast<uint64_t>(std::trunc(*upper_percentile_ * static_cast<double>(n_all)));
    if (upper_rank_) upper = std::min(upper, static_cast<uint64_t>(*upper_rank_));
    upper = std::max(lower, upper);
    CheckField(fps, stats, nullptr);
    // S = the `upper` smallest values (all N when upper > N), ascending; of S the upper - lower largest
    // are kept, ties to the lower index. So r = |S| - kept samples of S are left out: every value below
    // the r-th smallest of S, and of the values equal to it (positions [a, b) of S, ascending index) the
    // highest-index r - a.
    uint64_t s_size = std::min(upper, n_all), m = upper - lower;
    uint64_t r = s_size > m ? s_size - m : 0;
    if (r == s_size) return stats;  // nothing is kept
    uint64_t a = 0, b = 0;
    if (r > 0) {
      auto sorted = Sorted(fps, ctx, stats, false, -kMaxSize);
      uint64_t pos = 0, run_start = 0;
      OrdRec prev{}, vb{};
      bool found = false;
      sorted->ForEach([&](const OrdRec& x) {
        uint64_t p = pos++;
        if (p >= s_size) return;
        if (p == 0 || !x.SameValue(prev)) run_start = p;
        prev = x;
        if (p == r - 1) {
          vb = x;
          a = run_start;
          b = r;
          found = true;
        } else if (found && p == b && x.SameValue(vb)) {
          b = p + 1;
        }
      });
    }
    // Ascending (stats_to_number with its default reverse=True: unusable = -sys.maxsize), sorted again: an
    // external sort is read once, and holding the run of ties in memory instead would be unbounded.
    auto sorted = Sorted(fps, ctx, stats, false, -kMaxSize);
    std::vector<OrdRec> kept;
    uint64_t pos = 0;
    sorted->ForEach([&](const OrdRec& x) {
      uint64_t p = pos++;
      if (p >= s_size || !((p >= a && p < a + (b - r)) || p >= b)) return;
      keep[x.index] = true;
      if (order) kept.push_back(x);
    });
    if (order) {
      // DataJuicer's order: value descending, ties by index.
      std::sort(kept.begin(), kept.end(), [](const OrdRec& x, const OrdRec& y) {
        if (!x.SameValue(y)) return y < x;
        return x.index < y.index;
      });
      for (const auto& x : kept) order->push_back(x.index);
    }
    return stats;
  }

 protected:
  void ComputeFingerprint(const Sample& s, uint8_t* out) override {
    Value v;
    if (ReadField(s, out, v)) PutNumber(out, StatsToNumber(v));
  }

 private:
  std::optional<double> lower_percentile_, upper_percentile_;
  std::optional<int64_t> lower_rank_, upper_rank_;
};

// ---- frequency_specified_field_selector / tags_specified_field_selector --------------------------------

// The canonical form of a str / number / None under Python's == (1 == 1.0 == True, -0.0 == 0); false for
// anything else (DataJuicer's "not String, Numbers or NoneType" assertion).
bool CanonicalKey(const Value& v, std::string& out) {
  out.clear();
  auto put = [&](char tag, const void* p) {
    out += tag;
    out.append(static_cast<const char*>(p), 8);
  };
  switch (v.kind) {
    case VKind::kAbsent:
    case VKind::kNull: out = "n"; return true;
    case VKind::kBool: {
      int64_t x = v.b;
      put('i', &x);
      return true;
    }
    case VKind::kInt: put('i', &v.i); return true;
    case VKind::kUInt:
      if (v.u <= static_cast<uint64_t>(kMaxSize)) {
        int64_t x = static_cast<int64_t>(v.u);
        put('i', &x);
      } else {
        put('u', &v.u);
      }
      return true;
    case VKind::kDouble: {
      double d = v.d;
      if (std::isfinite(d) && d == std::trunc(d)) {
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
          int64_t x = static_cast<int64_t>(d);
          put('i', &x);
          return true;
        }
        if (d >= 0 && d < 18446744073709551616.0) {
          uint64_t x = static_cast<uint64_t>(d);
          put('u', &x);
          return true;
        }
      }
      if (std::isnan(d)) d = std::numeric_limits<double>::quiet_NaN();
      put('d', &d);
      return true;
    }
    case VKind::kString:
      out = "s";
      out.append(v.s);
      return true;
    default: return false;
  }
}

constexpr const char* kNotScalar = "the value is a list or a dict; DataJuicer accepts only strings, numbers and null here";

class FrequencySelector : public FieldSelector {
 public:
  // Byte 0: 1 = not a str / number / null; byte 1: flags; bytes 8..23: XXH3-128 of the canonical form.
  static constexpr size_t kSize = 24;

  explicit FrequencySelector(const Params& p)
      : FieldSelector("frequency_specified_field_selector", kSize, p),
        top_ratio_(OptRatio(p, "top_ratio", "frequency_specified_field_selector")),
        topk_(OptPositive(p, "topk", "frequency_specified_field_selector")),
        reverse_(p.GetBool("reverse")) {}

  DedupStats Select(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep,
                    std::vector<uint64_t>* order) override {
    DedupStats stats;
    uint64_t n_all = fps.count();
    if (n_all <= 1 || path_.empty()) {
      KeepAll(keep, order);
      return stats;
    }
    CheckField(fps, stats, [](const uint8_t* fp) { return fp[0] == 1 ? kNotScalar : nullptr; });
    if ((!top_ratio_ || *top_ratio_ == 0) && !topk_) {
      KeepAll(keep, order);
      return stats;
    }
    struct Rec {
      uint64_t hi, lo, index;
      bool operator<(const Rec& o) const { return hi != o.hi ? hi < o.hi : lo != o.lo ? lo < o.lo : index < o.index; }
    };
    struct Group {
      uint64_t hi, lo, first, size, rank;  // rank: 1 + position among the kept groups, 0 = not kept
    };
    std::vector<Group> groups;  // ascending (hi, lo)
    {
      dedup::ExternalSorter<Rec> sorter(ctx, dedup::SortBudget(ctx, n_all / 8), n_all, stats);
      ForEachFingerprint(fps, kSize, stats, [&](uint64_t i, const uint8_t* fp) {
        Rec r{0, 0, i};
        std::memcpy(&r.lo, fp + 8, 8);
        std::memcpy(&r.hi, fp + 16, 8);
        sorter.Add(r);
      });
      sorter.ForEach([&](const Rec& r) {
        if (groups.empty() || groups.back().hi != r.hi || groups.back().lo != r.lo) groups.push_back({r.hi, r.lo, r.index, 0, 0});
        ++groups.back().size;
      });
    }
    uint64_t n = *SelectNum(top_ratio_, topk_, groups.size());
    std::vector<uint64_t> by_size(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) by_size[g] = g;
    std::sort(by_size.begin(), by_size.end(), [&](uint64_t x, uint64_t y) {
      const Group& a = groups[x];
      const Group& b = groups[y];
      if (a.size != b.size) return reverse_ ? a.size > b.size : a.size < b.size;
      return a.first < b.first;  // Python's stable sort over the groups in first-appearance order
    });
    uint64_t kept_groups = std::min<uint64_t>(n, groups.size());
    for (uint64_t k = 0; k < kept_groups; ++k) groups[by_size[k]].rank = k + 1;
    std::vector<std::vector<uint64_t>> buckets(order ? kept_groups : 0);
    ForEachFingerprint(fps, kSize, stats, [&](uint64_t i, const uint8_t* fp) {
      uint64_t hi, lo;
      std::memcpy(&lo, fp + 8, 8);
      std::memcpy(&hi, fp + 16, 8);
      auto it = std::lower_bound(groups.begin(), groups.end(), std::make_pair(hi, lo),
                                 [](const Group& g, const std::pair<uint64_t, uint64_t>& k) {
                                   return g.hi != k.first ? g.hi < k.first : g.lo < k.second;
                                 });
      if (it == groups.end() || it->rank == 0) return;
      keep[i] = true;
      if (order) buckets[it->rank - 1].push_back(i);
    });
    if (order)
      for (const auto& b : buckets) order->insert(order->end(), b.begin(), b.end());
    return stats;
  }

 protected:
  void ComputeFingerprint(const Sample& s, uint8_t* out) override {
    Value v;
    if (!ReadField(s, out, v)) return;
    if (!CanonicalKey(v, key_)) {
      out[0] = 1;
      return;
    }
    XXH128_hash_t h = XXH3_128bits(key_.data(), key_.size());
    std::memcpy(out + 8, &h.low64, 8);
    std::memcpy(out + 16, &h.high64, 8);
  }

 private:
  std::optional<double> top_ratio_;
  std::optional<int64_t> topk_;
  bool reverse_;
  std::string key_;
};

class TagsSelector : public FieldSelector {
 public:
  // Byte 0: 0 no match, 1 match, 2 not a str / number / null; byte 1: flags.
  static constexpr size_t kSize = 2;

  explicit TagsSelector(const Params& p) : FieldSelector("tags_specified_field_selector", kSize, p) {
    const ParamValue& t = p.Get("target_tags");
    if (t.type() != ParamValue::Type::kList)
      Fail(ErrorKind::kUsage, "tags_specified_field_selector: target_tags must be a list of strings, got {}{}", t.ToJson(),
           t.is_null() ? " (DataJuicer's set(None) fails too)" : "");
    for (const auto& x : t.as_list()) {
      if (x.type() != ParamValue::Type::kString)
        Fail(ErrorKind::kUsage, "tags_specified_field_selector: target_tags must be a list of strings, got {}", t.ToJson());
      tags_.insert(x.as_string());
    }
  }

  DedupStats Select(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep,
                    std::vector<uint64_t>* order) override {
    DedupStats stats;
    if (fps.count() <= 1 || path_.empty()) {
      KeepAll(keep, order);
      return stats;
    }
    CheckField(fps, stats, [](const uint8_t* fp) { return fp[0] == 2 ? kNotScalar : nullptr; });
    ForEachFingerprint(fps, kSize, stats, [&](uint64_t i, const uint8_t* fp) {
      if (fp[0] != 1) return;
      keep[i] = true;
      if (order) order->push_back(i);
    });
    return stats;
  }

 protected:
  void ComputeFingerprint(const Sample& s, uint8_t* out) override {
    Value v;
    if (!ReadField(s, out, v)) return;
    if (v.kind == VKind::kList || v.kind == VKind::kDict) out[0] = 2;
    else if (v.kind == VKind::kString && tags_.find(v.s) != tags_.end()) out[0] = 1;
  }

 private:
  // Looked up by string_view: no string is built per sample.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view x) const { return std::hash<std::string_view>{}(x); }
  };
  std::unordered_set<std::string, Hash, std::equal_to<>> tags_;
};

// ---- random_selector -----------------------------------------------------------------------------------

uint64_t SplitMix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

class RandomSelector : public Selector {
 public:
  static constexpr uint64_t kSeed = 42;  // DataJuicer's default sampling seed

  explicit RandomSelector(const Params& p)
      : Selector("random_selector", 1),
        select_ratio_(OptRatio(p, "select_ratio", "random_selector")),
        select_num_(OptPositive(p, "select_num", "random_selector")) {
    if (select_ratio_ && *select_ratio_ == 0 && !select_num_)
      Fail(ErrorKind::kUsage,
           "random_selector: select_ratio 0 needs select_num (DataJuicer then samples select_num=None and fails)");
  }

  DedupStats Select(FingerprintSource& fps, const DedupContext& ctx, std::vector<bool>& keep,
                    std::vector<uint64_t>* order) override {
    DedupStats stats;
    uint64_t n_all = fps.count();
    std::optional<uint64_t> n = SelectNum(select_ratio_, select_num_, n_all);
    if (n_all <= 1 || !n || *n == 0 || *n >= n_all) {
      KeepAll(keep, order);
      return stats;
    }
    uint64_t left = *n;
    for (uint64_t i = 0; i < n_all && left > 0; ++i) {
      unsigned __int128 scaled = static_cast<unsigned __int128>(SplitMix64(kSeed + i)) * (n_all - i);
      if (static_cast<uint64_t>(scaled >> 64) < left) {
        keep[i] = true;
        --left;
        if (order) order->push_back(i);
      }
    }
    return stats;
  }

 protected:
  void ComputeFingerprint(const Sample&, uint8_t* out) override { out[0] = 0; }

 private:
  std::optional<double> select_ratio_;
  std::optional<int64_t> select_num_;
};

}  // namespace

void RegisterSelectors(std::vector<OpDef>& ops) {
  auto field_key = [] {
    return ParamSpec{"field_key", ParamType::kString, ParamValue::String(""),
                     "dotted path of the field (e.g. meta.key1.count, __dj__stats__.text_len); empty keeps everything", false};
  };
  ops.push_back({"frequency_specified_field_selector", OpKind::kSelector,
                 "keep the samples of the most (reverse) or least frequent values of a field",
                 {field_key(),
                  {"top_ratio", ParamType::kNumber, {}, "fraction of the distinct values to keep (0..1); null or 0: use topk"},
                  {"topk", ParamType::kInt, {}, "number of distinct values to keep (> 0); the smaller of the two applies"},
                  {"reverse", ParamType::kBool, ParamValue::Bool(true), "most frequent values first", false}},
                 [](const Params& p) { return std::make_unique<FrequencySelector>(p); }});
  ops.push_back({"random_selector", OpKind::kSelector,
                 "keep a seeded random subset of select_num samples or a select_ratio fraction",
                 {{"select_ratio", ParamType::kNumber, {}, "fraction of the samples to keep (0..1); null or 0: use select_num"},
                  {"select_num", ParamType::kInt, {}, "number of samples to keep (> 0); the smaller of the two applies"}},
                 [](const Params& p) { return std::make_unique<RandomSelector>(p); }});
  ops.push_back({"range_specified_field_selector", OpKind::kSelector,
                 "keep the samples ranked between a lower and an upper bound by a field's value",
                 {field_key(),
                  {"lower_percentile", ParamType::kNumber, {}, "lower bound as a fraction of the samples (0..1)"},
                  {"upper_percentile", ParamType::kNumber, {}, "upper bound as a fraction of the samples (0..1)"},
                  {"lower_rank", ParamType::kInt, {}, "lower bound as a rank (> 0); the larger lower bound applies"},
                  {"upper_rank", ParamType::kInt, {}, "upper bound as a rank (> 0); the smaller upper bound applies"}},
                 [](const Params& p) { return std::make_unique<RangeSelector>(p); }});
  ops.push_back({"tags_specified_field_selector", OpKind::kSelector,
                 "keep the samples whose field's value is one of target_tags",
                 {field_key(), {"target_tags", ParamType::kAny, {}, "the values to keep (a list of strings; required)"}},
                 [](const Params& p) { return std::make_unique<TagsSelector>(p); }});
  ops.push_back({"topk_specified_field_selector", OpKind::kSelector,
                 "keep the samples with the largest (reverse) or smallest values of a field",
                 {field_key(),
                  {"top_ratio", ParamType::kNumber, {}, "fraction of the samples to keep (0..1); null or 0: use topk"},
                  {"topk", ParamType::kInt, {}, "number of samples to keep (> 0); the smaller of the two applies"},
                  {"reverse", ParamType::kBool, ParamValue::Bool(true), "keep the largest values", false}},
                 [](const Params& p) { return std::make_unique<TopkSelector>(p); }});
}

}  // namespace sluice
