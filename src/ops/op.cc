#include "ops/op.h"

#include <algorithm>

#include "core/error.h"
#include "core/exact_compare.h"

namespace sluice {

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kMapper: return "mapper";
    case OpKind::kFilter: return "filter";
    case OpKind::kDeduplicator: return "deduplicator";
    case OpKind::kSelector: return "selector";
  }
  return "?";
}

Filter::Filter(std::string name, const Params& p)
    : Op(std::move(name), OpKind::kFilter),
      min_closed_(p.GetBool("min_closed_interval")),
      max_closed_(p.GetBool("max_closed_interval")),
      reversed_(p.GetBool("reversed_range")) {}

StatNumberValue StatNumberValue::Int(int64_t i) {
  StatNumberValue v;
  v.kind_ = kInt;
  v.i_ = i;
  return v;
}

StatNumberValue StatNumberValue::BigInt(std::string_view integer) {
  StatNumberValue v;
  v.kind_ = kBigInt;
  v.integer_ = integer;
  return v;
}

std::partial_ordering StatNumberValue::CompareTo(double threshold) const {
  switch (kind_) {
    case kInt: return CompareIntegerWithDouble(i_, threshold);
    case kBigInt: return CompareIntegerWithDouble(integer_, threshold);
    case kDouble: break;
  }
  return d_ <=> threshold;
}

StatNumberValue Filter::StatNumber(const Sample& s, std::string_view key) {
  const StatValue* v = s.stats.Find(key);
  if (v == nullptr) Fail(ErrorKind::kInternal, "stat '{}' was not computed", key);
  switch (v->kind) {
    case StatValue::Kind::kInt:
    case StatValue::Kind::kBool: return StatNumberValue::Int(v->i);
    case StatValue::Kind::kDouble: return StatNumberValue(v->d);
    case StatValue::Kind::kRaw: break;
  }
  // A cached integer beyond int64 keeps its JSON text (core/record.h); DataJuicer compares it as a Python int.
  if (IsJsonInteger(v->raw)) return StatNumberValue::BigInt(v->raw);
  Fail(ErrorKind::kInput, "cached stat '{}' is not a number: {}", key, v->raw);
}

bool Filter::InRange(const StatNumberValue& v, std::optional<double> lo, std::optional<double> hi) const {
  bool min_closed = reversed_ ? !min_closed_ : min_closed_;
  bool max_closed = reversed_ ? !max_closed_ : max_closed_;
  bool ok = true;
  if (lo) ok = ok && (min_closed ? v.CompareTo(*lo) >= 0 : v.CompareTo(*lo) > 0);
  if (hi) ok = ok && (max_closed ? v.CompareTo(*hi) <= 0 : v.CompareTo(*hi) < 0);
  return reversed_ ? !ok : ok;
}

std::optional<double> OptionalNumber(const Params& p, const std::string& name) {
  const ParamValue& v = p.Get(name);
  if (v.is_null()) return std::nullopt;
  return v.as_number();
}

// Parameters DataJuicer accepts on every op (§1.4). Those that steer DataJuicer's own scheduling
// (batching, processes, accelerators, resource hints) have no meaning in sluice's engine and are accepted
// so that real recipes load unchanged; `sluice ops` says so next to each.
static std::vector<ParamSpec> CommonParams() {
  const char* sched = "accepted for DataJuicer compatibility; sluice schedules by partitions and np";
  return {
      {"text_key", ParamType::kString, {}, "field holding the text (default: the recipe's first text_keys)"},
      {"skip_op_error", ParamType::kBool, {}, "per-op override of the recipe's skip_op_error"},
      {"batch_size", ParamType::kInt, ParamValue::Int(1000), sched},
      {"num_proc", ParamType::kInt, {}, sched},
      {"turbo", ParamType::kBool, ParamValue::Bool(false), sched},
      {"accelerator", ParamType::kString, {}, sched},
      {"cpu_required", ParamType::kNumber, {}, sched},
      {"mem_required", ParamType::kAny, {}, sched},
      {"gpu_required", ParamType::kNumber, {}, sched},
      {"index_key", ParamType::kString, {}, "accepted for DataJuicer compatibility; unused by text ops"},
      {"work_dir", ParamType::kString, {}, "accepted for DataJuicer compatibility; unused by text ops"},
      {"image_key", ParamType::kString, {}, "multimodal field name; unused by text ops"},
      {"audio_key", ParamType::kString, {}, "multimodal field name; unused by text ops"},
      {"video_key", ParamType::kString, {}, "multimodal field name; unused by text ops"},
      {"image_bytes_key", ParamType::kString, {}, "multimodal field name; unused by text ops"},
  };
}

static std::vector<ParamSpec> FilterParams() {
  return {
      {"min_closed_interval", ParamType::kBool, ParamValue::Bool(true), "lower bound inclusive (>=) if true, else >", false},
      {"max_closed_interval", ParamType::kBool, ParamValue::Bool(true), "upper bound inclusive (<=) if true, else <", false},
      {"reversed_range", ParamType::kBool, ParamValue::Bool(false), "keep the complement of the range", false},
  };
}

std::vector<ParamSpec> FullParamSpecs(const OpDef& def) {
  std::vector<ParamSpec> all = def.params;
  if (def.kind == OpKind::kFilter)
    for (auto& s : FilterParams()) all.push_back(std::move(s));
  for (auto& s : CommonParams()) all.push_back(std::move(s));
  return all;
}

}  // namespace sluice
