#include "manager/job_spec.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "core/json_writer.h"

namespace sluice::manager {
namespace dom = simdjson::dom;

namespace {
constexpr const char* kStateNames[] = {"SUBMITTED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "REJECTED"};

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

[[noreturn]] void Bad(const std::string& field, const std::string& what) { Fail(ErrorKind::kUsage, "{}: {}", field, what); }

std::string_view GetString(dom::element e, const std::string& field) {
  std::string_view s;
  if (e.get(s)) Bad(field, "must be a string");
  return s;
}

// A string the job's process gets as a C string (a path, an environment value, the name it is shown by): a
// NUL byte would silently cut it there.
std::string_view GetText(dom::element e, const std::string& field) {
  std::string_view s = GetString(e, field);
  if (s.find('\0') != std::string_view::npos) Bad(field, "must not contain NUL bytes");
  return s;
}

// JSON leaves duplicate names to the reader; here the same field twice is refused instead of one of the two
// silently winning (which one differs between parsers).
void CheckNoDuplicateNames(dom::element e, const std::string& path) {
  if (e.is_array()) {
    for (dom::element x : dom::array(e)) CheckNoDuplicateNames(x, path + "[]");
    return;
  }
  if (!e.is_object()) return;
  std::vector<std::string_view> names;
  for (auto [k, v] : dom::object(e)) {
    names.push_back(k);
    CheckNoDuplicateNames(v, path.empty() ? std::string(k) : path + "." + std::string(k));
  }
  std::sort(names.begin(), names.end());
  for (size_t i = 1; i < names.size(); ++i)
    if (names[i] == names[i - 1]) Bad(path.empty() ? std::string(names[i]) : path + "." + std::string(names[i]), "is given twice");
}

double GetNumber(dom::element e, const std::string& field) {
  double d;
  if (e.is_int64()) d = static_cast<double>(int64_t(e));
  else if (e.is_uint64()) d = static_cast<double>(uint64_t(e));
  else if (e.get(d)) Bad(field, "must be a number");
  if (!std::isfinite(d)) Bad(field, "must be finite");
  return d;
}

int64_t GetInt(dom::element e, const std::string& field, int64_t lo, int64_t hi) {
  int64_t i;
  if (e.get(i)) Bad(field, "must be an integer");
  if (i < lo || i > hi) Bad(field, fmt::format("must be in [{}, {}]", lo, hi));
  return i;
}

bool GetBool(dom::element e, const std::string& field) {
  bool b;
  if (e.get(b)) Bad(field, "must be true or false");
  return b;
}

// Seconds from a number or a duration string.
double GetDuration(dom::element e, const std::string& field) {
  double d = e.is_string() ? ParseDurationText(GetString(e, field)) : GetNumber(e, field);
  if (d < 0 || d > 365.0 * 86400) Bad(field, "must be between 0 and 365 days");
  return d;
}

// Bytes from an integer or a size string.
uint64_t GetBytes(dom::element e, const std::string& field) {
  if (e.is_string()) return ParseBytesText(GetString(e, field));
  return static_cast<uint64_t>(GetInt(e, field, 0, INT64_MAX));
}

dom::object GetObject(dom::element e, const std::string& field) {
  dom::object o;
  if (e.get(o)) Bad(field, "must be an object");
  return o;
}

dom::array GetArray(dom::element e, const std::string& field) {
  dom::array a;
  if (e.get(a)) Bad(field, "must be an array");
  return a;
}

std::vector<std::string> GetStrings(dom::element e, const std::string& field) {
  std::vector<std::string> out;
  for (dom::element x : GetArray(e, field)) {
    std::string_view s = GetString(x, field + "[]");
    if (s.find('\0') != std::string_view::npos) Bad(field, "must not contain NUL bytes");
    out.emplace_back(s);
  }
  return out;
}

void ParseResources(dom::object o, Resources& r) {
  for (auto [k, v] : o) {
    if (k == "cpus") {
      r.cpus = GetNumber(v, "resources.cpus");
      r.cpus_given = true;
      if (r.cpus < 0 || r.cpus > 1e6) Bad("resources.cpus", "must be between 0 and 1e6");
    } else if (k == "memory") {
      r.memory = GetBytes(v, "resources.memory");
    } else if (k == "custom") {
      for (auto [name, amount] : GetObject(v, "resources.custom")) {
        std::string f = "resources.custom." + std::string(name);
        if (name.empty()) Bad("resources.custom", "names must not be empty");
        double a = GetNumber(amount, f);
        if (a < 0) Bad(f, "must not be negative");
        r.custom[std::string(name)] = a;
      }
    } else if (k == "gpus") {
      if (v.is_object()) {
        for (auto [gk, gv] : GetObject(v, "resources.gpus")) {
          if (gk == "count") r.gpus = static_cast<int>(GetInt(gv, "resources.gpus.count", 0, 1024));
          else if (gk == "min_free_memory") r.gpu_memory = GetBytes(gv, "resources.gpus.min_free_memory");
          else Bad("resources.gpus." + std::string(gk), "unknown field (count, min_free_memory)");
        }
      } else {
        r.gpus = static_cast<int>(GetInt(v, "resources.gpus", 0, 1024));
      }
    } else {
      Bad("resources." + std::string(k), "unknown field (cpus, memory, gpus, custom)");
    }
  }
}

void ParseRetry(dom::object o, RetryPolicy& p) {
  for (auto [k, v] : o) {
    if (k == "max_attempts") {
      p.max_attempts = static_cast<int>(GetInt(v, "retry.max_attempts", 1, 1000));
    } else if (k == "backoff") {
      for (auto [bk, bv] : GetObject(v, "retry.backoff")) {
        std::string f = "retry.backoff." + std::string(bk);
        if (bk == "initial") p.backoff_initial = GetDuration(bv, f);
        else if (bk == "max") p.backoff_max = GetDuration(bv, f);
        else if (bk == "multiplier") {
          p.backoff_multiplier = GetNumber(bv, f);
          if (p.backoff_multiplier < 1 || p.backoff_multiplier > 100) Bad(f, "must be between 1 and 100");
        } else if (bk == "jitter") {
          p.jitter = GetNumber(bv, f);
          if (p.jitter < 0 || p.jitter > 1) Bad(f, "must be between 0 and 1");
        } else {
          Bad(f, "unknown field (initial, multiplier, max, jitter)");
        }
      }
    } else if (k == "retry_on") {
      p.retry_failed = p.retry_timeout = p.retry_lost = p.retry_oom = false;
      for (const std::string& s : GetStrings(v, "retry.retry_on")) {
        if (s == "failed") p.retry_failed = true;
        else if (s == "timeout") p.retry_timeout = true;
        else if (s == "lost") p.retry_lost = true;
        else if (s == "oom") p.retry_oom = true;
        else Bad("retry.retry_on", "'" + s + "' is not one of failed, timeout, lost, oom");
      }
    } else if (k == "no_retry_exit_codes") {
      for (dom::element c : GetArray(v, "retry.no_retry_exit_codes"))
        p.no_retry_exit_codes.push_back(static_cast<int>(GetInt(c, "retry.no_retry_exit_codes[]", 0, 255)));
    } else {
      Bad("retry." + std::string(k), "unknown field (max_attempts, backoff, retry_on, no_retry_exit_codes)");
    }
  }
  if (p.backoff_max < p.backoff_initial) p.backoff_max = p.backoff_initial;
}

// A whole decimal number (digits only, no sign) in [0, hi]; nullopt otherwise.
std::optional<int64_t> Decimal(std::string_view t, int64_t hi) {
  int64_t v = 0;
  if (t.empty() || !std::isdigit(static_cast<unsigned char>(t[0]))) return std::nullopt;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || p != t.data() + t.size() || v > hi) return std::nullopt;
  return v;
}
}  // namespace

std::string JobRef::ToString() const { return index < 0 ? std::to_string(id) : fmt::format("{}_{}", id, index); }

std::optional<JobRef> ParseJobRef(std::string_view text) {
  size_t us = text.find('_');
  auto id = Decimal(text.substr(0, us), INT64_MAX);
  if (!id || *id < 1) return std::nullopt;
  if (us == std::string_view::npos) return JobRef{*id, -1};
  auto index = Decimal(text.substr(us + 1), kMaxArrayIndex);
  if (!index) return std::nullopt;
  return JobRef{*id, *index};
}

std::vector<int64_t> ParseArraySpec(std::string_view text, ArrayInfo* info, const std::string& field) {
  std::string_view items = text;
  int64_t max_running = 0;
  if (size_t pct = text.find('%'); pct != std::string_view::npos) {
    auto m = Decimal(text.substr(pct + 1), INT64_MAX);
    if (!m || *m < 1) Bad(field, fmt::format("'%{}' is not a limit of at least 1 running task", text.substr(pct + 1)));
    max_running = *m;
    items = text.substr(0, pct);
  }
  std::vector<int64_t> out;
  for (size_t from = 0; from <= items.size();) {
    size_t comma = std::min(items.find(',', from), items.size());
    std::string_view item = items.substr(from, comma - from);
    from = comma + 1;
    auto index = [&](std::string_view t) {
      auto v = Decimal(t, kMaxArrayIndex);
      if (!v) Bad(field, fmt::format("item '{}': '{}' is not an index in [0, {}]", item, t, kMaxArrayIndex));
      return *v;
    };
    if (item.empty()) Bad(field, fmt::format("empty item in '{}'", text));
    size_t dash = item.find('-'), colon = item.find(':');
    if (dash == std::string_view::npos) {
      if (colon != std::string_view::npos) Bad(field, fmt::format("item '{}': a step needs a range A-B:STEP", item));
      out.push_back(index(item));
    } else {
      int64_t a = index(item.substr(0, dash));
      int64_t b = index(item.substr(dash + 1, colon == std::string_view::npos ? std::string_view::npos : colon - dash - 1));
      int64_t step = 1;
      if (colon != std::string_view::npos) {
        auto st = Decimal(item.substr(colon + 1), INT64_MAX);
        if (!st || *st < 1) Bad(field, fmt::format("item '{}': the step must be a whole number of at least 1", item));
        step = *st;
      }
      if (a > b) Bad(field, fmt::format("item '{}': the range starts after it ends", item));
      if ((b - a) / step + 1 + static_cast<int64_t>(out.size()) > kMaxArrayTasks)
        Bad(field, fmt::format("item '{}': more than {} tasks", item, kMaxArrayTasks));
      for (int64_t i = a; i <= b; i += step) out.push_back(i);
    }
    if (static_cast<int64_t>(out.size()) > kMaxArrayTasks) Bad(field, fmt::format("more than {} tasks", kMaxArrayTasks));
    if (comma == items.size()) break;
  }
  std::sort(out.begin(), out.end());
  if (auto d = std::adjacent_find(out.begin(), out.end()); d != out.end()) Bad(field, fmt::format("index {} is given twice", *d));
  std::string norm;
  for (size_t i = 0; i < out.size();) {
    size_t j = i + 1;
    int64_t step = j < out.size() ? out[j] - out[i] : 0;
    while (j < out.size() && out[j] - out[j - 1] == step) ++j;
    if (!norm.empty()) norm += ',';
    if (j - i >= 3) {
      norm += fmt::format("{}-{}", out[i], out[j - 1]);
      if (step > 1) norm += fmt::format(":{}", step);
      i = j;
    } else {
      norm += std::to_string(out[i]);
      ++i;
    }
  }
  if (max_running > 0) norm += fmt::format("%{}", max_running);
  if (norm.size() > kMaxArraySpecBytes)
    Bad(field, fmt::format("the normalized spec is {} bytes, more than {}: give the indices as ranges", norm.size(), kMaxArraySpecBytes));
  *info = {norm, static_cast<int64_t>(out.size()), out.front(), out.back(), max_running};
  return out;
}

const char* StateName(State s) { return kStateNames[static_cast<int>(s)]; }

std::optional<State> ParseState(std::string_view name) {
  std::string u = Upper(name);
  for (int i = 0; i < 7; ++i)
    if (u == kStateNames[i]) return static_cast<State>(i);
  return std::nullopt;
}

bool IsTerminal(State s) { return s == State::kCompleted || s == State::kFailed || s == State::kCancelled || s == State::kRejected; }

const char* DepConditionName(DepCondition c) {
  switch (c) {
    case DepCondition::kAfter: return "after";
    case DepCondition::kAfterAny: return "afterany";
    case DepCondition::kAfterOk: return "afterok";
    case DepCondition::kAfterNotOk: return "afternotok";
  }
  return "?";
}

std::optional<DepCondition> ParseDepCondition(std::string_view name) {
  std::string s(name);
  if (s.rfind("after", 0) == 0 && s != "after") s = s.substr(5);
  if (s == "after" || s == "start" || s == "started") return DepCondition::kAfter;
  if (s == "any") return DepCondition::kAfterAny;
  if (s == "ok") return DepCondition::kAfterOk;
  if (s == "notok") return DepCondition::kAfterNotOk;
  return std::nullopt;
}

double ParseDurationText(std::string_view text) {
  std::string t(text);
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || !std::isfinite(v) || v < 0) Fail(ErrorKind::kUsage, "'{}' is not a duration (90, 90s, 5m, 2h, 1d, 250ms)", t);
  std::string unit(end);
  double mult = unit.empty() || unit == "s" ? 1 : unit == "ms" ? 1e-3 : unit == "m" ? 60 : unit == "h" ? 3600 : unit == "d" ? 86400 : -1;
  if (mult < 0) Fail(ErrorKind::kUsage, "'{}' is not a duration (90, 90s, 5m, 2h, 1d, 250ms)", t);
  return v * mult;
}

