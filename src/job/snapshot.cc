#include "job/snapshot.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <thread>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/error.h"
#include "core/json_writer.h"
#include "core/threads.h"
#include "engine/commit.h"
#include "engine/plan.h"
#include "io/atomic_file.h"
#include "io/codec.h"

namespace sluice {
namespace fs = std::filesystem;
using simdjson::dom::element;

const char* JobStatusName(JobStatus s) {
  switch (s) {
    case JobStatus::kNotStarted: return "not_started";
    case JobStatus::kRunning: return "running";
    case JobStatus::kCompleted: return "completed";
    case JobStatus::kCompletedWithFailures: return "completed_with_failures";
    case JobStatus::kFailed: return "failed";
    case JobStatus::kInterrupted: return "interrupted";
    case JobStatus::kStopped: return "stopped";
  }
  return "unknown";
}

const char* WorkStatusName(WorkStatus s) {
  switch (s) {
    case WorkStatus::kNotStarted: return "not_started";
    case WorkStatus::kInProgress: return "in_progress";
    case WorkStatus::kCompleted: return "completed";
    case WorkStatus::kFailed: return "failed";
    case WorkStatus::kInterrupted: return "interrupted";
  }
  return "unknown";
}

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0)) return "";
  if (seconds < 10) return fmt::format("{:.2f}s", seconds);
  auto total = static_cast<uint64_t>(seconds);
  uint64_t h = total / 3600, m = total % 3600 / 60, s = total % 60;
  if (h > 0) return fmt::format("{}h {}m {}s", h, m, s);
  if (m > 0) return fmt::format("{}m {}s", m, s);
  return fmt::format("{}s", s);
}

