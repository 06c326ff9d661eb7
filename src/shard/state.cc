#include "shard/state.h"

#include <simdjson.h>

#include "core/error.h"
#include "core/fault_injection.h"
#include "core/json_writer.h"
#include "io/atomic_file.h"

namespace sluice::shard {

const char* StatusName(ShardStatus s) {
  switch (s) {
    case ShardStatus::kPending: return "pending";
    case ShardStatus::kRunning: return "running";
    case ShardStatus::kCompleted: return "completed";
    case ShardStatus::kFailed: return "failed";
    case ShardStatus::kCancelled: return "cancelled";
    case ShardStatus::kLost: return "lost";
  }
  return "?";
}

std::string ShardState::ToJson() const {
  JsonWriter w;
  w.BeginObject().Field("schema_version", 1).Field("scheduler_id", scheduler_id).Field("shard_index", shard_index);
  w.Field("key_column", key_column).Field("low", low);
  if (unbounded) w.Key("high").Null();
  else w.Field("high", high);
  w.Field("status", StatusName(status)).Field("attempt", attempt).Field("max_attempts", max_attempts);
  w.Key("command").BeginArray();
  for (const auto& a : command) w.String(a);
  w.EndArray();
  w.Key("env_overrides").BeginObject();
  for (const auto& [k, v] : env_overrides) w.Field(k, v);
  w.EndObject();
  w.Key("gpus").BeginArray();
  for (const auto& g : gpus) w.BeginObject().Field("index", g.index).Field("uuid", g.uuid).Field("name", g.name).EndObject();
  w.EndArray();
  w.Field("pid", pid).Field("pgid", pgid).Field("proc_starttime", proc_starttime).Field("boot_id", boot_id).Field("host", host);
  w.Field("start_time", start_time).Field("end_time", end_time);
  if (exit_code) w.Field("exit_code", *exit_code);
  else w.Key("exit_code").Null();
  if (signal) w.Field("signal", *signal);
  else w.Key("signal").Null();
  w.Field("log_path", log_path).Field("status_path", status_path);
  if (result) {
    w.Key("result").BeginObject().Field("path", result->path).Field("rows", result->rows).Field("size", result->size);
    w.Field("xxh3_64", result->xxh3).EndObject();
  } else {
    w.Key("result").Null();
  }
  w.Field("error", error).EndObject();
  return w.Take() + "\n";
}

std::optional<ShardState> ShardState::Parse(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(json)).get(root)) return std::nullopt;
  ShardState s;
  std::string_view sched, key, low, status, boot, host, log, status_path, error;
  int64_t index = 0, attempt = 0, max_attempts = 0;
  simdjson::dom::array command, gpus;
  simdjson::dom::object env;
  if (root["scheduler_id"].get(sched) || root["shard_index"].get(index) || root["key_column"].get(key) ||
      root["low"].get(low) || root["status"].get(status) || root["attempt"].get(attempt) ||
      root["max_attempts"].get(max_attempts) || root["command"].get(command) || root["env_overrides"].get(env) ||
      root["gpus"].get(gpus) || root["pid"].get(s.pid) || root["pgid"].get(s.pgid) ||
      root["proc_starttime"].get(s.proc_starttime) || root["boot_id"].get(boot) || root["host"].get(host) ||
      root["start_time"].get(s.start_time) || root["end_time"].get(s.end_time) || root["log_path"].get(log) ||
      root["status_path"].get(status_path) || root["error"].get(error))
    return std::nullopt;
  s.scheduler_id = sched;
  s.shard_index = static_cast<int>(index);
  s.key_column = key;
  s.low = low;
  std::string_view high;
  if (root["high"].is_null()) s.unbounded = true;
  else if (root["high"].get(high)) return std::nullopt;
  s.high = high;
  bool known = false;
  for (auto st : {ShardStatus::kPending, ShardStatus::kRunning, ShardStatus::kCompleted, ShardStatus::kFailed,
                  ShardStatus::kCancelled, ShardStatus::kLost})
    if (status == StatusName(st)) s.status = st, known = true;
  if (!known) return std::nullopt;
  s.attempt = static_cast<int>(attempt);
  s.max_attempts = static_cast<int>(max_attempts);
  for (simdjson::dom::element a : command) {
    std::string_view v;
    if (a.get(v)) return std::nullopt;
    s.command.emplace_back(v);
  }
  for (auto field : env) {
    std::string_view v;
    if (field.value.get(v)) return std::nullopt;
    s.env_overrides[std::string(field.key)] = v;
  }
  for (simdjson::dom::element g : gpus) {
    Gpu gpu;
    int64_t gi = 0;
    std::string_view uuid, name;
    if (g["index"].get(gi) || g["uuid"].get(uuid) || g["name"].get(name)) return std::nullopt;
    gpu.index = static_cast<int>(gi);
    gpu.uuid = uuid;
    gpu.name = name;
    s.gpus.push_back(gpu);
  }
  s.boot_id = boot;
  s.host = host;
  int64_t v = 0;
  if (!root["exit_code"].get(v)) s.exit_code = static_cast<int>(v);
  if (!root["signal"].get(v)) s.signal = static_cast<int>(v);
  s.log_path = log;
  s.status_path = status_path;
  simdjson::dom::element r;
  if (!root["result"].get(r) && !r.is_null()) {
    ShardResult res;
    std::string_view path, hash;
    if (r["path"].get(path) || r["rows"].get(res.rows) || r["size"].get(res.size) || r["xxh3_64"].get(hash)) return std::nullopt;
    res.path = path;
    res.xxh3 = hash;
    s.result = res;
  }
  s.error = error;
  return s;
}

std::string ShardStem(const Plan& plan, const ShardRange& s) {
  return FileSafe(KeyText(plan.key_type, s.range.low)) + "_" +
         (s.range.unbounded ? std::string("end") : FileSafe(KeyText(plan.key_type, s.range.high)));
}

std::string StateFileName(const Plan& plan, const ShardRange& s) { return "worker_args_" + ShardStem(plan, s) + ".json"; }

std::string RangeLabel(const Plan& plan, const ShardRange& s) {
  return fmt::format("[{}-{})", KeyText(plan.key_type, s.range.low), s.range.unbounded ? "" : KeyText(plan.key_type, s.range.high));
}

void WriteState(Env* env, const std::string& path, const ShardState& s) {
  AtomicFile f(env, path);
  f.file().Append(s.ToJson());
  CrashPoint("shard_state_write");  // written, not yet renamed: the previous state stays in force
  f.Commit();
}

std::optional<ShardState> ReadState(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return std::nullopt;
  auto s = ShardState::Parse(ReadFile(env, path));
  if (!s) Fail(ErrorKind::kState, "{}: not a shard state file (remove it to run the shard again)", path);
  return s;
}

}  // namespace sluice::shard