uint64_t ParseBytesText(std::string_view text) {
  std::string t(text);
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || !std::isfinite(v) || v < 0) Fail(ErrorKind::kUsage, "'{}' is not a size (123, 512MiB, 16GiB, 1G)", t);
  std::string unit = Upper(end);
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();  // GiB, GB → GI, G
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();  // GI → G
  static const std::string kUnits = "KMGTP";
  double mult = 1;
  if (!unit.empty()) {
    size_t p = unit.size() == 1 ? kUnits.find(unit[0]) : std::string::npos;
    if (p == std::string::npos) Fail(ErrorKind::kUsage, "'{}' is not a size (123, 512MiB, 16GiB, 1G)", t);
    mult = std::pow(1024.0, static_cast<double>(p + 1));
  }
  double bytes = v * mult;
  if (bytes > 9.2e18) Fail(ErrorKind::kUsage, "'{}' is too large", t);
  return static_cast<uint64_t>(bytes);
}

JobSpec ParseJobSpec(std::string_view json, SpecSource source) {
  dom::parser parser;
  dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root)) Fail(ErrorKind::kUsage, "body is not valid JSON: {}", simdjson::error_message(err));
  dom::object o;
  if (root.get(o)) Fail(ErrorKind::kUsage, "body must be a JSON object");
  // A stored spec was accepted by the daemon that wrote it (perhaps an older one, with fewer checks): it must
  // load, or the job could not be reconciled at all.
  const bool submitted = source == SpecSource::kSubmit;
  if (submitted) CheckNoDuplicateNames(root, "");
  auto text = [submitted](dom::element e, const std::string& field) { return submitted ? GetText(e, field) : GetString(e, field); };
  JobSpec s;
  std::optional<std::vector<std::string>> command;
  std::string shell_text, script_path, interpreter;
  std::vector<std::string> args;
  bool has_shell_text = false, has_pipeline = false;
  for (auto [k, v] : o) {
    std::string key(k);
    if (key == "name") {
      s.name = text(v, key);
      if (s.name.size() > 256) Bad(key, "at most 256 bytes");
    } else if (key == "kind") {
      s.kind = GetString(v, key);
      if (s.kind != "command" && s.kind != "script" && s.kind != "pipeline")
        Bad(key, "'" + s.kind + "' is not a supported kind (command, script, pipeline)");
    } else if (key == "pipeline") {
      has_pipeline = true;
      for (auto [pk, pv] : GetObject(v, key)) {
        if (pk == "recipe") s.pipeline.recipe = text(pv, "pipeline.recipe");
        else if (pk == "job_dir") s.pipeline.job_dir = text(pv, "pipeline.job_dir");
        else if (pk == "overrides") {
          for (auto [ok, ov] : GetObject(pv, "pipeline.overrides")) {
            if (ok.empty() || ok == "job_id" || ok == "work_dir")
              Bad("pipeline.overrides", "'" + std::string(ok) + "' cannot be overridden (the job directory is pipeline.job_dir)");
            s.pipeline.overrides.emplace_back(ok, text(ov, "pipeline.overrides." + std::string(ok)));
          }
        } else {
          Bad("pipeline." + std::string(pk), "unknown field (recipe, job_dir, overrides)");
        }
      }
    } else if (key == "command") {
      if (v.is_string()) {
        shell_text = GetString(v, key);
        has_shell_text = true;
      } else {
        command = GetStrings(v, key);
      }
    } else if (key == "shell") {
      s.shell = GetBool(v, key);
    } else if (key == "script") {
      for (auto [sk, sv] : GetObject(v, key)) {
        if (sk == "path") script_path = text(sv, "script.path");
        else if (sk == "interpreter") interpreter = text(sv, "script.interpreter");
        else Bad("script." + std::string(sk), "unknown field (path, interpreter)");
      }
    } else if (key == "args") {
      args = GetStrings(v, key);
    } else if (key == "cwd") {
      s.cwd = text(v, key);
      // Relative to what the daemon's own directory happens to be is never what a client meant.
      if (submitted && !s.cwd.empty() && s.cwd.front() != '/') Bad(key, "must be an absolute path (got '" + s.cwd + "')");
    } else if (key == "env") {
      for (auto [ek, ev] : GetObject(v, key)) {
        if (ek.empty() || ek.find('=') != std::string_view::npos || ek.find('\0') != std::string_view::npos)
          Bad("env", "'" + std::string(ek) + "' is not a variable name");
        if (ek == "CUDA_VISIBLE_DEVICES" || ek == "CUDA_DEVICE_ORDER" || ek == "SLUICE_JOB_ID" || ek == "SLUICE_ATTEMPT" ||
            ek.rfind("SLUICE_ARRAY_", 0) == 0)
          Bad("env." + std::string(ek), "is set by the server (request GPUs with resources.gpus)");
        s.env[std::string(ek)] = text(ev, "env." + std::string(ek));
      }
    } else if (key == "priority") {
      s.priority = static_cast<int>(GetInt(v, key, -1000000, 1000000));
    } else if (key == "resources") {
      ParseResources(GetObject(v, key), s.resources);
    } else if (key == "depends_on") {
      for (dom::element d : GetArray(v, key)) {
        Dependency dep;
        bool has_job = false;
        for (auto [dk, dv] : GetObject(d, "depends_on[]")) {
          if (dk == "job") {
            if (dv.is_string()) {  // "ID_K": a task of an array (a job id is a number)
              auto ref = ParseJobRef(GetString(dv, "depends_on[].job"));
              if (!ref || ref->index < 0)
                Bad("depends_on[].job", fmt::format("'{}' is neither a job id (a number) nor a task ID_K", GetString(dv, "depends_on[].job")));
              dep.job = ref->id;
              dep.index = ref->index;
            } else {
              dep.job = GetInt(dv, "depends_on[].job", 1, INT64_MAX);
            }
            has_job = true;
          } else if (dk == "condition") {
            auto c = ParseDepCondition(GetString(dv, "depends_on[].condition"));
            if (!c) Bad("depends_on[].condition", "must be after, afterany, afterok or afternotok");
            dep.condition = *c;
          } else {
            Bad("depends_on[]." + std::string(dk), "unknown field (job, condition)");
          }
        }
        if (!has_job) Bad("depends_on[]", "needs a job id");
        s.depends_on.push_back(dep);
      }
    } else if (key == "array") {
      ParseArraySpec(GetString(v, key), &s.array);
    } else if (key == "retry") {
      ParseRetry(GetObject(v, key), s.retry);
    } else if (key == "timeout") {
      for (auto [tk, tv] : GetObject(v, key)) {
        if (tk == "run") s.run_timeout = GetDuration(tv, "timeout.run");
        else if (tk == "queue") s.queue_timeout = GetDuration(tv, "timeout.queue");
        else if (tk == "kill_grace") s.kill_grace = GetDuration(tv, "timeout.kill_grace");
        else Bad("timeout." + std::string(tk), "unknown field (run, queue, kill_grace)");
      }
    } else {
      Bad(key, "unknown field");
    }
  }
  if (s.kind != "pipeline" && has_pipeline) Bad("pipeline", "only for kind pipeline");
  if (s.kind == "pipeline") {
    if (command || has_shell_text || s.shell || !args.empty() || !script_path.empty() || !interpreter.empty())
      Bad("command", "not used by kind pipeline (give pipeline.recipe)");
    if (s.pipeline.recipe.empty() || s.pipeline.recipe[0] != '/') Bad("pipeline.recipe", "is required, as an absolute path");
    if (!s.pipeline.job_dir.empty() && s.pipeline.job_dir[0] != '/') Bad("pipeline.job_dir", "must be an absolute path");
    if (!s.pipeline.job_dir.empty() && s.pipeline.job_dir.find_last_not_of('/') == std::string::npos)
      Bad("pipeline.job_dir", "must name a directory below /");
  } else if (s.kind == "command") {
    if (!script_path.empty() || !interpreter.empty()) Bad("script", "only for kind script");
    if (s.shell) {
      if (!has_shell_text) Bad("command", "with shell=true must be one string");
      if (shell_text.find('\0') != std::string::npos) Bad("command", "must not contain NUL bytes");
      // An empty script would run nothing and "succeed", as an empty argv would not be allowed to.
      if (shell_text.find_first_not_of(" \t\n\r\v\f") == std::string::npos)
        Bad("command", "with shell=true must not be empty or only whitespace");
      s.argv = {"/bin/sh", "-c", shell_text};
    } else {
      if (has_shell_text) Bad("command", "a string runs only with shell=true; give an argv array otherwise");
      if (!command || command->empty()) Bad("command", "is required (an argv array)");
      s.argv = std::move(*command);
    }
    if (!args.empty()) s.argv.insert(s.argv.end(), args.begin(), args.end());
  } else {  // script
    if (command || has_shell_text || s.shell) Bad("command", "not used by kind script (give script.path and args)");
    if (script_path.empty()) Bad("script.path", "is required for kind script");
    s.argv = {interpreter.empty() ? "/bin/sh" : interpreter, script_path};
    s.argv.insert(s.argv.end(), args.begin(), args.end());
  }
  if (s.kind != "pipeline" && s.argv[0].empty()) Bad("command", "argv[0] must not be empty");
  if (s.depends_on.size() > 1000) Bad("depends_on", "at most 1000 dependencies");
  if (s.array.count > 0 && !s.pipeline.job_dir.empty())
    Bad("array", "the tasks of a pipeline array each need their own job directory: leave pipeline.job_dir out");
  return s;
}

