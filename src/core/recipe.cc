#include "core/recipe.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <cstring>

#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/json_writer.h"

namespace sluice {

const char* CheckpointStrategyName(CheckpointStrategy s) {
  switch (s) {
    case CheckpointStrategy::kEveryOp: return "every_op";
    case CheckpointStrategy::kEveryPartition: return "every_partition";
    case CheckpointStrategy::kEveryNOps: return "every_n_ops";
    case CheckpointStrategy::kManual: return "manual";
    case CheckpointStrategy::kDisabled: return "disabled";
  }
  return "?";
}
const char* RetentionPolicyName(RetentionPolicy p) {
  switch (p) {
    case RetentionPolicy::kKeepAll: return "keep_all";
    case RetentionPolicy::kKeepFailedOnly: return "keep_failed_only";
    case RetentionPolicy::kCleanupAll: return "cleanup_all";
  }
  return "?";
}
const char* RetryBackoffName(RetryBackoff b) {
  switch (b) {
    case RetryBackoff::kExponential: return "exponential";
    case RetryBackoff::kLinear: return "linear";
    case RetryBackoff::kFixed: return "fixed";
  }
  return "?";
}
const char* BadRecordPolicyName(BadRecordPolicy p) {
  switch (p) {
    case BadRecordPolicy::kError: return "error";
    case BadRecordPolicy::kSkip: return "skip";
    case BadRecordPolicy::kQuarantine: return "quarantine";
  }
  return "?";
}

namespace {

// How a recipe key is treated.
enum class KeyUse {
  kHandled,      // sluice implements it
  kCompat,       // steers only DataJuicer's own machinery (Ray, HF caches, batching); no meaning here
  kUnsupported,  // a feature sluice does not have yet: accepted only when off/empty
};

struct KeyInfo {
  const char* name;
  KeyUse use;
};

const KeyInfo kTopLevel[] = {
    {"project_name", KeyUse::kHandled}, {"dataset_path", KeyUse::kHandled},
    {"export_path", KeyUse::kHandled}, {"export_type", KeyUse::kHandled},
    {"export_shard_size", KeyUse::kHandled}, {"text_keys", KeyUse::kHandled},
    {"process", KeyUse::kHandled}, {"skip_op_error", KeyUse::kHandled},
    {"keep_stats_in_res_ds", KeyUse::kHandled}, {"keep_hashes_in_res_ds", KeyUse::kHandled},
    {"np", KeyUse::kHandled}, {"job_id", KeyUse::kHandled}, {"work_dir", KeyUse::kHandled},
    {"event_log_dir", KeyUse::kHandled}, {"checkpoint_dir", KeyUse::kHandled},
    {"on_bad_record", KeyUse::kHandled}, {"partition", KeyUse::kHandled},
    {"checkpoint", KeyUse::kHandled}, {"fault_tolerance", KeyUse::kHandled},
    {"event_logging", KeyUse::kHandled}, {"intermediate_storage", KeyUse::kHandled},
    {"resource_optimization", KeyUse::kHandled},
    // legacy flat forms of the nested sections (the nested value wins)
    {"partition_size", KeyUse::kHandled}, {"max_partition_size_mb", KeyUse::kHandled},
    {"enable_fault_tolerance", KeyUse::kHandled}, {"max_retries", KeyUse::kHandled},
    {"retry_backoff", KeyUse::kHandled}, {"preserve_intermediate_data", KeyUse::kHandled},
    {"storage_format", KeyUse::kHandled}, {"use_arrow_batches", KeyUse::kCompat},
    {"arrow_batch_size", KeyUse::kCompat}, {"arrow_memory_mapping", KeyUse::kCompat},
    // DataJuicer machinery with no meaning in sluice
    {"executor_type", KeyUse::kCompat}, {"ray_address", KeyUse::kCompat}, {"use_cache", KeyUse::kCompat},
    {"ds_cache_dir", KeyUse::kCompat}, {"cache_compress", KeyUse::kCompat}, {"temp_dir", KeyUse::kCompat},
    {"open_monitor", KeyUse::kCompat}, {"adaptive_batch_size", KeyUse::kCompat}, {"turbo", KeyUse::kCompat},
    {"export_in_parallel", KeyUse::kCompat}, {"partition_dir", KeyUse::kCompat},
    {"image_key", KeyUse::kHandled}, {"image_bytes_key", KeyUse::kCompat}, {"audio_key", KeyUse::kHandled},
    {"video_key", KeyUse::kHandled}, {"image_special_token", KeyUse::kCompat},
    {"audio_special_token", KeyUse::kCompat}, {"video_special_token", KeyUse::kCompat},
    {"eoc_special_token", KeyUse::kCompat}, {"debug", KeyUse::kCompat},
    // not in sluice yet: accepted only when off
    {"open_tracer", KeyUse::kHandled}, {"op_list_to_trace", KeyUse::kHandled},
    {"trace_num", KeyUse::kHandled}, {"op_fusion", KeyUse::kUnsupported},
    {"fusion_strategy", KeyUse::kCompat}, {"use_checkpoint", KeyUse::kUnsupported},
    {"dataset", KeyUse::kUnsupported}, {"validators", KeyUse::kUnsupported},
    {"generated_dataset_config", KeyUse::kUnsupported}, {"custom_operator_paths", KeyUse::kUnsupported},
    {"suffixes", KeyUse::kUnsupported}, {"export_extra_args", KeyUse::kUnsupported},
    {"percentiles", KeyUse::kUnsupported}, {"export_original_dataset", KeyUse::kUnsupported},
    {"save_stats_in_one_file", KeyUse::kUnsupported}, {"hpo_config", KeyUse::kUnsupported},
    {"open_insight_mining", KeyUse::kUnsupported}, {"op_list_to_mine", KeyUse::kUnsupported},
    {"auto", KeyUse::kUnsupported}, {"auto_num", KeyUse::kCompat}, {"data_probe_algo", KeyUse::kCompat},
    {"data_probe_ratio", KeyUse::kCompat}, {"notification", KeyUse::kUnsupported},
    {"annotation", KeyUse::kUnsupported},
};

const KeyInfo kPartition[] = {
    {"mode", KeyUse::kHandled}, {"num_of_partitions", KeyUse::kHandled}, {"size", KeyUse::kHandled},
    {"max_size_mb", KeyUse::kHandled}, {"auto_configure", KeyUse::kHandled},
    {"enable_fault_tolerance", KeyUse::kHandled}, {"max_retries", KeyUse::kHandled},
    {"retry_backoff", KeyUse::kHandled},
};
const KeyInfo kResourceOptimization[] = {{"auto_configure", KeyUse::kHandled}};
const KeyInfo kCheckpoint[] = {
    {"enabled", KeyUse::kHandled}, {"strategy", KeyUse::kHandled}, {"n_ops", KeyUse::kHandled},
    {"op_names", KeyUse::kHandled},
};
const KeyInfo kFaultTolerance[] = {
    {"enabled", KeyUse::kHandled}, {"max_retries", KeyUse::kHandled}, {"retry_backoff", KeyUse::kHandled},
    {"allow_partial", KeyUse::kHandled}, {"retry_base_seconds", KeyUse::kHandled},
};
const KeyInfo kEventLogging[] = {
    {"enabled", KeyUse::kHandled}, {"max_log_size_mb", KeyUse::kHandled}, {"backup_count", KeyUse::kHandled},
};
const KeyInfo kIntermediate[] = {
    {"format", KeyUse::kHandled}, {"compression", KeyUse::kHandled},
    {"preserve_intermediate_data", KeyUse::kHandled}, {"cleanup_on_success", KeyUse::kHandled},
    {"retention_policy", KeyUse::kHandled}, {"max_retention_days", KeyUse::kHandled},
    {"cleanup_temp_files", KeyUse::kCompat}, {"write_partitions", KeyUse::kCompat},
    {"use_arrow_batches", KeyUse::kCompat}, {"arrow_batch_size", KeyUse::kCompat},
    {"arrow_memory_mapping", KeyUse::kCompat}, {"parquet_batch_size", KeyUse::kCompat},
};

// The values set by command-line overrides (--key value) while LoadRecipe reads the recipe: an error in one
// names the option, not a line of the file (the parsed value's own line 1 would point into the recipe).
struct OverrideValue {
  YAML::Node node;
  std::string key;   // dotted
  std::string text;  // as typed: a string key takes it verbatim
};
thread_local const std::vector<OverrideValue>* override_values = nullptr;

std::string OnCommandLine(const std::string& key) { return "command line --" + key; }

std::string Where(const std::string& file, const YAML::Node& n) {
  if (override_values != nullptr)
    for (const auto& o : *override_values)
      if (n.is(o.node)) return OnCommandLine(o.key);
  if (n.Mark().line < 0) return file;
  return fmt::format("{}:{}", file, n.Mark().line + 1);
}

bool IsOff(const std::string& file, const YAML::Node& n);
template <size_t N>
void CheckKeys(const std::string& file, const YAML::Node& map, const KeyInfo (&table)[N], const std::string& section) {
  std::vector<std::string> names;
  for (const auto& k : table) names.push_back(k.name);
  std::vector<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key = it->first.as<std::string>();
    // yaml-cpp keeps duplicate keys and lookups return the first; DataJuicer's loader keeps the last.
    if (std::find(seen.begin(), seen.end(), key) != seen.end())
      Fail(ErrorKind::kUsage, "{}: recipe key '{}' appears twice (DataJuicer would silently use the last one; remove one)",
           Where(file, it->first), section.empty() ? key : section + "." + key);
    if (key == "<<" && it->first.Tag() == "?")
      Fail(ErrorKind::kUsage, "{}: a YAML merge key ('<<') is supported in op parameters only, not in {}", Where(file, it->first),
           section.empty() ? "the top level of a recipe" : "'" + section + "'");
    seen.push_back(key);
    const KeyInfo* info = nullptr;
    for (const auto& k : table)
      if (key == k.name) info = &k;
    std::string full = section.empty() ? key : section + "." + key;
    // A key no line of the file holds was added by a command-line override.
    std::string where = it->first.Mark().line < 0 ? OnCommandLine(full) : Where(file, it->first);
    if (info == nullptr) Fail(ErrorKind::kUsage, "{}: unknown recipe key '{}'{}", where, full, DidYouMean(key, names));
    if (info->use == KeyUse::kUnsupported && !IsOff(file, it->second))
      Fail(ErrorKind::kUsage, "{}: recipe key '{}' is not supported by sluice yet; remove it or turn it off", where, full);
  }
}

// Scalars are resolved as DataJuicer resolves them, not as yaml-cpp (YAML 1.2) would: DataJuicer reads a recipe
// through jsonargparse's loader, which is PyYAML's SafeLoader (YAML 1.1) without the timestamp resolver and with
// a float pattern that also takes `1e-3` (plain PyYAML reads that as a string). The differences from YAML 1.2
// change values silently (`017` is 15, `Yes` and `ON` are booleans, `1_000` is 1000, `-.5` is a string), so
// sluice follows YAML 1.1 and refuses what that loader cannot construct.
const std::regex kYaml11Int(
    "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+");
const std::regex kJsonargparseFloat(
    "[-+]?[0-9][0-9_]*\\.[0-9_]*([eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|\\.[0-9_]+([eE][-+][0-9]+)?"
    "|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN)");

[[noreturn]] void FailValue(const std::string& file, const YAML::Node& n, const std::string& why) {
  Fail(ErrorKind::kUsage, "{}: {}", Where(file, n), why);
}

// PyYAML's construct_yaml_int on text the YAML 1.1 int pattern matched. Beyond int64 the value becomes the
// nearest double (Python keeps the exact integer; a number parameter compares the same, an int one refuses it).
ParamValue ConstructInt(const std::string& file, const YAML::Node& n, const std::string& text) {
  std::string v;
  for (char c : text)
    if (c != '_') v += c;
  bool neg = !v.empty() && v[0] == '-';
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) v.erase(0, 1);
  long double mag = 0;
  auto digits = [&](size_t from, int base) {
    if (from >= v.size()) FailValue(file, n, fmt::format("'{}' is not an integer (no digits)", text));
    for (size_t i = from; i < v.size(); ++i) {
      int d = std::isdigit(static_cast<unsigned char>(v[i])) ? v[i] - '0' : std::tolower(v[i]) - 'a' + 10;
      mag = mag * base + d;
    }
  };
  if (v == "0") {
    mag = 0;
  } else if (v.starts_with("0b")) {
    digits(2, 2);
  } else if (v.starts_with("0x")) {
    digits(2, 16);
  } else if (v[0] == '0') {
    digits(1, 8);  // YAML 1.1: a leading zero means octal (017 is 15)
  } else if (v.find(':') != std::string::npos) {
    // sexagesimal, YAML 1.1: 1:30 is 90
    size_t start = 0;
    while (true) {
      size_t c = v.find(':', start);
      mag = mag * 60 + std::stoll(v.substr(start, c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
  } else {
    digits(0, 10);
  }
  if (neg) mag = -mag;
  if (mag >= -9223372036854775808.0L && mag < 9223372036854775808.0L) return ParamValue::Int(static_cast<int64_t>(mag));
  return ParamValue::Double(static_cast<double>(mag));
}

// PyYAML's construct_yaml_float: '_' dropped, case ignored, sexagesimal allowed; overflow is inf as in Python.
std::optional<double> ConstructFloat(const std::string& text) {
  std::string v;
  for (char c : text)
    if (c != '_') v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double sign = 1;
  if (!v.empty() && (v[0] == '-' || v[0] == '+')) {
    if (v[0] == '-') sign = -1;
    v.erase(0, 1);
  }
  if (v == ".inf") return sign * INFINITY;
  if (v == ".nan") return NAN;
  if (v.find(':') != std::string::npos) {
    double r = 0;
    size_t start = 0;
    while (true) {
      size_t c = v.find(':', start);
      std::string part = v.substr(start, c == std::string::npos ? std::string::npos : c - start);
      char* end = nullptr;
      double d = std::strtod(part.c_str(), &end);
      if (part.empty() || *end != '\0') return std::nullopt;
      r = r * 60 + d;
      if (c == std::string::npos) break;
      start = c + 1;
    }
    return sign * r;
  }
  if (v.empty() || !(std::isdigit(static_cast<unsigned char>(v[0])) || v[0] == '.')) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return sign * d;
}

// A plain (unquoted, untagged) scalar, resolved by the loader's implicit resolvers.
ParamValue ResolvePlain(const std::string& file, const YAML::Node& n, const std::string& s) {
  static const char* const kNull[] = {"", "~", "null", "Null", "NULL"};
  static const char* const kTrue[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const char* const kFalse[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  for (const char* w : kNull)
    if (s == w) return {};
  for (const char* w : kTrue)
    if (s == w) return ParamValue::Bool(true);
  for (const char* w : kFalse)
    if (s == w) return ParamValue::Bool(false);
  if (std::regex_match(s, kYaml11Int)) return ConstructInt(file, n, s);
  if (std::regex_match(s, kJsonargparseFloat)) {
    if (auto d = ConstructFloat(s)) return ParamValue::Double(*d);
    FailValue(file, n, fmt::format("'{}' is not a number", s));
  }
  if (s == "=")
    FailValue(file, n, "a plain '=' is YAML 1.1's value key, which DataJuicer's YAML loader cannot read; quote it to mean the string \"=\"");
  return ParamValue::String(s);
}

// A scalar with an explicit tag (`!!str 5`, `!!float 3`), constructed as PyYAML's SafeLoader does.
ParamValue ConstructTagged(const std::string& file, const YAML::Node& n, const std::string& tag, const std::string& s) {
  static const std::string kCore = "tag:yaml.org,2002:";
  if (tag == kCore + "str") return ParamValue::String(s);
  if (tag == kCore + "null") return {};
  if (tag == kCore + "bool") {
    std::string l;
    for (char c : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (l == "yes" || l == "true" || l == "on") return ParamValue::Bool(true);
    if (l == "no" || l == "false" || l == "off") return ParamValue::Bool(false);
    FailValue(file, n, fmt::format("!!bool '{}' is not a YAML 1.1 boolean", s));
  }
  if (tag == kCore + "int") {
    if (!std::regex_match(s, kYaml11Int)) FailValue(file, n, fmt::format("!!int '{}' is not a YAML 1.1 integer", s));
    return ConstructInt(file, n, s);
  }
  if (tag == kCore + "float") {
    if (auto d = ConstructFloat(s)) return ParamValue::Double(*d);
    FailValue(file, n, fmt::format("!!float '{}' is not a number", s));
  }
  std::string shown = tag.starts_with(kCore) ? "!!" + tag.substr(kCore.size()) : tag;
  FailValue(file, n, fmt::format("YAML tag '{}' is not supported in a recipe (only !!str, !!int, !!float, !!bool and !!null)", shown));
}

std::string KeyText(const std::string& file, const YAML::Node& key) {
  if (!key.IsScalar()) FailValue(file, key, "a mapping key must be a plain string");
  return key.Scalar();
}

// The entries of a mapping with YAML 1.1 merge keys (`<<: *defaults`) applied as PyYAML applies them: the
// merged mappings' entries first (an earlier mapping of a `<<` list wins over a later one), the mapping's own
// entries after them and winning. A key the mapping itself gives twice is refused: PyYAML would silently
// keep the last value, and a recipe saying two things is more likely a mistake than a choice.
// `twice` says what a key given twice is ("parameter 'x' of op 'y'").
std::vector<std::pair<std::string, YAML::Node>> MapEntries(const std::string& file, const YAML::Node& map,
                                                          const std::function<std::string(const std::string&)>& twice) {
  std::vector<std::pair<std::string, YAML::Node>> merged, own;
  auto merge_from = [&](const YAML::Node& src) {
    if (!src.IsMap()) FailValue(file, src, "a merge key ('<<') must name a mapping or a list of mappings");
    for (auto& [k, v] : MapEntries(file, src, twice)) {
      bool seen = false;
      for (const auto& [mk, mv] : merged) seen |= mk == k;
      if (!seen) merged.emplace_back(k, v);
    }
  };
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string k = KeyText(file, it->first);
    if (k == "<<" && it->first.Tag() == "?") {
      if (it->second.IsSequence()) {
        for (const auto& e : it->second) merge_from(e);
      } else {
        merge_from(it->second);
      }
      continue;
    }
    for (const auto& [ok, ov] : own)
      if (ok == k)
        FailValue(file, it->first, twice(k) + " is given twice (DataJuicer would silently use the last one; remove one)");
    own.emplace_back(k, it->second);
  }
  std::vector<std::pair<std::string, YAML::Node>> out;
  for (auto& [k, v] : merged) {
    bool overridden = false;
    for (const auto& [ok, ov] : own) overridden |= ok == k;
    if (!overridden) out.emplace_back(k, v);
  }
  for (auto& e : own) out.push_back(std::move(e));
  return out;
}

ParamValue ToParam(const std::string& file, const YAML::Node& n) {
  if (!n || n.IsNull()) return {};
  const std::string& tag = n.Tag();
  if (n.IsSequence() || n.IsMap()) {
    if (tag != "?" && tag != "" && tag != "tag:yaml.org,2002:seq" && tag != "tag:yaml.org,2002:map")
      FailValue(file, n, fmt::format("YAML tag '{}' is not supported in a recipe", tag));
  }
  if (n.IsSequence()) {
    std::vector<ParamValue> items;
    for (const auto& e : n) items.push_back(ToParam(file, e));
    return ParamValue::List(std::move(items));
  }
  if (n.IsMap()) {
    std::vector<std::pair<std::string, ParamValue>> items;
    auto twice = [](const std::string& k) { return fmt::format("key '{}' of this mapping", k); };
    for (auto& [k, v] : MapEntries(file, n, twice)) items.emplace_back(k, ToParam(file, v));
    return ParamValue::Map(std::move(items));
  }
  const std::string& s = n.Scalar();
  if (tag == "!") return ParamValue::String(s);  // quoted: always a string
  if (tag != "?" && !tag.empty()) return ConstructTagged(file, n, tag, s);
  return ResolvePlain(file, n, s);
}

bool IsOff(const std::string& file, const YAML::Node& n) {
  if (!n || n.IsNull()) return true;
  if (n.IsSequence() || n.IsMap()) return n.size() == 0;
  ParamValue v = ToParam(file, n);
  return v.is_null() || (v.type() == ParamValue::Type::kBool && !v.as_bool()) ||
         (v.type() == ParamValue::Type::kInt && v.as_int() == 0) ||
         (v.type() == ParamValue::Type::kString && v.as_string().empty());
}

// What a non-string value is, for the message refusing it where a string is needed.
std::string Describe(const ParamValue& v) {
  switch (v.type()) {
    case ParamValue::Type::kBool: return fmt::format("the boolean {}", v.as_bool() ? "true" : "false");
    case ParamValue::Type::kInt: return fmt::format("the integer {}", v.as_int());
    case ParamValue::Type::kDouble: return fmt::format("the number {}", v.ToJson());
    default: return v.ToJson();
  }
}

const std::string* OverrideText(const YAML::Node& n) {
  if (override_values != nullptr)
    for (const auto& o : *override_values)
      if (n.is(o.node)) return &o.text;
  return nullptr;
}

// Typed readers: each names the key and the recipe line on a wrong type.
struct Reader {
  const std::string& file;

  bool Bool(const YAML::Node& n, const std::string& key) const {
    ParamValue v = ToParam(file, n);
    if (v.type() != ParamValue::Type::kBool) Fail(ErrorKind::kUsage, "{}: '{}' must be true or false", Where(file, n), key);
    return v.as_bool();
  }
  int64_t Int(const YAML::Node& n, const std::string& key, int64_t min) const {
    ParamValue v = ToParam(file, n);
    if (v.type() != ParamValue::Type::kInt || v.as_int() < min)
      Fail(ErrorKind::kUsage, "{}: '{}' must be an integer >= {}, got '{}'", Where(file, n), key, min, n.Scalar());
    return v.as_int();
  }
  double Number(const YAML::Node& n, const std::string& key, double min_exclusive) const {
    ParamValue v = ToParam(file, n);
    if ((v.type() != ParamValue::Type::kInt && v.type() != ParamValue::Type::kDouble) || !(v.as_number() > min_exclusive))
      Fail(ErrorKind::kUsage, "{}: '{}' must be a number > {}, got '{}'", Where(file, n), key, min_exclusive, n.Scalar());
    return v.as_number();
  }
  // DataJuicer types these keys `str` and refuses a YAML value of another type (`project_name: 017` is the
  // integer 15); a command-line value is text as given, as in DataJuicer.
  std::string String(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) Fail(ErrorKind::kUsage, "{}: '{}' must be a string", Where(file, n), key);
    if (const std::string* typed = OverrideText(n)) return *typed;
    ParamValue v = ToParam(file, n);
    if (v.type() != ParamValue::Type::kString)
      Fail(ErrorKind::kUsage, "{}: '{}' must be a string; YAML reads '{}' as {}: quote it", Where(file, n), key, n.Scalar(),
           Describe(v));
    return v.as_string();
  }
  std::vector<std::string> StringList(const YAML::Node& n, const std::string& key, bool split_commas) const {
    std::vector<std::string> out;
    if (!n || n.IsNull()) return out;
    if (n.IsScalar()) {
      std::string s = String(n, key);
      if (!split_commas) return {s};
      size_t start = 0;
      while (start <= s.size()) {
        size_t c = s.find(',', start);
        std::string part = s.substr(start, c == std::string::npos ? std::string::npos : c - start);
        if (!part.empty()) out.push_back(part);
        if (c == std::string::npos) break;
        start = c + 1;
      }
      return out;
    }
    if (!n.IsSequence()) Fail(ErrorKind::kUsage, "{}: '{}' must be a string or a list of strings", Where(file, n), key);
    for (const auto& e : n) out.push_back(String(e, key));
    return out;
  }
  template <typename E, size_t N>
  E Choice(const YAML::Node& n, const std::string& key, const std::pair<const char*, E> (&choices)[N]) const {
    std::string s = String(n, key);
    std::vector<std::string> names;
    for (const auto& [name, e] : choices) {
      if (s == name) return e;
      names.push_back(name);
    }
    std::string all;
    for (const auto& nm : names) all += (all.empty() ? "" : ", ") + nm;
    Fail(ErrorKind::kUsage, "{}: '{}' must be one of {}; got '{}'{}", Where(file, n), key, all, s, DidYouMean(s, names));
  }
};

YAML::Node ApplyOverride(YAML::Node root, const Override& o) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = o.key.find('.', start);
    parts.push_back(o.key.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  // jsonargparse reads a command-line value that is all digits as a decimal integer before it asks YAML
  // (`--np 017` is 17, where `np: 017` in the file is octal 15); the rest is read as YAML, as there.
  std::string text = o.value;
  static const std::regex kDecimal("-?[0-9]+");
  if (std::regex_match(text, kDecimal)) {
    bool neg = text[0] == '-';
    size_t first = text.find_first_not_of('0', neg ? 1 : 0);
    text = first == std::string::npos ? "0" : (neg ? "-" : "") + text.substr(first);
  }
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception&) {
    value = YAML::Node(o.value);
  }
  // Walk with fresh handles: yaml-cpp's operator[] on a non-const node creates missing maps.
  std::vector<YAML::Node> path{root};
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node next = path.back()[parts[i]];
    if (next && !next.IsMap() && !next.IsNull())
      Fail(ErrorKind::kUsage, "--{}: '{}' is not a section", o.key, parts[i]);
    if (!next || next.IsNull()) {
      path.back()[parts[i]] = YAML::Node(YAML::NodeType::Map);
      next = path.back()[parts[i]];
    }
    path.push_back(next);
  }
  path.back()[parts.back()] = value;
  return value;
}

std::string SanitizeName(const std::string& stem) {
  std::string out;
  for (char c : stem) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  if (out.size() > 40) out.resize(40);
  return out.empty() ? "recipe" : out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Recipe::OutputSettings() const {
  auto str_list = [](const std::vector<std::string>& v) {
    JsonWriter w;
    w.BeginArray();
    for (const auto& s : v) w.String(s);
    w.EndArray();
    return w.Take();
  };
  auto b = [](bool x) { return std::string(x ? "true" : "false"); };
  return {
      {"dataset_path", str_list(dataset_paths)},
      {"text_keys", str_list(text_keys)},
      {"skip_op_error", b(skip_op_error)},
      {"keep_stats_in_res_ds", b(keep_stats_in_res_ds)},
      {"keep_hashes_in_res_ds", b(keep_hashes_in_res_ds)},
      {"export_shard_size", std::to_string(export_shard_size)},
      {"on_bad_record", fmt::format("\"{}\"", BadRecordPolicyName(on_bad_record))},
      {"partition.size", std::to_string(partition_records)},
      {"partition.max_size_mb", fmt::format("{}", partition_max_size_mb)},
      {"partition.num_of_partitions", std::to_string(partition_count)},
  };
}

Recipe LoadRecipe(const std::string& path, const std::vector<Override>& overrides) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // A recipe is part of the command line (exit 2, README "Exit codes"); 3 is for the input data it names.
  if (!fs::is_regular_file(path, ec)) Fail(ErrorKind::kUsage, "recipe file '{}' does not exist or is not a file", path);
  // Opened here rather than by yaml-cpp, whose failure says only "bad file", so the cause (permission) is named.
  std::ifstream in(path);
  if (!in) Fail(ErrorKind::kUsage, "cannot read recipe file '{}': {}", path, std::strerror(errno));
  YAML::Node root;
  try {
    // yaml-cpp's LoadFile reads the first document and ignores the rest; DataJuicer refuses a second one.
    std::vector<YAML::Node> docs = YAML::LoadAll(in);
    if (docs.size() > 1)
      Fail(ErrorKind::kUsage, "{}:{}: a second YAML document; a recipe is one document (remove the '---' line or split the file)",
           path, docs[1].Mark().line + 1);
    if (!docs.empty()) root = docs[0];
  } catch (const YAML::ParserException& e) {
    Fail(ErrorKind::kUsage, "{}:{}:{}: invalid YAML: {}", path, e.mark.line + 1, e.mark.column + 1, e.msg);
  } catch (const YAML::Exception& e) {
    Fail(ErrorKind::kUsage, "cannot read recipe '{}': {}", path, e.what());
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) Fail(ErrorKind::kUsage, "{}: a recipe must be a YAML mapping of keys to values", path);
  std::vector<OverrideValue> overridden;
  for (const auto& o : overrides) overridden.push_back({ApplyOverride(root, o), o.key, o.value});
  override_values = &overridden;
  struct Reset {
    ~Reset() { override_values = nullptr; }
  } reset;

  const std::string& file = path;
  Reader r{file};
  Recipe rc;
  rc.config_path = fs::absolute(path).lexically_normal().string();
  std::string stem = fs::path(path).filename().string();
  for (const char* ext : {".yaml", ".yml", ".json"})
    if (stem.size() > strlen(ext) && stem.ends_with(ext)) stem.resize(stem.size() - strlen(ext));
  rc.config_name = SanitizeName(stem);

  CheckKeys(file, root, kTopLevel, "");
  auto node = [&](const char* key) { return root[key]; };

  if (auto n = node("project_name"); n && !n.IsNull()) rc.project_name = r.String(n, "project_name");
  if (auto n = node("dataset_path"); n && !n.IsNull()) rc.dataset_paths = r.StringList(n, "dataset_path", false);
  if (rc.dataset_paths.empty()) Fail(ErrorKind::kUsage, "{}: 'dataset_path' is required", file);
  for (const auto& p : rc.dataset_paths) {
    // DataJuicer's weighted mixture form "0.5 a.jsonl 0.5 b.jsonl" is a different feature.
    if (p.find(' ') != std::string::npos && std::regex_search(p, std::regex("^[0-9.]+ ")))
      Fail(ErrorKind::kUsage, "{}: weighted dataset mixtures ('{}') are not supported by sluice yet", file, p);
  }
  if (auto n = node("export_path"); n && !n.IsNull()) rc.export_path = r.String(n, "export_path");
  if (rc.export_path.empty()) Fail(ErrorKind::kUsage, "{}: 'export_path' is required", file);
  {
    std::string type;
    if (auto n = node("export_type"); n && !n.IsNull()) type = r.String(n, "export_type");
    std::string p = rc.export_path;
    bool jsonl = p.ends_with(".jsonl") || p.ends_with(".jsonl.gz") || p.ends_with(".jsonl.zst");
    if (!type.empty() && type != "jsonl")
      Fail(ErrorKind::kUsage, "{}: export_type '{}' is not supported yet; sluice exports JSONL (.jsonl, .jsonl.gz, .jsonl.zst)", file, type);
    if (!jsonl)
      Fail(ErrorKind::kUsage, "{}: export_path '{}' must end in .jsonl, .jsonl.gz or .jsonl.zst (JSON arrays and Parquet exports are not supported yet)", file, p);
  }
  if (auto n = node("export_shard_size"); n && !n.IsNull()) rc.export_shard_size = r.Int(n, "export_shard_size", 0);
  if (auto n = node("text_keys"); n && !n.IsNull()) {
    rc.text_keys = r.StringList(n, "text_keys", false);
    if (rc.text_keys.empty()) Fail(ErrorKind::kUsage, "{}: 'text_keys' must name at least one field", Where(file, n));
  }
  if (auto n = node("skip_op_error"); n && !n.IsNull()) rc.skip_op_error = r.Bool(n, "skip_op_error");
  if (auto n = node("keep_stats_in_res_ds"); n && !n.IsNull()) rc.keep_stats_in_res_ds = r.Bool(n, "keep_stats_in_res_ds");
  if (auto n = node("keep_hashes_in_res_ds"); n && !n.IsNull()) rc.keep_hashes_in_res_ds = r.Bool(n, "keep_hashes_in_res_ds");
  if (auto n = node("open_tracer"); n && !n.IsNull()) rc.open_tracer = r.Bool(n, "open_tracer");
  if (auto n = node("op_list_to_trace"); n && !n.IsNull()) rc.op_list_to_trace = r.StringList(n, "op_list_to_trace", false);
  if (auto n = node("trace_num"); n && !n.IsNull()) rc.trace_num = r.Int(n, "trace_num", 1);
  if (auto n = node("np"); n && !n.IsNull()) {
    rc.np = static_cast<int>(r.Int(n, "np", 1));
    rc.np_given = true;
  }
  if (auto n = node("job_id"); n && !n.IsNull()) {
    rc.job_id = r.String(n, "job_id");
    if (!std::regex_match(rc.job_id, std::regex("[A-Za-z0-9_.-]+")) || rc.job_id == "." || rc.job_id == "..")
      Fail(ErrorKind::kUsage, "{}: job_id '{}' may contain only letters, digits, '_', '-' and '.'", Where(file, n), rc.job_id);
  }
  if (auto n = node("work_dir"); n && !n.IsNull()) rc.work_dir = r.String(n, "work_dir");
  if (auto n = node("event_log_dir"); n && !n.IsNull()) rc.event_log_dir = r.String(n, "event_log_dir");
  if (auto n = node("checkpoint_dir"); n && !n.IsNull()) rc.checkpoint_dir = r.String(n, "checkpoint_dir");
  if (auto n = node("on_bad_record"); n && !n.IsNull()) {
    static const std::pair<const char*, BadRecordPolicy> kChoices[] = {
        {"error", BadRecordPolicy::kError}, {"skip", BadRecordPolicy::kSkip}, {"quarantine", BadRecordPolicy::kQuarantine}};
    rc.on_bad_record = r.Choice(n, "on_bad_record", kChoices);
  }

  static const std::pair<const char*, RetryBackoff> kBackoffs[] = {
      {"exponential", RetryBackoff::kExponential}, {"linear", RetryBackoff::kLinear}, {"fixed", RetryBackoff::kFixed}};

  // Legacy flat keys first; the nested sections below override them.
  if (auto n = node("partition_size"); n && !n.IsNull()) rc.partition_records = r.Int(n, "partition_size", 1);
  if (auto n = node("max_partition_size_mb"); n && !n.IsNull()) {
    rc.partition_max_size_mb = r.Number(n, "max_partition_size_mb", 0);
    rc.partition_max_size_given = true;
  }
  using MediaKey = std::pair<const char*, std::string*>;
  for (auto [key, field] : {MediaKey{"image_key", &rc.image_key}, MediaKey{"audio_key", &rc.audio_key}, MediaKey{"video_key", &rc.video_key}})
    if (auto n = node(key); n && !n.IsNull()) *field = r.String(n, key);
  if (auto sec = node("resource_optimization"); sec && !sec.IsNull()) {
    if (!sec.IsMap()) Fail(ErrorKind::kUsage, "{}: 'resource_optimization' must be a mapping", Where(file, sec));
    CheckKeys(file, sec, kResourceOptimization, "resource_optimization");
    if (auto n = sec["auto_configure"]; n && !n.IsNull()) rc.auto_configure = r.Bool(n, "resource_optimization.auto_configure");
  }
  if (auto n = node("enable_fault_tolerance"); n && !n.IsNull()) rc.retries_enabled = r.Bool(n, "enable_fault_tolerance");
  if (auto n = node("max_retries"); n && !n.IsNull()) rc.max_retries = r.Int(n, "max_retries", 0);
  if (auto n = node("retry_backoff"); n && !n.IsNull()) rc.retry_backoff = r.Choice(n, "retry_backoff", kBackoffs);
  if (auto n = node("preserve_intermediate_data"); n && !n.IsNull()) rc.preserve_intermediate_data = r.Bool(n, "preserve_intermediate_data");
  // The storage format and codec: checked together below, once the nested section (which wins) is read.
  // (std::optional: assigning to a YAML::Node that already refers to a node rebinds that node in the tree.)
  std::optional<YAML::Node> format_node, compression_node;
  bool format_node_flat = false;
  if (auto n = node("storage_format"); n && !n.IsNull()) {
    format_node.emplace(n);
    format_node_flat = true;
  }

  if (auto sec = node("partition"); sec && !sec.IsNull()) {
    if (!sec.IsMap()) Fail(ErrorKind::kUsage, "{}: 'partition' must be a mapping", Where(file, sec));
    CheckKeys(file, sec, kPartition, "partition");
    std::string mode = "auto";
    if (auto n = sec["mode"]; n && !n.IsNull()) {
      static const std::pair<const char*, int> kModes[] = {{"auto", 0}, {"manual", 1}};
      mode = r.Choice(n, "partition.mode", kModes) ? "manual" : "auto";
    }
    if (auto n = sec["num_of_partitions"]; n && !n.IsNull() && mode == "manual")
      rc.partition_count = r.Int(n, "partition.num_of_partitions", 1);
    if (auto n = sec["size"]; n && !n.IsNull()) rc.partition_records = r.Int(n, "partition.size", 1);
    if (auto n = sec["max_size_mb"]; n && !n.IsNull()) {
      rc.partition_max_size_mb = r.Number(n, "partition.max_size_mb", 0);
      rc.partition_max_size_given = true;
    }
    // Either section may turn it on (DataJuicer reads both spellings); one saying false does not veto the other.
    if (auto n = sec["auto_configure"]; n && !n.IsNull()) rc.auto_configure = r.Bool(n, "partition.auto_configure") || rc.auto_configure;
    if (auto n = sec["enable_fault_tolerance"]; n && !n.IsNull()) rc.retries_enabled = r.Bool(n, "partition.enable_fault_tolerance");
    if (auto n = sec["max_retries"]; n && !n.IsNull()) rc.max_retries = r.Int(n, "partition.max_retries", 0);
    if (auto n = sec["retry_backoff"]; n && !n.IsNull()) rc.retry_backoff = r.Choice(n, "partition.retry_backoff", kBackoffs);
  }
  YAML::Node op_names_node;
  if (auto sec = node("checkpoint"); sec && !sec.IsNull()) {
    if (!sec.IsMap()) Fail(ErrorKind::kUsage, "{}: 'checkpoint' must be a mapping", Where(file, sec));
    CheckKeys(file, sec, kCheckpoint, "checkpoint");
    static const std::pair<const char*, CheckpointStrategy> kStrategies[] = {
        {"every_op", CheckpointStrategy::kEveryOp}, {"every_partition", CheckpointStrategy::kEveryPartition},
        {"every_n_ops", CheckpointStrategy::kEveryNOps}, {"manual", CheckpointStrategy::kManual},
        {"disabled", CheckpointStrategy::kDisabled}};
    if (auto n = sec["strategy"]; n && !n.IsNull()) rc.checkpoint = r.Choice(n, "checkpoint.strategy", kStrategies);
    if (auto n = sec["n_ops"]; n && !n.IsNull()) rc.checkpoint_n_ops = r.Int(n, "checkpoint.n_ops", 1);
    if (auto n = sec["op_names"]; n && !n.IsNull()) {
      rc.checkpoint_op_names = r.StringList(n, "checkpoint.op_names", true);
      op_names_node = n;
    }
    if (auto n = sec["enabled"]; n && !n.IsNull() && !r.Bool(n, "checkpoint.enabled")) rc.checkpoint = CheckpointStrategy::kDisabled;
    if (rc.checkpoint == CheckpointStrategy::kManual && rc.checkpoint_op_names.empty())
      Fail(ErrorKind::kUsage, "{}: checkpoint.strategy 'manual' needs checkpoint.op_names", Where(file, sec));
  }
  if (auto sec = node("fault_tolerance"); sec && !sec.IsNull()) {
    if (!sec.IsMap()) Fail(ErrorKind::kUsage, "{}: 'fault_tolerance' must be a mapping", Where(file, sec));
    CheckKeys(file, sec, kFaultTolerance, "fault_tolerance");
    if (auto n = sec["enabled"]; n && !n.IsNull()) rc.retries_enabled = r.Bool(n, "fault_tolerance.enabled");
    if (auto n = sec["max_retries"]; n && !n.IsNull()) rc.max_retries = r.Int(n, "fault_tolerance.max_retries", 0);
    if (auto n = sec["retry_backoff"]; n && !n.IsNull()) rc.retry_backoff = r.Choice(n, "fault_tolerance.retry_backoff", kBackoffs);
    if (auto n = sec["allow_partial"]; n && !n.IsNull()) rc.allow_partial = r.Bool(n, "fault_tolerance.allow_partial");
    if (auto n = sec["retry_base_seconds"]; n && !n.IsNull()) rc.retry_base_seconds = r.Number(n, "fault_tolerance.retry_base_seconds", -1);
  }
  if (!rc.retries_enabled) rc.max_retries = 0;
  if (auto sec = node("event_logging"); sec && !sec.IsNull()) {
    if (!sec.IsMap()) Fail(ErrorKind::kUsage, "{}: 'event_logging' must be a mapping", Where(file, sec));
    CheckKeys(file, sec, kEventLogging, "event_logging");
    if (auto n = sec["enabled"]; n && !n.IsNull()) rc.event_logging = r.Bool(n, "event_logging.enabled");
    if (auto n = sec["max_log_size_mb"]; n && !n.IsNull()) rc.max_log_size_mb = r.Number(n, "event_logging.max_log_size_mb", 0);
    if (auto n = sec["backup_count"]; n && !n.IsNull()) rc.log_backup_count = r.Int(n, "event_logging.backup_count", 0);
  }
  if (auto sec = node("intermediate_storage"); sec && !sec.IsNull()) {
    if (!sec.IsMap()) Fail(ErrorKind::kUsage, "{}: 'intermediate_storage' must be a mapping", Where(file, sec));
    CheckKeys(file, sec, kIntermediate, "intermediate_storage");
    if (auto n = sec["format"]; n && !n.IsNull()) {
      format_node.emplace(n);
      format_node_flat = false;
    }
    if (auto n = sec["compression"]; n && !n.IsNull()) compression_node.emplace(n);
    if (auto n = sec["preserve_intermediate_data"]; n && !n.IsNull()) rc.preserve_intermediate_data = r.Bool(n, "intermediate_storage.preserve_intermediate_data");
    if (auto n = sec["cleanup_on_success"]; n && !n.IsNull()) rc.cleanup_on_success = r.Bool(n, "intermediate_storage.cleanup_on_success");
    if (auto n = sec["retention_policy"]; n && !n.IsNull()) {
      static const std::pair<const char*, RetentionPolicy> kPolicies[] = {
          {"keep_all", RetentionPolicy::kKeepAll}, {"keep_failed_only", RetentionPolicy::kKeepFailedOnly},
          {"cleanup_all", RetentionPolicy::kCleanupAll}};
      rc.retention = r.Choice(n, "intermediate_storage.retention_policy", kPolicies);
    }
    if (auto n = sec["max_retention_days"]; n && !n.IsNull()) rc.max_retention_days = r.Int(n, "intermediate_storage.max_retention_days", 0);
  }
  // DataJuicer's intermediates are Parquet (its default) or Arrow files of its own Ray executor, compressed with
  // snappy by default; sluice's are its checkpoints, read only by sluice (checksummed, manifested JSONL). The
  // choice cannot change a result, so DataJuicer's settings are accepted with a warning that says so; only
  // a combination that names JSONL and a codec sluice does not write to JSONL is refused.
  std::string format;
  if (format_node) {
    const char* key = format_node_flat ? "storage_format" : "intermediate_storage.format";
    format = r.String(*format_node, key);
    if (format == "parquet" || format == "arrow")
      rc.warnings.push_back(fmt::format("{}: {} '{}': sluice keeps intermediate data as compressed JSONL checkpoints "
                                        "whatever the format; results are the same",
                                        Where(file, *format_node), key, format));
    else if (format != "jsonl")
      Fail(ErrorKind::kUsage, "{}: {} must be jsonl, parquet or arrow; got '{}'", Where(file, *format_node), key, format);
  }
  if (compression_node) {
    static const std::pair<const char*, int> kComp[] = {{"zstd", 0}, {"gzip", 1}, {"none", 2}, {"snappy", 3}};
    int c = r.Choice(*compression_node, "intermediate_storage.compression", kComp);
    if (c == 3 && format == "jsonl")
      Fail(ErrorKind::kUsage, "{}: intermediate_storage.compression 'snappy' is a Parquet codec; JSONL intermediate data takes zstd, gzip or none",
           Where(file, *compression_node));
    if (c == 3)
      rc.warnings.push_back(fmt::format("{}: intermediate_storage.compression 'snappy' (DataJuicer's Parquet codec): sluice's "
                                        "JSONL checkpoints are compressed with zstd; results are the same",
                                        Where(file, *compression_node)));
    rc.intermediate_compression = c == 1 ? "gzip" : c == 2 ? "none" : "zstd";
  }

  auto proc = node("process");
  if (proc && !proc.IsNull()) {
    if (!proc.IsSequence()) Fail(ErrorKind::kUsage, "{}: 'process' must be a list of ops", Where(file, proc));
    for (const auto& item : proc) {
      RecipeOp op;
      op.line = item.Mark().line + 1;
      if (item.IsScalar()) {
        op.name = item.Scalar();
      } else if (item.IsMap() && item.size() == 1) {
        auto it = item.begin();
        op.name = it->first.as<std::string>();
        const YAML::Node params = it->second;  // a copy: `it->` yields a temporary, a reference would dangle
        if (params && !params.IsNull()) {
          if (!params.IsMap()) Fail(ErrorKind::kUsage, "{}: parameters of op '{}' must be a mapping", Where(file, params), op.name);
          auto twice = [&](const std::string& k) { return fmt::format("op '{}': parameter '{}'", op.name, k); };
          for (auto& [k, v] : MapEntries(file, params, twice))
            op.params.emplace_back(k, ToParam(file, v));
        }
      } else {
        Fail(ErrorKind::kUsage, "{}: each process entry must be 'op_name:' followed by its parameters", Where(file, item));
      }
      rc.process.push_back(std::move(op));
    }
  }
  // A manual checkpoint names ops of this recipe; a name that matches none (a typo) would checkpoint nothing.
  if (rc.checkpoint == CheckpointStrategy::kManual) {
    std::vector<std::string> names;
    for (const auto& op : rc.process) names.push_back(op.name);
    for (const auto& want : rc.checkpoint_op_names)
      if (std::find(names.begin(), names.end(), want) == names.end())
        Fail(ErrorKind::kUsage, "{}: checkpoint.op_names names '{}', which is not an op of this recipe's process list{}",
             Where(file, op_names_node), want, DidYouMean(want, names));
  }
  return rc;
}

std::string SubstituteJobPlaceholders(const std::string& path, const std::string& work_dir, const std::string& job_id) {
  std::string out;
  for (size_t i = 0; i < path.size();) {
    if (path.compare(i, 10, "{work_dir}") == 0) {
      out += work_dir;
      i += 10;
    } else if (path.compare(i, 8, "{job_id}") == 0) {
      out += job_id;
      i += 8;
    } else {
      out += path[i++];
    }
  }
  return out;
}

}  // namespace sluice
