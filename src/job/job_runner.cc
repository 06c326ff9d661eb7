#include "job/job_runner.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <thread>

#include <simdjson.h>

#include "core/error.h"
#include "core/json_writer.h"
#include "core/record.h"
#include "core/sample.h"
#include "engine/commit.h"
#include "engine/event_log.h"
#include "engine/executor.h"
#include "engine/input.h"
#include "engine/plan.h"
#include "io/atomic_file.h"
#include "io/codec.h"
#include "io/line_reader.h"
#include "io/process.h"
#include "job/progress.h"
#include "job/stop.h"
#include "job/plan_command.h"
#include "ops/pipeline.h"

namespace sluice {
namespace fs = std::filesystem;
namespace {

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
  return s;
}

std::string NewJobId(const Recipe& r) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y%m%d_%H%M%S", &tm);
  std::random_device rd;
  return fmt::format("{}_{}_{:06x}", ts, r.config_name, rd() & 0xFFFFFF);
}

struct Layout {
  std::string job_id, work_dir, job_dir, event_dir, events_jsonl, events_log;
  JobPaths paths;
};

// Substitutes {job_id} and {work_dir} (datajuicer-executor.md §1.2), with DataJuicer's rule that a
// work_dir not ending in the job id gets it appended; unlike DataJuicer, event_log_dir and checkpoint_dir
// are honoured (with the job id appended unless they already name it, so jobs never share them).
Layout ResolveLayout(Recipe& r) {
  Layout l;
  l.job_id = r.job_id.empty() ? NewJobId(r) : r.job_id;
  std::string wd = r.work_dir;
  if (wd.empty()) wd = r.export_path.find("{work_dir}") == std::string::npos ? fs::path(r.export_path).parent_path().string() : "./outputs";
  if (wd.empty()) wd = ".";
  if (wd.find("{job_id}") != std::string::npos && !wd.ends_with("{job_id}") && !wd.ends_with("{job_id}/"))
    Fail(ErrorKind::kUsage, "work_dir '{}': {{job_id}} must be its last path component", r.work_dir);
  wd = Replace(wd, "{job_id}", l.job_id);
  l.work_dir = fs::absolute(wd).lexically_normal().string();
  if (l.work_dir.size() > 1 && l.work_dir.back() == '/') l.work_dir.pop_back();
  l.job_dir = fs::path(l.work_dir).filename() == l.job_id ? l.work_dir : l.work_dir + "/" + l.job_id;
  auto subst = [&](const std::string& s) { return SubstituteJobPlaceholders(s, l.work_dir, l.job_id); };
  r.export_path = fs::absolute(subst(r.export_path)).lexically_normal().string();
  for (auto& p : r.dataset_paths) p = subst(p);
  auto own_dir = [&](const std::string& raw, const std::string& def) {
    if (raw.empty()) return def;
    std::string d = fs::absolute(subst(raw)).lexically_normal().string();
    if (d.find(l.job_id) == std::string::npos) d += "/" + l.job_id;
    return d;
  };
  l.event_dir = own_dir(r.event_log_dir, l.job_dir);
  l.events_jsonl = l.event_dir + "/events.jsonl";
  l.events_log = r.event_log_dir.empty() ? l.job_dir + "/logs/events.log" : l.event_dir + "/events.log";
  l.paths.job_dir = l.job_dir;
  l.paths.checkpoint_dir = own_dir(r.checkpoint_dir, l.job_dir + "/checkpoints");
  l.paths.results_dir = l.job_dir + "/results";
  l.paths.metadata_dir = l.job_dir + "/metadata";
  l.paths.quarantine_dir = l.job_dir + "/quarantine";
  l.paths.locks_dir = l.job_dir + "/locks";
  l.paths.export_path = r.export_path;
  l.paths.export_journal = fmt::format("{}.{}.partial", r.export_path, l.job_id);
  return l;
}

std::string ShellQuote(const std::string& s) {
  auto plain = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || (c != '\0' && std::strchr("_./:=@%+,-", c) != nullptr); };
  if (!s.empty() && std::all_of(s.begin(), s.end(), plain)) return s;
  return "'" + Replace(s, "'", "'\\''") + "'";
}