std::string JobSpec::ToJson() const {
  // The stored form: kind command with the resolved argv (a script's interpreter and path included), so
  // a restarted daemon runs exactly what was accepted. A pipeline keeps its recipe and job directory: the
  // argv is the daemon's own binary, resolved at each launch.
  JsonWriter w;
  w.BeginObject().Field("name", name);
  if (kind == "pipeline") {
    w.Field("kind", "pipeline").Key("pipeline").BeginObject().Field("recipe", pipeline.recipe);
    if (!pipeline.job_dir.empty()) w.Field("job_dir", pipeline.job_dir);
    w.Key("overrides").BeginObject();
    for (const auto& [k, v] : pipeline.overrides) w.Field(k, v);
    w.EndObject().EndObject();
  } else {
    w.Field("kind", "command").Key("command").BeginArray();
    for (const auto& a : argv) w.String(a);
    w.EndArray();
  }
  if (!cwd.empty()) w.Field("cwd", cwd);
  if (!env.empty()) {
    w.Key("env").BeginObject();
    for (const auto& [k, v] : env) w.Field(k, v);
    w.EndObject();
  }
  w.Field("priority", priority);
  w.Key("resources").BeginObject().Field("cpus", resources.cpus).Field("memory", resources.memory);
  w.Key("custom").BeginObject();
  for (const auto& [k, v] : resources.custom) w.Field(k, v);
  w.EndObject();
  w.Key("gpus").BeginObject().Field("count", resources.gpus).Field("min_free_memory", resources.gpu_memory).EndObject();
  w.EndObject();
  w.Key("depends_on").BeginArray();
  for (const auto& d : depends_on) {
    w.BeginObject();
    if (d.index >= 0) w.Field("job", JobRef{d.job, d.index}.ToString());
    else w.Field("job", d.job);
    w.Field("condition", DepConditionName(d.condition)).EndObject();
  }
  w.EndArray();
  w.Key("retry").BeginObject().Field("max_attempts", retry.max_attempts);
  w.Key("backoff").BeginObject().Field("initial", retry.backoff_initial).Field("multiplier", retry.backoff_multiplier)
      .Field("max", retry.backoff_max).Field("jitter", retry.jitter).EndObject();
  w.Key("retry_on").BeginArray();
  if (retry.retry_failed) w.String("failed");
  if (retry.retry_timeout) w.String("timeout");
  if (retry.retry_lost) w.String("lost");
  if (retry.retry_oom) w.String("oom");
  w.EndArray().Key("no_retry_exit_codes").BeginArray();
  for (int c : retry.no_retry_exit_codes) w.Int(c);
  w.EndArray().EndObject();
  w.Key("timeout").BeginObject().Field("run", run_timeout).Field("queue", queue_timeout).Field("kill_grace", kill_grace).EndObject();
  if (array.count > 0) w.Field("array", array.spec);
  w.EndObject();
  return w.Take();
}

}  // namespace sluice::manager
