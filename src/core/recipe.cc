#include "core/recipe.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
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
thread_local const std::vector<std::pair<YAML::Node, std::string>>* override_values = nullptr;

std::string OnCommandLine(const std::string& key) { return "command line --" + key; }

std::string Where(const std::string& file, const YAML::Node& n) {
  if (override_values != nullptr)
    for (const auto& [node, key] : *override_values)
      if (n.is(node)) return OnCommandLine(key);
  if (n.Mark().line < 0) return file;
  return fmt::format("{}:{}", file, n.Mark().line + 1);
}

bool IsOff(const YAML::Node& n) {
  if (!n || n.IsNull()) return true;
  if (n.IsSequence() || n.IsMap()) return n.size() == 0;
  std::string s = n.Scalar();
  return s.empty() || s == "false" || s == "False" || s == "FALSE" || s == "0" || s == "no";
}

template <size_t N>
void CheckKeys(const std::string& file, const YAML::Node& map, const KeyInfo (&table)[N], const std::string& section) {
  std::vector<std::string> names;
  for (const auto& k : table) names.push_back(k.name);
  std::vector<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key = it->first.as<std::string>();
    // yaml-cpp keeps duplicate keys and lookups return the first; a second value would be ignored.
    if (std::find(seen.begin(), seen.end(), key) != seen.end())
      Fail(ErrorKind::kUsage, "{}: recipe key '{}' appears twice", Where(file, it->first), section.empty() ? key : section + "." + key);
    seen.push_back(key);
    const KeyInfo* info = nullptr;
    for (const auto& k : table)
      if (key == k.name) info = &k;
    std::string full = section.empty() ? key : section + "." + key;
    // A key no line of the file holds was added by a command-line override.
    std::string where = it->first.Mark().line < 0 ? OnCommandLine(full) : Where(file, it->first);
    if (info == nullptr) Fail(ErrorKind::kUsage, "{}: unknown recipe key '{}'{}", where, full, DidYouMean(key, names));
    if (info->use == KeyUse::kUnsupported && !IsOff(it->second))
      Fail(ErrorKind::kUsage, "{}: recipe key '{}' is not supported by sluice yet; remove it or turn it off", where, full);
  }
}

ParamValue ToParam(const YAML::Node& n) {
  if (!n || n.IsNull()) return {};
  if (n.IsSequence()) {
    std::vector<ParamValue> items;
    for (const auto& e : n) items.push_back(ToParam(e));
    return ParamValue::List(std::move(items));
  }
  if (n.IsMap()) {
    std::vector<std::pair<std::string, ParamValue>> items;
    for (auto it = n.begin(); it != n.end(); ++it) items.emplace_back(it->first.as<std::string>(), ToParam(it->second));
    return ParamValue::Map(std::move(items));
  }
  const std::string& s = n.Scalar();
  if (n.Tag() == "!") return ParamValue::String(s);  // quoted: always a string
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat("[-+]?([0-9]+\\.[0-9]*|\\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?");
  if (s == "~" || s == "null" || s == "Null" || s == "NULL") return {};
  if (s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on") return ParamValue::Bool(true);
  if (s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off") return ParamValue::Bool(false);
  if (std::regex_match(s, kInt)) {
    try {
      return ParamValue::Int(std::stoll(s));
    } catch (...) {
      return ParamValue::Double(std::stod(s));
    }
  }
  if (std::regex_match(s, kFloat)) return ParamValue::Double(std::stod(s));
  if (s == ".inf" || s == "+.inf") return ParamValue::Double(INFINITY);
  if (s == "-.inf") return ParamValue::Double(-INFINITY);
  if (s == ".nan") return ParamValue::Double(NAN);
  return ParamValue::String(s);
}

// Typed readers: each names the key and the recipe line on a wrong type.
struct Reader {
  const std::string& file;

  ParamValue Get(const YAML::Node& n) const { return ToParam(n); }
  bool Bool(const YAML::Node& n, const std::string& key) const {
    ParamValue v = ToParam(n);
    if (v.type() != ParamValue::Type::kBool) Fail(ErrorKind::kUsage, "{}: '{}' must be true or false", Where(file, n), key);
    return v.as_bool();
  }
  int64_t Int(const YAML::Node& n, const std::string& key, int64_t min) const {
    ParamValue v = ToParam(n);
    if (v.type() != ParamValue::Type::kInt || v.as_int() < min)
      Fail(ErrorKind::kUsage, "{}: '{}' must be an integer >= {}, got '{}'", Where(file, n), key, min, n.Scalar());
    return v.as_int();
  }
  double Number(const YAML::Node& n, const std::string& key, double min_exclusive) const {
    ParamValue v = ToParam(n);
    if ((v.type() != ParamValue::Type::kInt && v.type() != ParamValue::Type::kDouble) || !(v.as_number() > min_exclusive))
      Fail(ErrorKind::kUsage, "{}: '{}' must be a number > {}, got '{}'", Where(file, n), key, min_exclusive, n.Scalar());
    return v.as_number();
  }
  std::string String(const YAML::Node& n, const std::string& key) const {
    if (!n.IsScalar()) Fail(ErrorKind::kUsage, "{}: '{}' must be a string", Where(file, n), key);
    return n.Scalar();
  }
  std::vector<std::string> StringList(const YAML::Node& n, const std::string& key, bool split_commas) const {
    std::vector<std::string> out;
    if (!n || n.IsNull()) return out;
    if (n.IsScalar()) {
      std::string s = n.Scalar();
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
  YAML::Node value;
  try {
    value = YAML::Load(o.value);
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
  if (!fs::is_regular_file(path, ec)) Fail(ErrorKind::kInput, "recipe file '{}' does not exist or is not a file", path);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::ParserException& e) {
    Fail(ErrorKind::kUsage, "{}:{}:{}: invalid YAML: {}", path, e.mark.line + 1, e.mark.column + 1, e.msg);
  } catch (const YAML::Exception& e) {
    Fail(ErrorKind::kInput, "cannot read recipe '{}': {}", path, e.what());
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) Fail(ErrorKind::kUsage, "{}: a recipe must be a YAML mapping of keys to values", path);
  std::vector<std::pair<YAML::Node, std::string>> overridden;
  for (const auto& o : overrides) overridden.emplace_back(ApplyOverride(root, o), o.key);
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
          for (auto p = params.begin(); p != params.end(); ++p)
            op.params.emplace_back(p->first.as<std::string>(), ToParam(p->second));
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