// Relative paths in the recipe and on the command line mean the working directory, and the binary need not
// be on PATH: the command names both, so it resumes the job from any directory (from another one, without the
// cd, the inputs would resolve elsewhere and the resume would be refused as "input changed").
std::string ResumeCommand(const RunOptions& opt, const Recipe& r, const std::string& job_id) {
  std::error_code ec;
  std::string cwd = fs::current_path(ec).string();
  std::string cmd = ec ? "" : "cd " + ShellQuote(cwd) + " && ";
  cmd += ShellQuote(SelfExecutablePath()) + " run --config " + ShellQuote(r.config_path) + " --job_id " + ShellQuote(job_id);
  for (const auto& o : opt.overrides)
    if (o.key != "job_id") cmd += " --" + o.key + " " + ShellQuote(o.value);
  return cmd;
}

// Writes and syncs a probe that is never committed: an AtomicFile's temporary, removed with it, so a run
// killed meanwhile leaves one more abandoned temporary, which the next probe of the directory removes.
void CheckWritable(Env* env, const std::string& dir) {
  env->CreateDirs(dir);
  const std::string kProbe = ".sluice-write-probe";
  RemoveAbandonedTemporaries(env, dir, false, [&](std::string_view target) { return target == kProbe; });
  AtomicFile probe(env, dir + "/" + kProbe);
  probe.file().Append("ok");
  probe.file().Sync();
}

// The temporaries of files a killed run of this job was writing (io/atomic_file.h): in the job's own
// directories every one (this process holds the job lock); beside the export only those of the export's own
// files (the export, its shards, its stats side file), since other programs may write there.
void RemoveAbandonedFiles(Env* env, const Layout& l, const Recipe& r, EventLog& events) {
  auto all = [](std::string_view) { return true; };
  std::vector<std::string> removed = RemoveAbandonedTemporaries(env, l.job_dir, true, all);
  for (const std::string& dir : {l.paths.checkpoint_dir, l.paths.results_dir, l.paths.quarantine_dir, l.paths.metadata_dir})
    if (!dir.starts_with(l.job_dir + "/")) {
      auto more = RemoveAbandonedTemporaries(env, dir, true, all);
      removed.insert(removed.end(), more.begin(), more.end());
    }
  fs::path ep(r.export_path);
  std::string name = ep.filename().string(), side = fs::path(StatsSidePath(r.export_path)).filename().string();
  auto export_file = [&](std::string_view t) { return t == name || t == side || IsExportShardName(r.export_path, t); };
  auto more = RemoveAbandonedTemporaries(env, ep.parent_path().empty() ? "." : ep.parent_path().string(), false, export_file);
  removed.insert(removed.end(), more.begin(), more.end());
  if (!removed.empty())
    events.Log(LogLevel::kInfo, fmt::format("removed {} temporary file(s) an interrupted run left, e.g. {}", removed.size(), removed[0]));
}

// --dry-run reads the first records of every input file through the engine's parser, so that a file that
// is not JSONL, or lacks the text key, is named before a run starts; later lines are checked as the run
// reads them. Returns how many records were read and how many of them on_bad_record would drop; with
// on_bad_record: error the first bad one throws kData with file:line, as the run would.
constexpr uint64_t kDryRunRecordsPerFile = 1000;

std::pair<uint64_t, uint64_t> CheckInputRecords(Env* env, const Recipe& r, const std::vector<InputFile>& inputs) {
  RecordParser parser(r.text_keys);
  Sample sample;
  std::string error;
  uint64_t read = 0, bad = 0;
  const uint64_t max_record = MaxRecordBytesSetting(env);
  for (const InputFile& f : inputs) {
    LineReader lines(OpenWholeFile(env, f.path), RecordPadding(), 256 << 10, max_record);
    std::string_view line;
    auto next = [&] {
      try {
        return lines.Next(line);
      } catch (const LineTooLong& e) {
        Fail(ErrorKind::kData, "{}:{}: line longer than {} bytes, the longest record sluice reads", f.path, e.line(), e.limit());
      }
    };
    for (uint64_t n = 0; n < kDryRunRecordsPerFile && next();) {
      ParseStatus ps = parser.Parse(line, sample, error);
      if (ps == ParseStatus::kBlank) continue;
      ++n;
      ++read;
      if (ps != ParseStatus::kBad) continue;
      if (r.on_bad_record == BadRecordPolicy::kError)
        Fail(ErrorKind::kData, "{}:{}: {} (set on_bad_record: skip or quarantine to drop such lines)", f.path, lines.line_number(), error);
      ++bad;
    }
  }
  return {read, bad};
}