std::string FormatTime(double epoch_seconds) {
  std::time_t t = static_cast<std::time_t>(epoch_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

namespace {

// Event types, with DataJuicer's spellings (both of its schemas, datajuicer-executor.md §2.2-2.4) mapped
// onto sluice's (docs/events.md).
enum class Ev {
  kOther, kJobStart, kJobComplete, kJobFailed, kJobStopped, kCreationStart, kCreationComplete, kPartitionStart,
  kPartitionComplete, kPartitionFailed, kPartitionSkipped, kOpStart, kOpComplete, kOpFailed, kCheckpointSave,
  kCheckpointLoad
};

Ev Classify(std::string_view t) {
  // Most frequent first: a large job's log is mostly op events.
  if (t == "op_start" || t == "operation_start") return Ev::kOpStart;
  if (t == "op_complete" || t == "operation_complete") return Ev::kOpComplete;
  if (t == "checkpoint_save" || t == "operation_checkpoint") return Ev::kCheckpointSave;
  if (t == "partition_start") return Ev::kPartitionStart;
  if (t == "partition_complete") return Ev::kPartitionComplete;
  if (t == "partition_failed") return Ev::kPartitionFailed;
  if (t == "partition_skipped") return Ev::kPartitionSkipped;
  if (t == "op_failed" || t == "operation_error") return Ev::kOpFailed;
  if (t == "checkpoint_load") return Ev::kCheckpointLoad;
  if (t == "partition_creation_start") return Ev::kCreationStart;
  if (t == "partition_creation_complete") return Ev::kCreationComplete;
  if (t == "job_start" || t == "processing_start") return Ev::kJobStart;
  if (t == "job_complete" || t == "processing_complete") return Ev::kJobComplete;
  if (t == "job_failed" || t == "processing_error") return Ev::kJobFailed;
  if (t == "job_stopped") return Ev::kJobStopped;
  return Ev::kOther;
}

// Member lookups that treat a missing member, a null and a wrong type alike (DataJuicer writes nulls).
std::optional<double> Num(element e, std::string_view key) {
  double d;
  if (e[key].get_double().get(d)) return std::nullopt;
  return d;
}
std::optional<uint64_t> Uint(element e, std::string_view key) {
  uint64_t u;
  if (e[key].get_uint64().get(u)) return std::nullopt;
  return u;
}
std::optional<int64_t> Int(element e, std::string_view key) {
  int64_t i;
  if (e[key].get_int64().get(i)) return std::nullopt;
  return i;
}
std::string_view Str(element e, std::string_view key) {
  std::string_view s;
  if (e[key].get_string().get(s)) return {};
  return s;
}
std::optional<bool> Bool(element e, std::string_view key) {
  bool b;
  if (e[key].get_bool().get(b)) return std::nullopt;
  return b;
}
std::optional<element> Obj(element e, std::string_view key) {
  element o;
  if (e[key].get(o) || !o.is_object()) return std::nullopt;
  return o;
}
// A member at the top level, else inside "metadata" (DataJuicer's helpers put most values there).
template <typename F>
auto TopOrMeta(element e, std::string_view key, F get) -> decltype(get(e, key)) {
  auto v = get(e, key);
  if (v) return v;
  if (auto m = Obj(e, "metadata")) return get(*m, key);
  return v;
}
// A whole file read through Env into a buffer simdjson may parse in place (SIMDJSON_PADDING readable
// bytes after the end).
struct PaddedFile {
  std::unique_ptr<char[]> data;
  size_t size = 0;
};
PaddedFile ReadPadded(Env* env, const std::string& path) {
  PaddedFile f;
  uint64_t size = env->FileSize(path);
  f.data.reset(new char[size + simdjson::SIMDJSON_PADDING]);
  size_t got = 0;
  while (got < size) {
    size_t n = env->ReadAt(path, got, size - got, f.data.get() + got);
    if (n == 0) break;  // shrank while we read: take what is there
    got += n;
  }
  f.size = got;
  std::memset(f.data.get() + got, 0, simdjson::SIMDJSON_PADDING);
  return f;
}

// One small JSON file (summary, DAG, ...): null if it is absent, and with a warning if it is not a JSON object.
struct JsonDoc {
  simdjson::dom::parser parser;
  element root;
  std::string text;
};
std::unique_ptr<JsonDoc> LoadJson(Env* env, const std::string& path, std::vector<std::string>& warnings) {
  if (!env->FileExists(path)) return nullptr;
  auto d = std::make_unique<JsonDoc>();
  try {
    d->text = ReadFile(env, path);
  } catch (const Error& e) {
    warnings.push_back(fmt::format("{}: not read: {}", path, e.what()));
    return nullptr;
  }
  if (auto err = d->parser.parse(d->text).get(d->root)) {
    warnings.push_back(fmt::format("{}: not used: {}", path, simdjson::error_message(err)));
    return nullptr;
  }
  if (!d->root.is_object()) {
    warnings.push_back(fmt::format("{}: not used: not a JSON object", path));
    return nullptr;
  }
  return d;
}

bool ParseIndex(std::string_view s, size_t& pos, uint64_t& out) {
  auto [p, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), out);
  if (ec != std::errc() || p == s.data() + pos) return false;
  pos = static_cast<size_t>(p - s.data());
  return true;
}

// Runs f(i) for i in [0, n) on up to hardware_concurrency threads: checking thousands of small
// commit records is system-call bound, and the calls of one thread do not wait for another's.
template <typename F>
void ParallelFor(size_t n, F f) {
  size_t threads = std::min<size_t>({n / 64 + 1, std::max(1u, std::thread::hardware_concurrency()), 8});
  std::atomic<size_t> next{0};
  RunOnThreads(threads, [&] { for (size_t i; (i = next.fetch_add(1)) < n;) f(i); }, [&] { next = n; });
}

class Builder {
 public:
  Builder(Env* env, std::string job_dir, const SnapshotOptions& opt) : env_(env), opt_(opt) {
    s_.job_dir = std::move(job_dir);
    s_.generated_at = env_->NowSeconds();
  }

  Snapshot Build() {
    LoadMetadata();
    FoldEvents();
    Finish();
    if (opt_.inspect_storage) InspectStorage();
    Derive();
    return std::move(s_);
  }

 private:
  enum class JobEvent { kNone, kStart, kComplete, kFailed, kStopped };

  // --- the files besides the event log -------------------------------------------------------------

  void LoadMetadata() {
    if (!env_->FileExists(s_.job_dir)) Fail(ErrorKind::kInput, "job directory '{}' does not exist", s_.job_dir);
    std::string plan_path = s_.job_dir + "/metadata/dataset_mapping.json";
    summary_ = LoadJson(env_, s_.job_dir + "/job_summary.json", s_.warnings);
    s_.job_summary_loaded = summary_ != nullptr;
    lock_path_ = s_.job_dir + "/job.lock";
    has_lock_file_ = env_->FileExists(lock_path_);
    if (env_->FileExists(plan_path)) {
      std::string text;
      try {
        text = ReadFile(env_, plan_path);
      } catch (const Error& e) {
        s_.warnings.push_back(fmt::format("{}: not read: {}", plan_path, e.what()));
      }
      if (text.find("\"sluice-plan-1\"") != std::string::npos) {
        try {
          plan_ = std::make_unique<Plan>(Plan::FromJson(text, plan_path));
          plan_mtime_ = static_cast<double>(env_->FileMtimeNs(plan_path)) / 1e9;
        } catch (const Error& e) {
          s_.warnings.push_back(e.what());
        }
      } else if (!text.empty()) {
        dj_mapping_ = std::make_unique<JsonDoc>();
        dj_mapping_->text = std::move(text);
        if (dj_mapping_->parser.parse(dj_mapping_->text).get(dj_mapping_->root) || !dj_mapping_->root.is_object()) {
          s_.warnings.push_back(fmt::format("{}: not used: not a JSON object", plan_path));
          dj_mapping_.reset();
        }
      }
    }
    sluice_ = plan_ != nullptr || has_lock_file_;
    s_.format = sluice_ ? "sluice" : "datajuicer";
    dag_ = LoadJson(env_, s_.job_dir + "/dag_execution_plan.json", s_.warnings);
    s_.dag_plan_loaded = dag_ != nullptr;
    for (const char* p : {"/logs/processing_summary.json", "/processing_summary.json"})
      if (!processing_summary_) processing_summary_ = LoadJson(env_, s_.job_dir + p, s_.warnings);

    // Ops: sluice's plan names them in order; else the DAG (sluice: stages[].ops[]; DataJuicer: nodes of
    // partition 0), else the events will.
    if (plan_) {
      for (const auto& o : plan_->ops) {
        simdjson::dom::parser p;
        element e;
        std::string_view name;
        op_names_.emplace_back(p.parse(o).get(e) || e["name"].get(name) ? "" : std::string(name));
      }
    }
    if (dag_) {
      simdjson::dom::array stages;
      if (!dag_->root["stages"].get(stages)) {
        last_stage_ = static_cast<int64_t>(stages.size()) - 1;
        if (op_names_.empty())
          for (auto st : stages) {
            simdjson::dom::array ops;
            if (st["ops"].get(ops)) continue;
            for (auto o : ops) op_names_.emplace_back(Str(o, "op_name"));
          }
      }
      simdjson::dom::object nodes;
      if (op_names_.empty() && !dag_->root["nodes"].get(nodes)) {
        std::vector<std::pair<uint64_t, std::string>> ordered;
        for (auto [id, node] : nodes) {
          if (Str(node, "op_type") != "partition_operation" || !std::string_view(id).ends_with("_partition_0")) continue;
          if (auto order = Uint(node, "execution_order")) ordered.emplace_back(*order, std::string(Str(node, "op_name")));
        }
        std::sort(ordered.begin(), ordered.end());
        for (auto& [order, name] : ordered) op_names_.push_back(std::move(name));
      }
      std::string_view strategy = Str(dag_->root, "checkpoint_strategy");
      if (!strategy.empty()) strategy_ = strategy;
    }
    if (op_names_.empty() && processing_summary_) {
      auto ops = Uint(processing_summary_->root, "total_operations");
      auto parts = Uint(processing_summary_->root, "total_partitions");
      if (ops && parts && *parts > 0 && *ops % *parts == 0) op_names_.resize(*ops / *parts);
    }

    if (plan_) total_partitions_ = plan_->partitions.size();
    else if (dj_mapping_) {
      if (auto n = Uint(dj_mapping_->root, "partition_count")) total_partitions_ = *n;
    }

    if (summary_) {
      element r = summary_->root;
      SetIfEmpty(s_.job_id, Str(r, "job_id"));
      SetIfEmpty(s_.work_dir, Str(r, "work_dir"));
      SetIfEmpty(s_.executor_type, Str(r, "executor_type"));
      SetIfEmpty(strategy_, Str(r, "checkpoint_strategy"));
      SetIfEmpty(export_path_, Str(r, "export_path"));
      SetIfEmpty(s_.event_log_file, Str(r, "event_log_file"));
      SetIfEmpty(s_.event_log_dir, Str(r, "event_log_dir"));
      SetIfEmpty(s_.checkpoint_dir, Str(r, "checkpoint_dir"));
      SetIfEmpty(s_.metadata_dir, Str(r, "metadata_dir"));
      SetIfEmpty(s_.backed_up_config_path, Str(r, "backed_up_config_path"));
      summary_resume_ = Str(r, "resumption_command");
      summary_error_ = Str(r, "error_message");
      summary_status_ = Str(r, "status");
      // sluice writes one path; DataJuicer a list (its cfg.config).
      simdjson::dom::array files;
      if (!r["config_file"].get(files)) {
        for (auto f : files)
          if (std::string_view v; !f.get(v)) summary_configs_.emplace_back(v);
      } else if (std::string_view v = Str(r, "config_file"); !v.empty()) {
        summary_configs_.emplace_back(v);
      }
      if (!total_partitions_)
        if (auto n = Uint(r, "total_partitions")) total_partitions_ = *n;
    }
  }

  static void SetIfEmpty(std::string& dst, std::string_view v) {
    if (dst.empty() && !v.empty()) dst = v;
  }

  // --- the event log -------------------------------------------------------------------------------

  // events.jsonl where the summary says (sluice honours event_log_dir), else in the job directory; a
  // DataJuicer run at [HEAD] writes one events_<UTC timestamp>.jsonl per process instead, read in order.
  std::vector<std::string> EventFiles() {
    if (!s_.event_log_file.empty() && env_->FileExists(s_.event_log_file)) return {s_.event_log_file};
    std::string main = s_.job_dir + "/events.jsonl";
    if (env_->FileExists(main)) return {main};
    std::vector<std::string> out;
    for (const auto& name : env_->ListDir(s_.job_dir))
      if (name.starts_with("events_") && name.ends_with(".jsonl")) out.push_back(s_.job_dir + "/" + name);
    return out;
  }

  void FoldEvents() {
    std::vector<std::string> files = EventFiles();
    if (s_.event_log_file.empty()) s_.event_log_file = files.empty() ? s_.job_dir + "/events.jsonl" : files.back();
    s_.event_log_found = !files.empty();
    if (files.empty() && !summary_ && !plan_ && !dj_mapping_ && !has_lock_file_ && !processing_summary_)
      Fail(ErrorKind::kInput, "'{}' is not a job directory: it has no events.jsonl, job_summary.json, job.lock or "
           "metadata/dataset_mapping.json", s_.job_dir);
    ResetIncarnation();
    simdjson::dom::parser parser;
    for (const auto& path : files) {
      PaddedFile f = ReadPadded(env_, path);
      const char* p = f.data.get();
      const char* end = p + f.size;
      uint64_t line_no = 0;
      while (p < end) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* line_end = nl ? nl : end;
        ++line_no;
        size_t len = static_cast<size_t>(line_end - p);
        if (len > 0 && !(len == 1 && *p == '\r')) {
          element e;
          if (auto err = parser.parse(reinterpret_cast<const uint8_t*>(p), len, false).get(e)) {
            std::string w = fmt::format("{}:{}: event skipped: {}", path, line_no, simdjson::error_message(err));
            // A last line without its newline may still be being appended by a live writer: an error
            // only if nobody runs the job (decided in Finish).
            if (nl != nullptr) s_.warnings.push_back(std::move(w));
            else torn_tail_ = std::move(w);
          } else if (e.is_object()) {
            ++s_.events_analyzed;
            Apply(e);
          } else {
            s_.warnings.push_back(fmt::format("{}:{}: event skipped: not a JSON object", path, line_no));
          }
        }
        p = line_end + 1;
      }
    }
  }

  void ResetIncarnation() {
    s_.partitions.assign(total_partitions_, PartitionProgress{});
    for (auto& p : s_.partitions) InitOps(p);
    first_start_.reset();
    last_ts_.reset();
    terminal_ts_.reset();
    s_.last_checkpoint_time.reset();
    last_job_ = JobEvent::kNone;
    job_error_.clear();
    terminal_status_.clear();
    pids_.clear();
  }

  void InitOps(PartitionProgress& p) {
    p.ops.resize(op_names_.size());
    for (size_t i = 0; i < op_names_.size(); ++i) {
      p.ops[i].name = op_names_[i];
      p.ops[i].idx = static_cast<uint32_t>(i);
    }
  }

  // Bounds on ids taken from event lines, so one damaged number cannot make the snapshot allocate
  // billions of entries.
  static constexpr uint64_t kMaxPartitions = 50'000'000, kMaxOps = 100'000;

  PartitionProgress* Part(element e) {
    auto id = Int(e, "partition_id");
    if (!id || *id < 0 || static_cast<uint64_t>(*id) >= kMaxPartitions) return nullptr;
    size_t p = static_cast<size_t>(*id);
    if (p >= s_.partitions.size()) {
      size_t old = s_.partitions.size();
      s_.partitions.resize(p + 1);
      for (size_t i = old; i <= p; ++i) InitOps(s_.partitions[i]);
    }
    return &s_.partitions[p];
  }

  OpProgress* Op(PartitionProgress& part, element e) {
    auto idx = Uint(e, "operation_idx");
    if (!idx || *idx >= kMaxOps) return nullptr;
    size_t i = static_cast<size_t>(*idx);
    if (i >= part.ops.size()) {
      size_t old = part.ops.size();
      part.ops.resize(i + 1);
      for (size_t k = old; k <= i; ++k) part.ops[k].idx = static_cast<uint32_t>(k);
    }
    OpProgress& op = part.ops[i];
    if (op.name.empty()) {
      std::string_view n = Str(e, "operation_name");
      // DataJuicer's checkpoint_load says "op_0007" instead of the op's name.
      if (!n.empty() && !(n.starts_with("op_") && n.size() == 7)) op.name = n;
      if (i >= op_names_.size()) op_names_.resize(i + 1);
      if (op_names_[i].empty()) op_names_[i] = op.name;
    }
    return &op;
  }

  static std::string ErrorOf(element e) {
    std::string_view m = Str(e, "error_message");
    if (m.empty()) m = Str(e, "error_details");  // DataJuicer's legacy schema
    return std::string(m);
  }

  void Apply(element e) {
    Ev type = Classify(Str(e, "event_type"));
    std::optional<double> ts_opt = Num(e, "timestamp");
    double ts = ts_opt.value_or(0);
    if (type == Ev::kJobStart) {
      JobStart(e, ts);
    }
    if (ts_opt) last_ts_ = ts;
    if (!sluice_ && pids_.size() < 64)
      if (auto pid = Int(e, "process_id"); pid && std::find(pids_.begin(), pids_.end(), *pid) == pids_.end()) pids_.push_back(*pid);
    switch (type) {
      case Ev::kJobStart:
      case Ev::kOther: return;
      case Ev::kJobComplete: {
        last_job_ = JobEvent::kComplete;
        terminal_ts_ = ts;
        terminal_status_ = Str(e, "status");
        job_error_ = ErrorOf(e);
        if (auto m = Obj(e, "metadata"))
          if (auto failed = Uint(*m, "failed_partitions"); failed && *failed > 0) terminal_status_ = "completed_with_failures";
        if (auto m = Obj(e, "metadata"))
          if (auto n = Uint(*m, "total_partitions"); n && !sluice_) total_partitions_ = std::max<uint64_t>(total_partitions_, *n);
        return;
      }
      case Ev::kJobFailed: {
        last_job_ = JobEvent::kFailed;
        terminal_ts_ = ts;
        job_error_ = ErrorOf(e);
        SetResume(Str(e, "resumption_command"));
        return;
      }
      case Ev::kJobStopped: {
        last_job_ = JobEvent::kStopped;
        terminal_ts_ = ts;
        SetResume(Str(e, "resumption_command"));
        return;
      }
      default: break;
    }
    PartitionProgress* part = Part(e);
    if (part == nullptr) return;
    switch (type) {
      case Ev::kCreationStart: part->creation_start_time = ts; break;
      case Ev::kCreationComplete:
        part->creation_end_time = ts;
        if (auto n = TopOrMeta(e, "sample_count", Uint)) part->sample_count = n;
        break;
      case Ev::kPartitionStart:
        part->status = WorkStatus::kInProgress;
        if (!part->processing_start_time) part->processing_start_time = ts;
        part->processing_end_time.reset();
        if (auto n = TopOrMeta(e, "sample_count", Uint)) part->sample_count = n;
        break;
      case Ev::kPartitionComplete: {
        auto meta = Obj(e, "metadata");
        std::optional<bool> success = meta ? Bool(*meta, "success") : std::nullopt;
        if (success && !*success) {  // DataJuicer reports a failed attempt as partition_complete(success=false)
          std::string err = meta ? std::string(Str(*meta, "error")) : "";
          PartitionFails(*part, err.empty() ? ErrorOf(e) : err, false, ts);
          break;
        }
        auto stage = Uint(e, "stage");
        bool last = !stage || (last_stage_ >= 0 ? static_cast<int64_t>(*stage) == last_stage_
                                                : e["output_path"].error() == simdjson::SUCCESS);
        if (!last) break;  // an earlier stage: the partition waits for the barrier
        part->status = WorkStatus::kCompleted;
        part->processing_end_time = ts;
        if (auto n = Uint(e, "input_rows")) part->sample_count = n;
        break;
      }
      case Ev::kPartitionFailed: {
        std::optional<bool> retry = Bool(e, "will_retry");
        PartitionFails(*part, ErrorOf(e), retry.value_or(false), ts);
        break;
      }
      case Ev::kPartitionSkipped:
        part->status = WorkStatus::kCompleted;
        for (auto& op : part->ops) op.status = WorkStatus::kCompleted;
        break;
      case Ev::kOpStart: {
        OpProgress* op = Op(*part, e);
        if (op == nullptr) break;
        op->status = WorkStatus::kInProgress;
        op->start_time = ts;
        op->end_time.reset();
        op->duration.reset();
        op->input_rows.reset();
        op->output_rows.reset();
        op->error_message.clear();
        break;
      }
      case Ev::kOpComplete: {
        OpProgress* op = Op(*part, e);
        if (op == nullptr) break;
        op->status = WorkStatus::kCompleted;
        op->end_time = ts;
        op->duration = TopOrMeta(e, "duration", Num);
        if (!op->duration) op->duration = TopOrMeta(e, "duration_seconds", Num);
        if (!op->duration && op->start_time) op->duration = ts - *op->start_time;
        op->input_rows = TopOrMeta(e, "input_rows", Uint);
        op->output_rows = TopOrMeta(e, "output_rows", Uint);
        if (auto meta = Obj(e, "metadata"); meta && !op->input_rows) {  // DataJuicer's legacy schema
          auto processed = Uint(*meta, "samples_processed");
          auto filtered = Uint(*meta, "samples_filtered");
          op->input_rows = processed;
          if (processed && filtered && *filtered <= *processed) op->output_rows = *processed - *filtered;
        }
        op->error_message = ErrorOf(e);
        break;
      }
      case Ev::kOpFailed: {
        OpProgress* op = Op(*part, e);
        if (op == nullptr) break;
        op->status = WorkStatus::kFailed;
        op->end_time = ts;
        op->duration = TopOrMeta(e, "duration", Num);
        if (!op->duration) op->duration = TopOrMeta(e, "duration_seconds", Num);
        op->error_message = ErrorOf(e);
        break;
      }
      case Ev::kCheckpointSave: {
        OpProgress* op = Op(*part, e);
        if (op != nullptr) op->checkpoint_time = ts;
        if (!s_.last_checkpoint_time || ts > *s_.last_checkpoint_time) s_.last_checkpoint_time = ts;
        break;
      }
      case Ev::kCheckpointLoad: {
        // The partition resumes after op c: everything up to c is done, even if a crash came between
        // that checkpoint's commit and its op_complete events.
        auto idx = Uint(e, "operation_idx");
        if (!idx) break;
        for (auto& op : part->ops)
          if (op.idx <= *idx) op.status = WorkStatus::kCompleted;
        break;
      }
      default: break;
    }
  }

  void PartitionFails(PartitionProgress& part, std::string error, bool will_retry, double ts) {
    for (auto& op : part.ops)
      if (op.status == WorkStatus::kInProgress) {
        op.status = WorkStatus::kFailed;
        op.end_time = ts;
        op.error_message = error;
      }
    part.error_message = std::move(error);
    part.status = will_retry ? WorkStatus::kInProgress : WorkStatus::kFailed;
    if (!will_retry) part.processing_end_time = ts;
  }

  void JobStart(element e, double ts) {
    std::optional<bool> resuming = TopOrMeta(e, "is_resuming", Bool);
    // A start that is not a resume begins a new incarnation of the job (sluice: `--restart`); the
    // log keeps the old one, which no longer describes anything on disk.
    if (resuming && !*resuming) ResetIncarnation();
    if (!first_start_) first_start_ = ts;
    last_job_ = JobEvent::kStart;
    terminal_ts_.reset();
    job_error_.clear();
    SetIfEmpty(s_.job_id, Str(e, "job_id"));
    SetResume(Str(e, "resumption_command"));
    if (sluice_) {
      if (auto n = Uint(e, "total_partitions"); n && !plan_) total_partitions_ = *n;
      if (auto n = Uint(e, "total_ops"); n && op_names_.size() < *n && *n < kMaxOps) op_names_.resize(*n);
    } else if (auto m = Obj(e, "metadata")) {
      // Not DataJuicer's top-level total_partitions: [HEAD]'s second job_start sets it to the op count.
      if (auto n = Uint(*m, "num_partitions")) total_partitions_ = *n;
      SetIfEmpty(s_.executor_type, Str(*m, "executor_type"));
    }
    std::optional<element> cs = Obj(e, "config_summary");
    if (!cs)
      if (auto m = Obj(e, "metadata")) cs = Obj(*m, "config_summary");
    if (cs) {
      std::string_view v = Str(*cs, "checkpoint_strategy");
      if (!v.empty()) strategy_ = v;
      if (!(v = Str(*cs, "config_file")).empty()) event_config_ = v;
      if (!(v = Str(*cs, "export_path")).empty()) export_path_ = v;
      SetIfEmpty(s_.executor_type, Str(*cs, "executor_type"));
    }
    // Partitions and ops the plan did not announce (no plan, or DataJuicer) are added as events name them.
    if (s_.partitions.size() < total_partitions_ && total_partitions_ < kMaxPartitions) {
      size_t old = s_.partitions.size();
      s_.partitions.resize(total_partitions_);
      for (size_t i = old; i < s_.partitions.size(); ++i) InitOps(s_.partitions[i]);
    }
    for (auto& p : s_.partitions)
      if (p.ops.size() < op_names_.size()) InitOps(p);
  }

  void SetResume(std::string_view cmd) {
    if (!cmd.empty()) event_resume_ = cmd;
  }

  // --- after the log: status, op totals ------------------------------------------------------------

  // Without an event log (event_logging.enabled: false, or a log lost) the per-partition outcome of the
  // latest run is in metadata/final_mapping_report.json, written when each run ends.
  void FromFinalReport() {
    std::string path = s_.job_dir + "/metadata/final_mapping_report.json";
    auto report = LoadJson(env_, path, s_.warnings);
    if (!report) return;
    simdjson::dom::array parts;
    if (report->root["partition_details"].get(parts)) return;
    s_.warnings.push_back(fmt::format("no event log: partition states are the latest run's outcome from {}", path));
    for (auto pe : parts) {
      auto id = Uint(pe, "partition_id");
      if (!id || *id >= s_.partitions.size()) continue;
      PartitionProgress& p = s_.partitions[*id];
      std::string_view status = Str(pe, "status");
      if (status == "completed") {
        p.status = WorkStatus::kCompleted;
        p.sample_count = Uint(pe, "input_rows");
        for (auto& op : p.ops) op.status = WorkStatus::kCompleted;
      } else if (status == "failed") {
        p.status = WorkStatus::kFailed;
        p.error_message = Str(pe, "error");
      }
    }
  }

  bool ProcessHoldsJob() {
    if (has_lock_file_) {
      // `sluice run` holds an exclusive flock on job.lock while it runs. Taking it (released at once)
      // proves nobody does.
      try {
        return env_->LockFile(lock_path_, false) == nullptr;
      } catch (const Error& e) {
        s_.warnings.push_back(fmt::format("cannot test the job lock ({}); the status is taken from the event log", e.what()));
      }
    }
    // No lock to test (DataJuicer takes none): a process that wrote this run's events and still exists.
    // A recycled pid can make an ended run look alive; DataJuicer records nothing better.
    for (int64_t pid : pids_)
      if (pid > 0 && env_->FileExists(fmt::format("/proc/{}", pid))) return true;
    return false;
  }

  void Finish() {
    if (s_.partitions.size() < total_partitions_ && total_partitions_ < kMaxPartitions) s_.partitions.resize(total_partitions_);
    if (s_.job_id.empty()) s_.job_id = fs::path(s_.job_dir).filename().string();
    // Op lists: every partition knows every op the plan or the events named.
    for (auto& p : s_.partitions)
      if (p.ops.size() < op_names_.size()) InitOps(p);
    for (auto& p : s_.partitions)
      for (auto& op : p.ops)
        if (op.name.empty() && op.idx < op_names_.size()) op.name = op_names_[op.idx];
    s_.ops_per_partition = op_names_.size();
    if (s_.events_analyzed == 0 && sluice_) FromFinalReport();
    if (dj_mapping_) {  // DataJuicer's plan: sample counts per partition
      simdjson::dom::array parts;
      if (!dj_mapping_->root["partitions"].get(parts))
        for (auto pe : parts) {
          auto id = Uint(pe, "partition_id");
          auto n = Uint(pe, "sample_count");
          if (id && n && *id < s_.partitions.size() && !s_.partitions[*id].sample_count) s_.partitions[*id].sample_count = n;
        }
    }
    if (plan_)
      for (auto& p : s_.partitions) {
        // The plan fixes every partition's byte range at once: it starts computing them at created_at and
        // the plan file is committed when they are all known.
        p.creation_start_time = plan_->created_at;
        p.creation_end_time = plan_mtime_;
      }

    bool running = ProcessHoldsJob();
    if (!running && !torn_tail_.empty()) s_.warnings.push_back(torn_tail_);
    if (running) s_.status = JobStatus::kRunning;
    else if (last_job_ == JobEvent::kComplete)
      s_.status = terminal_status_ == "completed_with_failures" ? JobStatus::kCompletedWithFailures : JobStatus::kCompleted;
    else if (last_job_ == JobEvent::kFailed) s_.status = JobStatus::kFailed;
    else if (last_job_ == JobEvent::kStopped) s_.status = JobStatus::kStopped;
    else if (last_job_ == JobEvent::kStart) s_.status = JobStatus::kInterrupted;
    else if (summary_status_ == "completed") s_.status = JobStatus::kCompleted;
    else if (summary_status_ == "completed_with_failures") s_.status = JobStatus::kCompletedWithFailures;
    else if (summary_status_ == "failed") s_.status = JobStatus::kFailed;
    else if (summary_status_ == "stopped") s_.status = JobStatus::kStopped;
    else if (!summary_status_.empty() || plan_ || has_lock_file_) s_.status = JobStatus::kInterrupted;  // e.g. "running"
    else s_.status = JobStatus::kNotStarted;

    for (auto& p : s_.partitions) {
      if (p.status == WorkStatus::kCompleted) {
        // Its result is committed: every op's work is in it, also one whose events a crash cut off.
        for (auto& op : p.ops) op.status = WorkStatus::kCompleted;
      } else if (!running) {
        if (p.status == WorkStatus::kInProgress) p.status = WorkStatus::kInterrupted;
        for (auto& op : p.ops)
          if (op.status == WorkStatus::kInProgress) op.status = WorkStatus::kInterrupted;
      }
    }
    // DataJuicer: a completed run whose partitions did not all succeed exported partial output.
    if (s_.status == JobStatus::kCompleted && !sluice_)
      for (const auto& p : s_.partitions)
        if (p.status == WorkStatus::kFailed) s_.status = JobStatus::kCompletedWithFailures;
  }

  // --- checkpoints and committed results on disk ---------------------------------------------------

  // The summary's checkpoint_dir (sluice honours a recipe's checkpoint_dir) unless it is gone, e.g. the
  // job directory was moved since.
  std::string CheckpointDir() const {
    return s_.checkpoint_dir.empty() || !env_->FileExists(s_.checkpoint_dir) ? s_.job_dir + "/checkpoints" : s_.checkpoint_dir;
  }

  void InspectStorage() {
    auto forget_event_times = [&] {  // from here on checkpoint_time is set iff the checkpoint is valid
      for (auto& p : s_.partitions)
        for (auto& op : p.ops) op.checkpoint_time.reset();
    };
    if (!sluice_ || !plan_) {
      forget_event_times();
      if (!sluice_)
        s_.warnings.push_back("DataJuicer writes no commit records: its checkpoints cannot be verified and are not "
                              "counted (checkpointed_operations, coverage and resumable)");
      else
        s_.warnings.push_back("no readable plan (metadata/dataset_mapping.json): checkpoints cannot be verified");
      return;
    }
    s_.storage_inspected = true;
    const size_t n_ops = plan_->ops.size();
    const std::string& hash = plan_->recipe_hash;
    const std::string ckdir = CheckpointDir();

    // Checkpoints (and stage outputs, which are checkpoints a barrier always keeps): every file that has
    // a manifest, checked with the same LoadManifest a resume uses.
    std::vector<std::pair<size_t, std::string>> dirs;
    for (const auto& name : env_->ListDir(ckdir)) {
      if (!name.starts_with("partition_")) continue;
      size_t pos = 10;
      uint64_t id;
      if (!ParseIndex(name, pos, id) || pos != name.size() || id >= s_.partitions.size()) continue;
      dirs.emplace_back(static_cast<size_t>(id), ckdir + "/" + name);
    }
    struct Found {
      std::vector<std::pair<uint32_t, double>> valid;  // op index, commit time
      uint64_t invalid = 0;
      std::string why;
    };
    std::vector<Found> found(dirs.size());
    ParallelFor(dirs.size(), [&](size_t k) {
      const auto& [p, dir] = dirs[k];
      Found& f = found[k];
      for (const auto& name : env_->ListDir(dir)) {
        constexpr std::string_view kSuffix = ".manifest.json";
        if (!name.starts_with("op_") || !name.ends_with(kSuffix)) continue;
        size_t pos = 3;
        uint64_t idx;
        if (!ParseIndex(name, pos, idx) || idx >= n_ops) continue;
        std::string data = dir + "/" + name.substr(0, name.size() - kSuffix.size());
        Manifest m;
        std::string why;
        if (LoadManifest(env_, data, hash, n_ops, opt_.verify_checksums, &m, &why) != ManifestState::kValid) {
          if (f.invalid++ == 0) f.why = fmt::format("{}: {}", data, why);
          continue;
        }
        const OpProgress& op = s_.partitions[p].ops[idx];
        // The checkpoint_save event's time; a stage output has none, its manifest's commit time then.
        double t = op.checkpoint_time ? *op.checkpoint_time
                                      : static_cast<double>(env_->FileMtimeNs(ManifestPath(data))) / 1e9;
        f.valid.emplace_back(static_cast<uint32_t>(idx), t);
      }
    });
    forget_event_times();
    uint64_t invalid = 0;
    std::string first_why;
    for (size_t k = 0; k < dirs.size(); ++k) {
      PartitionProgress& part = s_.partitions[dirs[k].first];
      for (auto [idx, t] : found[k].valid) {
        part.ops[idx].checkpoint_time = t;
        part.covered_ops = std::max<uint32_t>(part.covered_ops, idx + 1);
        ++s_.checkpointed_operations;
      }
      if (found[k].invalid > 0 && invalid == 0) first_why = found[k].why;
      invalid += found[k].invalid;
    }
    if (invalid > 0)
      s_.warnings.push_back(fmt::format("{} checkpoint(s) failed verification and are not counted (first: {})", invalid, first_why));

    // Partition results. After a completed run the export holds them all (and retention may have removed
    // results/); otherwise a partition counts as committed as ExportJournal::Recover would take it: a
    // manifest into the journal within its verified prefix, or a result file of its own.
    std::vector<bool> committed(s_.partitions.size(), false);
    if (s_.status == JobStatus::kCompleted) {
      for (size_t p = 0; p < s_.partitions.size(); ++p) committed[p] = s_.partitions[p].status == WorkStatus::kCompleted;
    } else if (!export_path_.empty()) {
      std::string ext = CodecExtension(CodecForPath(export_path_));
      std::vector<std::optional<Manifest>> manifests(s_.partitions.size());
      std::vector<uint8_t> own_file(s_.partitions.size(), 0);
      ParallelFor(s_.partitions.size(), [&](size_t p) {
        std::string path = fmt::format("{}/results/partition_{:06d}.jsonl{}", s_.job_dir, p, ext);
        Manifest m;
        std::string why;
        if (ReadManifest(env_, path, hash, n_ops, &m, &why) != ManifestState::kValid) return;
        if (!m.export_offset) {
          if (LoadManifest(env_, path, hash, n_ops, opt_.verify_checksums, &m, &why) != ManifestState::kValid) return;
          own_file[p] = 1;
        }
        manifests[p] = m;
      });
      std::string journal = fmt::format("{}.{}.partial", export_path_, s_.job_id);
      std::string source = env_->FileExists(journal) ? journal : env_->FileExists(export_path_) ? export_path_ : "";
      uint64_t source_size = source.empty() ? 0 : env_->FileSize(source);
      uint64_t expected = 0;
      bool in_prefix = true;
      for (size_t p = 0; p < manifests.size(); ++p) {
        const auto& m = manifests[p];
        if (m && m->export_offset) {
          bool ok = in_prefix && !source.empty() && *m->export_offset == expected && m->file_bytes <= source_size - expected &&
                    (!opt_.verify_checksums || HashFileRange(env_, source, expected, m->file_bytes) == m->xxh3);
          if (ok) {
            committed[p] = true;
            expected += m->file_bytes;
            continue;
          }
        } else if (m && own_file[p]) {
          committed[p] = true;
        }
        in_prefix = false;
      }
    } else {
      s_.warnings.push_back("the export path is unknown (no job_summary.json or job_start event): committed partition results not checked");
    }
    for (size_t p = 0; p < s_.partitions.size(); ++p)
      if (committed[p]) s_.partitions[p].covered_ops = static_cast<uint32_t>(s_.partitions[p].ops.size());
  }

  // --- totals, timing, paths -----------------------------------------------------------------------

  static double Percent(uint64_t part, uint64_t whole) { return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole); }

  void Derive() {
    s_.total_partitions = s_.partitions.size();
    s_.total_operations = s_.total_partitions * s_.ops_per_partition;
    for (auto& p : s_.partitions) {
      p.completed_ops = 0;
      for (const auto& op : p.ops) {
        p.completed_ops += op.status == WorkStatus::kCompleted;
        s_.failed_operations += op.status == WorkStatus::kFailed;
      }
      s_.completed_operations += p.completed_ops;
      s_.covered_operations += p.covered_ops;
      s_.completed_partitions += p.status == WorkStatus::kCompleted;
      s_.failed_partitions += p.status == WorkStatus::kFailed;
      s_.in_progress_partitions += p.status == WorkStatus::kInProgress || p.status == WorkStatus::kInterrupted;
      p.progress_percentage = p.status == WorkStatus::kCompleted ? 100.0 : Percent(p.completed_ops, p.ops.size());
    }
    s_.partition_percentage = Percent(s_.completed_partitions, s_.total_partitions);
    s_.operation_percentage = Percent(s_.completed_operations, s_.total_operations);
    s_.overall_percentage = s_.total_operations > 0 ? s_.operation_percentage : s_.partition_percentage;
    if (s_.storage_inspected) {
      s_.checkpoint_coverage = s_.total_operations == 0 ? 0.0 : static_cast<double>(s_.covered_operations) / static_cast<double>(s_.total_operations);
      bool unfinished = s_.status == JobStatus::kFailed || s_.status == JobStatus::kInterrupted ||
                        s_.status == JobStatus::kStopped || s_.status == JobStatus::kCompletedWithFailures;
      s_.resumable = unfinished && s_.covered_operations > 0;
    }
    s_.checkpoint_strategy = strategy_;

    // Timing: the event log spans every run of the job; job_summary.json only the latest run.
    if (summary_) s_.job_summary_duration = Num(summary_->root, "duration");
    bool running = s_.status == JobStatus::kRunning;
    if (first_start_) {
      s_.timing_source = "events";
      s_.start_time = first_start_;
      if (last_job_ == JobEvent::kComplete || last_job_ == JobEvent::kFailed || last_job_ == JobEvent::kStopped)
        s_.end_time = terminal_ts_;
    } else if (summary_ && Num(summary_->root, "start_time")) {
      s_.timing_source = "job_summary";
      s_.job_summary_used = true;
      s_.start_time = Num(summary_->root, "start_time");
      if (!running) s_.end_time = Num(summary_->root, "end_time");
    } else if (processing_summary_ && Num(processing_summary_->root, "start_time")) {
      s_.timing_source = "processing_summary";
      s_.start_time = Num(processing_summary_->root, "start_time");
      s_.end_time = Num(processing_summary_->root, "end_time");
    }
    if (s_.start_time) {
      if (s_.end_time) s_.duration_seconds = *s_.end_time - *s_.start_time;
      else if (running) s_.duration_seconds = s_.generated_at - *s_.start_time;
      else if (s_.timing_source == "events" && last_ts_) s_.duration_seconds = *last_ts_ - *s_.start_time;  // until the last sign of life
    }

    // job_info
    if (s_.executor_type.empty() && sluice_) s_.executor_type = "sluice";
    if (s_.work_dir.empty()) s_.work_dir = fs::path(s_.job_dir).parent_path().string();
    s_.resumption_command = !event_resume_.empty() ? event_resume_ : summary_resume_;
    if (s_.status == JobStatus::kFailed || s_.status == JobStatus::kCompletedWithFailures)
      s_.error_message = !job_error_.empty() ? job_error_ : summary_error_;
    if (!summary_configs_.empty()) s_.config_files = summary_configs_;
    else if (!event_config_.empty()) s_.config_files = {event_config_};

    // file_paths
    s_.checkpoint_dir = CheckpointDir();
    if (s_.metadata_dir.empty()) s_.metadata_dir = s_.job_dir + "/metadata";
    if (s_.event_log_dir.empty())
      s_.event_log_dir = s_.event_log_file == s_.job_dir + "/events.jsonl" || s_.event_log_file.empty()
                             ? s_.job_dir + "/logs"
                             : fs::path(s_.event_log_file).parent_path().string();
    if (s_.backed_up_config_path.empty() && !s_.config_files.empty()) {
      std::string copy = s_.job_dir + "/" + fs::path(s_.config_files.front()).filename().string();
      if (env_->FileExists(copy)) s_.backed_up_config_path = copy;
    }
  }

  Env* env_;
  SnapshotOptions opt_;
  Snapshot s_;
  bool sluice_ = false, has_lock_file_ = false;
  std::string lock_path_;
  std::unique_ptr<JsonDoc> summary_, dag_, processing_summary_, dj_mapping_;
  std::unique_ptr<Plan> plan_;
  double plan_mtime_ = 0;
  std::vector<std::string> op_names_;
  int64_t last_stage_ = -1;
  uint64_t total_partitions_ = 0;
  std::string strategy_, export_path_, event_config_, event_resume_;
  std::string summary_resume_, summary_error_, summary_status_;
  std::vector<std::string> summary_configs_;
  // The current incarnation of the job (since its last non-resuming start).
  std::optional<double> first_start_, last_ts_, terminal_ts_;
  JobEvent last_job_ = JobEvent::kNone;
  std::string job_error_, terminal_status_;
  std::vector<int64_t> pids_;
  std::string torn_tail_;
};

// --- output ----------------------------------------------------------------------------------------

void OptNum(JsonWriter& w, std::string_view key, const std::optional<double>& v) {
  w.Key(key);
  if (v) w.Double(*v);
  else w.Null();
}
void OptUint(JsonWriter& w, std::string_view key, const std::optional<uint64_t>& v) {
  w.Key(key);
  if (v) w.Uint(*v);
  else w.Null();
}
void OptStr(JsonWriter& w, std::string_view key, const std::string& v) {
  w.Key(key);
  if (v.empty()) w.Null();
  else w.String(v);
}

std::string OpKey(size_t p, const OpProgress& op) { return fmt::format("p{}_op{}_{}", p, op.idx, op.name); }

// Re-indents compact JSON by two spaces per level (as Python's json.dumps(indent=2)); strings pass through.
// Runs of ordinary bytes are copied in bulk: a 10,000-partition snapshot is tens of megabytes.
std::string Indent(std::string_view in) {
  static const auto kSpecial = [] {
    std::array<bool, 256> t{};
    for (unsigned char c : std::string_view("{}[],:\"")) t[c] = true;
    return t;
  }();
  std::string out;
  out.reserve(in.size() + in.size() / 2);
  int depth = 0;
  auto newline = [&] {
    out += '\n';
    out.append(static_cast<size_t>(depth) * 2, ' ');
  };
  const size_t n = in.size();
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && !kSpecial[static_cast<unsigned char>(in[j])]) ++j;
    out.append(in.data() + i, j - i);
    if (j == n) break;
    char c = in[j];
    i = j + 1;
    if (c == '"') {
      size_t k = i;
      while (k < n && in[k] != '"') k += in[k] == '\\' ? 2 : 1;
      out.append(in.data() + j, k + 1 - j);
      i = k + 1;
    } else if (c == '{' || c == '[') {
      out += c;
      if (i < n && (in[i] == '}' || in[i] == ']')) {
        out += in[i++];
      } else {
        ++depth;
        newline();
      }
    } else if (c == '}' || c == ']') {
      --depth;
      newline();
      out += c;
    } else if (c == ',') {
      out += ',';
      newline();
    } else {
      out += ": ";
    }
  }
  out += '\n';
  return out;
}