void WriteDag(Env* env, const Layout& l, const Pipeline& pipeline, const Plan& plan, const Recipe& r) {
  JsonWriter w;
  w.BeginObject().Field("job_id", l.job_id).Field("checkpoint_strategy", CheckpointStrategyName(r.checkpoint));
  w.Field("total_partitions", static_cast<uint64_t>(plan.partitions.size()));
  w.Key("stages").BeginArray();
  auto stages = MakeStages(pipeline);
  for (size_t k = 0; k < stages.size(); ++k) {
    w.BeginObject().Field("stage", static_cast<uint64_t>(k)).Field("barrier", stages[k].barrier);
    w.Key("ops").BeginArray();
    for (size_t i = stages[k].op_begin; i < stages[k].op_end; ++i) {
      const auto& op = pipeline.ops[i];
      w.BeginObject().Field("node_id", fmt::format("op_{:03d}_{}", i + 1, op.def->name)).Field("operation_idx", static_cast<uint64_t>(i));
      w.Field("op_name", op.def->name).Field("op_type", OpKindName(op.def->kind));
      w.Field("execution_order", static_cast<uint64_t>(i + 1)).Field("text_key", op.text_key);
      w.Key("params").Raw(op.params.ToJson()).EndObject();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  WriteFileAtomic(env, l.job_dir + "/dag_execution_plan.json", w.Take() + "\n");
}

void WriteSummary(Env* env, const Layout& l, const Recipe& r, const std::string& status, double start, double end,
                  const std::string& resume, const JobReport* rep, const std::string& error, int np, size_t partitions) {
  JsonWriter w;
  w.BeginObject().Field("job_id", l.job_id).Field("status", status).Field("start_time", start);
  if (end > 0) w.Field("end_time", end).Field("duration", end - start);
  w.Field("config_file", r.config_path).Field("project_name", r.project_name).Field("work_dir", l.work_dir);
  w.Field("job_dir", l.job_dir).Field("event_log_file", l.events_jsonl).Field("checkpoint_dir", l.paths.checkpoint_dir);
  w.Field("export_path", r.export_path).Field("resumption_command", resume).Field("np", np);
  w.Field("checkpoint_strategy", CheckpointStrategyName(r.checkpoint)).Field("total_partitions", static_cast<uint64_t>(partitions));
  if (!error.empty()) w.Field("error_message", error);
  if (rep != nullptr) {
    uint64_t done = 0, failed = 0, reused = 0;
    for (const auto& p : rep->partitions) {
      done += p.status == PartitionReport::Status::kCompleted;
      failed += p.status == PartitionReport::Status::kFailed;
      reused += p.reused;
    }
    w.Field("completed_partitions", done).Field("failed_partitions", failed).Field("reused_partitions", reused);
    w.Field("input_rows", rep->rows_in).Field("output_rows", rep->rows_out).Field("bad_records", rep->bad_records);
    w.Field("bad_record_policy", BadRecordPolicyName(r.on_bad_record)).Field("null_text_dropped", rep->null_text);
    if (r.on_bad_record == BadRecordPolicy::kQuarantine) w.Field("quarantine_dir", l.paths.quarantine_dir);
    w.Field("processing_seconds", rep->seconds);
    w.Key("export_files").BeginArray();
    for (const auto& f : rep->export_files) w.String(f);
    w.EndArray();
    w.Key("ops").BeginArray();
    for (size_t i = 0; i < rep->ops.size(); ++i) {
      const auto& o = rep->ops[i];
      w.BeginObject().Field("operation_idx", static_cast<uint64_t>(i)).Field("name", o.name).Field("input_rows", o.in);
      w.Field("output_rows", o.out).Field("dropped", o.in - o.out).Field("dropped_by_error", o.errors).EndObject();
    }
    w.EndArray();
    w.Key("errors").BeginArray();
    for (size_t p = 0; p < rep->partitions.size(); ++p) {
      const auto& pr = rep->partitions[p];
      if (pr.status != PartitionReport::Status::kFailed) continue;
      w.BeginObject().Field("partition_id", static_cast<uint64_t>(p)).Field("attempts", pr.attempts).Field("error", pr.error).EndObject();
    }
    w.EndArray();
    w.Key("missing_input_ranges").BeginArray();
    for (const auto& m : rep->missing_ranges) w.String(m);
    w.EndArray();
    if (rep->status == "stopped") w.Field("stop_time", end).Field("stop_reason", rep->stop_reason);
  }
  w.EndObject();
  WriteFileAtomic(env, l.job_dir + "/job_summary.json", w.Take() + "\n");
}

void WriteFinalReport(Env* env, const Layout& l, const Plan& plan, const JobReport& rep) {
  JsonWriter w;
  w.BeginObject().Key("partition_details").BeginArray();
  for (size_t p = 0; p < plan.partitions.size(); ++p) {
    const auto& pr = rep.partitions[p];
    const auto& r = plan.partitions[p];
    const char* st = pr.status == PartitionReport::Status::kCompleted ? "completed"
                     : pr.status == PartitionReport::Status::kFailed  ? "failed" : "not_run";
    w.BeginObject().Field("partition_id", static_cast<uint64_t>(p)).Field("file", plan.files[r.file].path);
    w.Field("begin", r.begin).Field("end", r.end).Field("status", st).Field("attempts", pr.attempts);
    w.Field("input_rows", pr.rows_in).Field("output_rows", pr.rows_out).Field("bad_records", pr.bad_records);
    w.Field("reused", pr.reused).Field("processing_seconds", pr.seconds);
    if (!pr.error.empty()) w.Field("error", pr.error);
    w.EndObject();
  }
  w.EndArray().EndObject();
  WriteFileAtomic(env, l.paths.metadata_dir + "/final_mapping_report.json", w.Take() + "\n");
}

// Deletes intermediate data as the recipe's retention settings say (README.md, recipe reference: retention).
void ApplyRetention(Env* env, const Recipe& r, const Layout& l, const Plan& plan, const JobReport& rep, EventLog& ev) {
  if (r.preserve_intermediate_data) return;
  bool success = rep.status == "completed";
  std::vector<std::string> removed;
  if (success && (r.cleanup_on_success || r.retention != RetentionPolicy::kKeepAll)) {
    env->RemoveTree(l.paths.checkpoint_dir);
    env->RemoveTree(l.paths.results_dir);
    removed = {l.paths.checkpoint_dir, l.paths.results_dir};
  } else if (!success && r.retention != RetentionPolicy::kKeepAll) {
    // Keep what a resume needs: committed results, and every checkpoint of unfinished partitions.
    for (size_t p = 0; p < plan.partitions.size(); ++p) {
      if (rep.partitions[p].status != PartitionReport::Status::kCompleted) continue;
      std::string d = fmt::format("{}/partition_{:06d}", l.paths.checkpoint_dir, p);
      if (env->FileExists(d)) {
        env->RemoveTree(d);
        removed.push_back(d);
      }
    }
  }
  if (!removed.empty())
    ev.Emit("intermediate_cleanup", fmt::format("retention {}: removed {} intermediate path(s)", RetentionPolicyName(r.retention), removed.size()),
            [&](JsonWriter& j) {
              j.Field("retention_policy", RetentionPolicyName(r.retention)).Key("paths").BeginArray();
              for (const auto& d : removed) j.String(d);
              j.EndArray();
            });
}

// max_retention_days: intermediate data (checkpoints/, results/) of other *finished* jobs in the same
// work_dir older than the limit is removed; their exports, summaries and event logs are kept.
void SweepOldJobs(Env* env, const Recipe& r, const Layout& l, EventLog& ev) {
  if (!r.max_retention_days || l.job_dir == l.work_dir) return;
  double cutoff = env->NowSeconds() - static_cast<double>(*r.max_retention_days) * 86400.0;
  for (const auto& name : env->ListDir(l.work_dir)) {
    std::string dir = l.work_dir + "/" + name;
    std::string summary = dir + "/job_summary.json";
    if (dir == l.job_dir || !env->FileExists(summary)) continue;
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    std::string json = ReadFile(env, summary);
    std::string_view status;
    double end = 0;
    if (parser.parse(json).get(root) || root["status"].get(status) || root["end_time"].get(end)) continue;
    if ((status != "completed" && status != "failed" && status != "completed_with_failures") || end > cutoff) continue;
    for (const char* sub : {"/checkpoints", "/results"}) {
      if (!env->FileExists(dir + sub)) continue;
      env->RemoveTree(dir + sub);
      ev.Emit("intermediate_cleanup", fmt::format("max_retention_days: removed {}{}", dir, sub),
              [&](JsonWriter& j) { j.Field("path", dir + sub).Field("max_retention_days", *r.max_retention_days); });
    }
  }
}

// A message for the user: on stderr as "sluice: <prefix><message>", and in the job's logs once they are open
// (docs/logging.md). A log that cannot be written does not hide the message.
void Say(EventLog* log, LogLevel level, std::string_view prefix, const std::string& message) {
  fmt::print(stderr, "sluice: {}{}\n", prefix, message);
  if (log == nullptr) return;
  try {
    log->Log(level, message);
  } catch (const Error&) {
  }
}

// `log` is set once the job's logs are open, so that RunJob logs the error that ends the run.
int Run(Env* env, const RunOptions& opt, std::unique_ptr<EventLog>& log) {
  CheckEnvironmentSettings(env);  // before anything is created on disk
  Recipe recipe = LoadRecipe(opt.recipe_path, opt.overrides);
  Pipeline pipeline = ResolvePipeline(recipe);
  for (const auto& w : recipe.warnings) fmt::print(stderr, "sluice: warning: {}\n", w);
  for (const auto& w : pipeline.warnings) fmt::print(stderr, "sluice: warning: {}\n", w);
  int cpus = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int np = std::min(recipe.np, cpus);
  Layout l = ResolveLayout(recipe);
  std::vector<InputFile> inputs = ResolveInputs(env, recipe.dataset_paths);
  std::string plan_path = l.paths.metadata_dir + "/dataset_mapping.json";
  std::string resume = ResumeCommand(opt, recipe, l.job_id);

  if (opt.dry_run) {
    std::optional<AutoConfigured> ac;
    if (recipe.auto_configure) {
      ac = AutoConfigure(env, recipe, opt.overrides, inputs, nullptr);
      np = std::min(ac->tuned.np, cpus);
    }
    Plan plan = ac ? MakeTunedPlan(env, recipe, *ac, pipeline, inputs, np) : MakePlan(env, recipe, pipeline, inputs, np);
    fmt::print("recipe {} is valid\njob_id: {}\njob_dir: {}\nexport: {}\nnp: {} (of {} CPUs)\ncheckpoint: {}\n", recipe.config_path,
               l.job_id, l.job_dir, recipe.export_path, np, cpus, CheckpointStrategyName(recipe.checkpoint));
    uint64_t bytes = 0;
    for (const auto& f : inputs) bytes += f.size;
    fmt::print("input: {} file(s), {} bytes, {} partition(s)\n", inputs.size(), bytes, plan.partitions.size());
    auto [read, bad] = CheckInputRecords(env, recipe, inputs);
    fmt::print("records: {} read (the first {} of each file), {} valid{}\n", read, kDryRunRecordsPerFile, read - bad,
               bad == 0 ? "" : fmt::format(", {} bad (on_bad_record: {} drops them)", bad, BadRecordPolicyName(recipe.on_bad_record)));
    auto stages = MakeStages(pipeline);
    for (size_t k = 0; k < stages.size(); ++k) {
      fmt::print("stage {}{}:\n", k, stages[k].barrier ? " (ends with a global deduplication barrier)" : "");
      for (size_t i = stages[k].op_begin; i < stages[k].op_end; ++i)
        fmt::print("  #{} {} {}\n", i, pipeline.ops[i].def->name, pipeline.ops[i].params.ToJson());
    }
    return 0;
  }

  CheckWritable(env, fs::path(recipe.export_path).parent_path().string());
  env->CreateDirs(l.job_dir);
  auto job_lock = env->LockFile(l.job_dir + "/job.lock", false);
  // `sluice snapshot` probes this lock for microseconds to tell a running job from an interrupted one; a
  // few short retries keep such a probe from refusing a real start.
  for (int attempt = 0; !job_lock && attempt < 20; ++attempt) {
    env->SleepSeconds(0.005);
    job_lock = env->LockFile(l.job_dir + "/job.lock", false);
  }
  if (!job_lock) Fail(ErrorKind::kState, "job {} is already running in another process (lock {}/job.lock)", l.job_id, l.job_dir);
  // --restart discards the old state only now, under the lock: never the state of a job another process runs.
  bool existing = env->FileExists(plan_path);
  if (existing && opt.restart) {
    for (const auto& d : {l.paths.checkpoint_dir, l.paths.results_dir, l.paths.metadata_dir, l.paths.quarantine_dir})
      env->RemoveTree(d);
    for (const auto& f : {l.job_dir + "/job_summary.json", l.job_dir + "/dag_execution_plan.json"}) env->RemoveFile(f);
    existing = false;
  }
  // From here SIGTERM / SIGINT stop the job gracefully, and `sluice stop` can find this process (job/stop.h).
  StopSignals stop_signals;
  std::random_device rd;
  std::string run_id = fmt::format("{:08x}{:08x}", rd(), rd());
  PidFileGuard pid_file(env, l.job_dir, l.job_id, run_id);

  // The event log and the central logger, open before anything else can fail the job (docs/logging.md).
  EventLogOptions eo;
  eo.enabled = recipe.event_logging;
  eo.jsonl_path = l.events_jsonl;
  eo.text_path = l.events_log;
  eo.max_log_size_mb = recipe.max_log_size_mb;
  eo.backup_count = static_cast<int>(recipe.log_backup_count);
  log = std::make_unique<EventLog>(env, l.job_id, eo);
  EventLog& events = *log;
  for (const auto& w : recipe.warnings) events.Log(LogLevel::kWarning, w);
  for (const auto& w : pipeline.warnings) events.Log(LogLevel::kWarning, w);
  RemoveAbandonedFiles(env, l, recipe, events);

  Plan plan;
  if (existing) {
    plan = Plan::FromJson(ReadFile(env, plan_path), plan_path);
    std::string diff = ExplainDifference(plan, MakePlanHeader(recipe, pipeline, inputs));
    if (!diff.empty())
      Fail(ErrorKind::kState, "cannot resume job {}: the recipe or input changed since it started:\n{}"
           "Run with --restart to discard the job's state and start over, or use a new --job_id.", l.job_id, diff);
  }
  // auto_configure: np and partition size from the machine and the input; a resume keeps the stored
  // partitions and chooses only np again (job/plan_command.h).
  std::optional<AutoConfigured> ac;
  if (recipe.auto_configure) {
    ac = AutoConfigure(env, recipe, opt.overrides, inputs, existing ? &plan : nullptr);
    np = std::min(ac->tuned.np, cpus);
  }
  const Recipe& run_recipe = ac ? ac->tuned : recipe;
  if (!existing) {
    plan = ac ? MakeTunedPlan(env, recipe, *ac, pipeline, inputs, np) : MakePlan(env, recipe, pipeline, inputs, np);
    for (const auto& d : {l.paths.metadata_dir, l.paths.checkpoint_dir, l.paths.results_dir}) env->CreateDirs(d);
    std::string copy = l.job_dir + "/" + fs::path(recipe.config_path).filename().string();
    if (!env->FileExists(copy)) WriteFileAtomic(env, copy, ReadFile(env, recipe.config_path));
    WriteDag(env, l, pipeline, plan, recipe);
    WriteFileAtomic(env, plan_path, plan.ToJson());
  }

  double start = env->NowSeconds();
  fmt::print("job_id: {}\njob_dir: {}\nresume with: {}\n", l.job_id, l.job_dir, resume);
  std::fflush(stdout);
  WriteSummary(env, l, recipe, "running", start, 0, resume, nullptr, "", np, plan.partitions.size());
  events.Emit("job_start", existing ? "resuming job" : "starting job", [&](JsonWriter& j) {
    j.Field("is_resuming", existing).Field("run_id", run_id).Field("total_partitions", static_cast<uint64_t>(plan.partitions.size()));
    j.Field("total_ops", static_cast<uint64_t>(pipeline.ops.size())).Field("np", np);
    j.Field("recipe_hash", plan.recipe_hash).Field("resumption_command", resume);
    j.Key("config_summary").BeginObject().Field("config_file", recipe.config_path);
    j.Field("checkpoint_strategy", CheckpointStrategyName(recipe.checkpoint)).Field("export_path", recipe.export_path);
    j.Field("partition_max_size_mb", run_recipe.partition_max_size_mb).Field("partition_size", run_recipe.partition_records).EndObject();
  });
  if (ac)
    events.Emit("auto_configure",
                fmt::format("auto_configure: np {} ({}), partition {} MiB ({}), {} data", np, SourceName(ac->decision.np.source),
                            ac->decision.max_size_mb.value, SourceName(ac->decision.max_size_mb.source), ModalityName(ac->sample.modality)),
                [&](JsonWriter& j) { j.Field("np", np).Key("resource_plan").Raw(ac->json); });
  SweepOldJobs(env, recipe, l, events);

  Executor ex(env, run_recipe, pipeline, plan, l.paths, events, np);
  ex.SetStopFlag(&stop_signals.flag());
  JobReport rep;
  try {
    ProgressBar bar(env, ex.progress(), &stop_signals.flag());
    rep = ex.Run();
  } catch (const Error& e) {
    rep.status = "failed";
    rep.error = e.what();
    rep.error_kind = e.kind();
    rep.partitions.resize(plan.partitions.size());
  }
  double end = env->NowSeconds();
  // Recording the outcome can fail too (a full disk): that must not hide the job's own result or error.
  std::string record_error;
  try {
    if (rep.status == "stopped") rep.stop_reason = SignalName(stop_signals.signal());
    WriteFinalReport(env, l, plan, rep);
    WriteSummary(env, l, recipe, rep.status, start, end, resume, &rep, rep.error, np, plan.partitions.size());
    if (rep.status == "completed" || rep.status == "completed_with_failures") {
      events.Emit("job_complete", fmt::format("job {}: {} -> {} rows in {:.3f}s", rep.status, rep.rows_in, rep.rows_out, end - start),
                  [&](JsonWriter& j) {
                    j.Field("status", rep.status).Field("duration", end - start).Field("input_rows", rep.rows_in);
                    j.Field("output_rows", rep.rows_out).Key("export_files").BeginArray();
                    for (const auto& f : rep.export_files) j.String(f);
                    j.EndArray();
                    if (!rep.error.empty()) j.Field("error_message", rep.error);
                  },
                  true);
    } else if (rep.status == "stopped") {
      uint64_t done = 0, this_run = 0;
      for (const auto& p : rep.partitions)
        if (p.status == PartitionReport::Status::kCompleted) {
          ++done;
          this_run += !p.reused;
        }
      events.Emit("job_stopped",
                  fmt::format("job stopped on {}: {} of {} partitions committed ({} in this run), {} abandoned", rep.stop_reason,
                              done, plan.partitions.size(), this_run, rep.abandoned.size()),
                  [&](JsonWriter& j) {
                    j.Field("status", "stopped").Field("signal", rep.stop_reason).Field("run_id", run_id).Field("duration", end - start);
                    j.Field("total_partitions", static_cast<uint64_t>(plan.partitions.size())).Field("completed_partitions", done);
                    j.Field("completed_this_run", this_run).Field("stage", ex.progress().stage.load());
                    j.Field("stage_completed_partitions", ex.progress().stage_done.load()).Key("abandoned_partitions").BeginArray();
                    for (size_t p : rep.abandoned) j.Uint(p);
                    j.EndArray().Field("input_rows", rep.rows_in).Field("output_rows", rep.rows_out);
                    j.Field("resumption_command", resume);
                  },
                  true);
    } else {
      events.Emit("job_failed", rep.error, [&](JsonWriter& j) {
        j.Field("status", "failed").Field("duration", end - start).Field("error_message", rep.error);
        j.Field("resumption_command", resume);
      }, true);
    }
    ApplyRetention(env, recipe, l, plan, rep, events);
  } catch (const Error& e) {
    record_error = e.what();
  }
  if (!record_error.empty()) {
    bool exported = rep.status == "completed" || rep.status == "completed_with_failures";
    if (exported)
      Say(&events, LogLevel::kError, "", fmt::format("job {} {}: {} output rows -> {}", l.job_id, rep.status, rep.rows_out,
                                                     rep.export_files.empty() ? recipe.export_path : rep.export_files[0]));
    else
      Say(&events, LogLevel::kError, "", fmt::format("job {} {}{}", l.job_id, rep.status, rep.error.empty() ? "" : ": " + rep.error));
    Say(&events, LogLevel::kError, "", fmt::format("its outcome could not be recorded in {}: {}", l.job_dir, record_error));
    Say(&events, LogLevel::kInfo, "", "resume with: " + resume);
    return exported || rep.status == "stopped" ? ExitCode(ErrorKind::kOutput) : ExitCode(rep.error_kind);
  }

  if (rep.status == "completed") {
    fmt::print("completed: {} input rows, {} output rows, {} bad records -> {}\n", rep.rows_in, rep.rows_out, rep.bad_records,
               rep.export_files.size() == 1 ? rep.export_files[0] : fmt::format("{} shards", rep.export_files.size()));
    return 0;
  }
  if (rep.status == "stopped") {
    fmt::print(stderr, "sluice: job {} stopped on {}: committed work is kept\nsluice: resume with: {}\n", l.job_id,
               rep.stop_reason, resume);
    return kExitStopped;
  }
  Say(&events, LogLevel::kError, "", fmt::format("job {} {}: {}", l.job_id, rep.status, rep.error));
  if (rep.status == "completed_with_failures")
    Say(&events, LogLevel::kWarning, "", fmt::format("partial export written; missing input ranges are listed in {}/job_summary.json", l.job_dir));
  Say(&events, LogLevel::kInfo, "", "resume with: " + resume);
  return ExitCode(rep.error_kind);
}

}  // namespace

int RunJob(Env* env, const RunOptions& opt) {
  std::unique_ptr<EventLog> log;
  try {
    return Run(env, opt, log);
  } catch (const Error& e) {
    Say(log.get(), LogLevel::kError, "error: ", e.what());
    return e.exit_code();
  }
}

std::string DescribeOps(const std::string& name) {
  std::string out;
  for (const auto& d : AllOps()) {
    if (!name.empty() && d.name != name) continue;
    out += fmt::format("{} ({})\n  {}\n", d.name, OpKindName(d.kind), d.summary);
    if (name.empty()) continue;
    for (const auto& s : FullParamSpecs(d))
      out += fmt::format("  {:<22} {:<26} default {:<22} {}\n", s.name, ParamTypeName(s.type), s.default_value.ToJson(), s.help);
  }
  if (out.empty()) {
    std::vector<std::string> names;
    for (const auto& d : AllOps()) names.push_back(d.name);
    Fail(ErrorKind::kUsage, "unknown op '{}'{}", name, DidYouMean(name, names));
  }
  return out;
}

}  // namespace sluice