std::string IsoTime(double t) {
  std::time_t secs = static_cast<std::time_t>(std::floor(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  auto micros = static_cast<int>(std::floor((t - std::floor(t)) * 1e6));
  return fmt::format("{}.{:06d}Z", buf, std::min(micros, 999999));
}

}  // namespace

Snapshot TakeSnapshot(Env* env, const std::string& job_dir, const SnapshotOptions& opt) {
  // Absolute, as the paths the job's own files record are, so they compare equal.
  std::string dir = fs::absolute(job_dir).lexically_normal().string();
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return Builder(env, dir, opt).Build();
}

std::string ToJson(const Snapshot& s, bool pretty) {
  JsonWriter w;
  w.BeginObject();
  w.Key("job_info").BeginObject().Field("job_id", s.job_id);
  OptStr(w, "executor_type", s.executor_type);
  w.Field("status", JobStatusName(s.status));
  w.Key("config_file").BeginArray();
  for (const auto& f : s.config_files) w.String(f);
  w.EndArray();
  w.Field("work_dir", s.work_dir);
  OptStr(w, "resumption_command", s.resumption_command);
  OptStr(w, "error_message", s.error_message);
  w.EndObject();

  w.Field("overall_status", JobStatusName(s.status));
  w.Key("overall_progress").BeginObject().Field("overall_percentage", s.overall_percentage);
  w.Field("partition_percentage", s.partition_percentage).Field("operation_percentage", s.operation_percentage).EndObject();

  w.Key("timing").BeginObject();
  OptNum(w, "start_time", s.start_time);
  OptNum(w, "end_time", s.end_time);
  OptNum(w, "duration_seconds", s.duration_seconds);
  OptStr(w, "duration_formatted", s.duration_seconds ? FormatDuration(*s.duration_seconds) : "");
  OptNum(w, "job_summary_duration", s.job_summary_duration);
  OptStr(w, "timing_source", s.timing_source);
  w.EndObject();

  w.Key("progress_summary").BeginObject().Field("total_partitions", s.total_partitions);
  w.Field("completed_partitions", s.completed_partitions).Field("failed_partitions", s.failed_partitions);
  w.Field("in_progress_partitions", s.in_progress_partitions).Field("partition_progress_percentage", s.partition_percentage);
  w.Field("total_operations", s.total_operations).Field("completed_operations", s.completed_operations);
  w.Field("failed_operations", s.failed_operations).Field("checkpointed_operations", s.checkpointed_operations);
  w.Field("operation_progress_percentage", s.operation_percentage).EndObject();

  w.Key("checkpointing").BeginObject();
  OptStr(w, "strategy", s.checkpoint_strategy);
  OptNum(w, "last_checkpoint_time", s.last_checkpoint_time);
  w.Field("checkpointed_operations_count", s.checkpointed_operations).Field("resumable", s.resumable);
  w.Key("checkpoint_progress").BeginObject().Field("percentage", s.checkpoint_coverage * 100.0);
  w.Key("checkpointed_operations").BeginArray();
  for (size_t p = 0; p < s.partitions.size(); ++p)
    for (const auto& op : s.partitions[p].ops) {
      if (!op.checkpoint_time || !s.storage_inspected) continue;
      w.BeginObject().Field("operation_key", OpKey(p, op)).Field("operation_name", op.name);
      w.Field("checkpoint_time", *op.checkpoint_time).EndObject();
    }
  w.EndArray().Field("checkpoint_coverage", s.checkpoint_coverage).EndObject();
  w.Field("checkpoint_dir", s.checkpoint_dir).EndObject();

  w.Key("partition_progress").BeginObject();
  for (size_t p = 0; p < s.partitions.size(); ++p) {
    const PartitionProgress& part = s.partitions[p];
    w.Key(std::to_string(p)).BeginObject().Field("status", WorkStatusName(part.status));
    OptUint(w, "sample_count", part.sample_count);
    OptNum(w, "creation_start_time", part.creation_start_time);
    OptNum(w, "creation_end_time", part.creation_end_time);
    OptNum(w, "processing_start_time", part.processing_start_time);
    OptNum(w, "processing_end_time", part.processing_end_time);
    const OpProgress* current = nullptr;
    for (const auto& op : part.ops)
      if (op.status == WorkStatus::kInProgress) {
        current = &op;
        break;
      }
    OptStr(w, "current_operation", current ? current->name : "");
    for (WorkStatus st : {WorkStatus::kCompleted, WorkStatus::kFailed}) {
      w.Key(st == WorkStatus::kCompleted ? "completed_operations" : "failed_operations").BeginArray();
      for (const auto& op : part.ops)
        if (op.status == st) w.String(op.name);
      w.EndArray();
    }
    w.Key("checkpointed_operations").BeginArray();
    for (const auto& op : part.ops)
      if (op.checkpoint_time && s.storage_inspected) w.String(op.name);
    w.EndArray();
    OptStr(w, "error_message", part.error_message);
    w.Field("progress_percentage", part.progress_percentage).EndObject();
  }
  w.EndObject();

  w.Key("operation_progress").BeginObject();
  for (size_t p = 0; p < s.partitions.size(); ++p)
    for (const auto& op : s.partitions[p].ops) {
      if (op.status == WorkStatus::kNotStarted) continue;
      w.Key(OpKey(p, op)).BeginObject().Field("operation_name", op.name).Field("operation_idx", static_cast<uint64_t>(op.idx));
      w.Field("status", WorkStatusName(op.status));
      OptNum(w, "start_time", op.start_time);
      OptNum(w, "end_time", op.end_time);
      OptNum(w, "duration", op.duration);
      OptUint(w, "input_rows", op.input_rows);
      OptUint(w, "output_rows", op.output_rows);
      OptNum(w, "checkpoint_time", s.storage_inspected ? op.checkpoint_time : std::nullopt);
      OptStr(w, "error_message", op.error_message);
      w.Field("progress_percentage", op.status == WorkStatus::kCompleted ? 100.0 : 0.0).EndObject();
    }
  w.EndObject();

  w.Key("file_paths").BeginObject().Field("event_log_file", s.event_log_file).Field("event_log_dir", s.event_log_dir);
  w.Field("checkpoint_dir", s.checkpoint_dir).Field("metadata_dir", s.metadata_dir);
  OptStr(w, "backed_up_config_path", s.backed_up_config_path);
  w.EndObject();

  w.Key("metadata").BeginObject().Field("snapshot_generated_at", IsoTime(s.generated_at));
  w.Field("events_analyzed", s.events_analyzed).Field("dag_plan_loaded", s.dag_plan_loaded);
  w.Field("job_summary_loaded", s.job_summary_loaded).Field("job_summary_used", s.job_summary_used).EndObject();
  w.EndObject();
  return pretty ? Indent(w.str()) : w.Take() + "\n";
}

std::string ToText(const Snapshot& s) {
  std::string out;
  auto line = [&](std::string_view label, const std::string& value) {
    if (!value.empty()) out += fmt::format("  {:<12} {}\n", label, value);
  };
  out += fmt::format("job {}  ({}, {})\n", s.job_id, s.executor_type.empty() ? s.format : s.executor_type, s.job_dir);
  line("status", JobStatusName(s.status));
  line("progress", fmt::format("{:.1f}%", s.overall_percentage));
  line("partitions", fmt::format("{}/{} completed, {} failed, {} {}", s.completed_partitions, s.total_partitions,
                                 s.failed_partitions, s.in_progress_partitions,
                                 s.status == JobStatus::kRunning ? "in progress" : "interrupted"));
  line("operations", fmt::format("{}/{} completed, {} failed  ({} ops x {} partitions)", s.completed_operations,
                                 s.total_operations, s.failed_operations, s.ops_per_partition, s.total_partitions));
  line("started", s.start_time ? FormatTime(*s.start_time) : "-");
  if (s.end_time) line("ended", FormatTime(*s.end_time));
  if (s.duration_seconds)
    line("duration", fmt::format("{}{}  (from {})", FormatDuration(*s.duration_seconds),
                                 s.status == JobStatus::kRunning ? " so far" : "", s.timing_source));
  std::string ck = s.checkpoint_strategy.empty() ? "strategy unknown" : s.checkpoint_strategy;
  if (s.storage_inspected)
    ck += fmt::format(": {} valid, coverage {:.1f}%, resumable: {}", s.checkpointed_operations, s.checkpoint_coverage * 100.0,
                      s.resumable ? "yes" : "no");
  if (s.last_checkpoint_time) ck += ", last saved " + FormatTime(*s.last_checkpoint_time);
  line("checkpoints", ck);
  line("error", s.error_message);
  if (s.status != JobStatus::kCompleted && s.status != JobStatus::kRunning) line("resume with", s.resumption_command);
  line("events", s.event_log_found ? fmt::format("{} analyzed ({})", s.events_analyzed, s.event_log_file)
                                    : std::string("none: the job has no event log (event_logging.enabled: false, or the log is gone)"));
  size_t shown = 0, failed = 0;
  for (size_t p = 0; p < s.partitions.size(); ++p) {
    const auto& part = s.partitions[p];
    if (part.status != WorkStatus::kFailed) continue;
    if (failed++ == 0) out += "failed partitions:\n";
    if (shown < 10) {
      ++shown;
      out += fmt::format("  {:<6} {}\n", p, part.error_message.empty() ? "(no error recorded)" : part.error_message);
    }
  }
  if (failed > shown) out += fmt::format("  ... and {} more\n", failed - shown);
  for (const auto& w : s.warnings) out += fmt::format("warning: {}\n", w);
  return out;
}

}  // namespace sluice
