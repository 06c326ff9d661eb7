#include "shard/scheduler.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/error.h"
#include "core/fault_injection.h"
#include "core/json_writer.h"
#include "io/atomic_file.h"
#include "io/process.h"
#include "job/snapshot.h"
#include "shard/gpu_pool.h"
#include "shard/managed_run.h"
#include "shard/merge.h"
#include "shard/plan.h"
#include "shard/state.h"
#include "shard/table.h"
#include "shard/template.h"

namespace sluice::shard {
namespace {

constexpr double kPollSeconds = 0.05;
constexpr double kProgressEverySeconds = 30;

// ---- signals: the first SIGINT/SIGTERM is recorded (one lock-free store) and handled by the loop ----

static_assert(std::atomic<int>::is_always_lock_free, "the signal handler may only touch lock-free atomics");
std::atomic<int> g_signal{0};
extern "C" void OnShardSignal(int sig) {
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);
}

class SignalGuard {
 public:
  SignalGuard() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = OnShardSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (auto [sig, old] : {std::pair{SIGTERM, &old_term_}, std::pair{SIGINT, &old_int_}}) {
      ::sigaction(sig, nullptr, old);
      if (old->sa_handler != SIG_IGN) ::sigaction(sig, &sa, nullptr);  // `sluice shard ... &` ignores SIGINT
    }
  }
  ~SignalGuard() {
    ::sigaction(SIGTERM, &old_term_, nullptr);
    ::sigaction(SIGINT, &old_int_, nullptr);
  }

 private:
  struct sigaction old_term_ {}, old_int_ {};
};

std::string Extension(const std::string& path) {
  size_t dot = path.rfind('.'), slash = path.rfind('/');
  return dot == std::string::npos || (slash != std::string::npos && dot < slash) ? "" : path.substr(dot);
}

std::string Absolute(const std::string& p) { return p.empty() || p[0] == '/' ? p : WorkingDirectory() + "/" + p; }

std::string DescribeExit(const ShardState& st) {
  if (st.signal) return fmt::format("killed by signal {} ({})", *st.signal, strsignal(*st.signal));
  if (st.exit_code) return fmt::format("exit code {}", *st.exit_code);
  return "no exit status";
}

struct Shard {
  ShardRange range;
  std::string label, stem, state_path, result_path;
  ShardState st;
  int attempts_this_run = 0;
  double not_before = 0;  // monotonic: backoff before the next attempt
  // While running:
  bool running = false;
  ProcessIdentity id;
  std::vector<GpuDevice> gpus;
  double started = 0;  // monotonic
  uint64_t log_offset = 0;
  std::string partial_line;
  bool killed = false;  // SIGKILL sent at the end of the grace
};

class Scheduler {
 public:
  Scheduler(Env* env, const ShardOptions& opt, std::FILE* out, std::FILE* err)
      : env_(env), opt_(opt), out_(out), err_(err), procs_(env),
        pool_(env, opt.gpus_per_worker, static_cast<uint64_t>(opt.min_gpu_memory_gib * (1ull << 30))),
        run_attempts_(opt.max_attempts) {}

  int Run();
  int RunTask(std::optional<int> index);
  int RunMerge();

 private:
  template <typename... Args>
  void Say(fmt::format_string<Args...> f, Args&&... args) {
    fmt::print(err_, "sluice shard: {}\n", fmt::format(f, std::forward<Args>(args)...));
    std::fflush(err_);
  }
  void Validate();
  void Adopt();  // a directory set up by a submitter: opt_ came from its args.json
  void Identify(const std::string& role);
  std::unique_ptr<FileLock> LockDir(Env::LockMode mode, double wait_seconds);
  std::string DescribeHolder();  // who holds OUT, in words, from scheduler_config.json
  // Whether some shard of plan_ needs a worker (one left running counts as finished: reconciling decides).
  bool WorkLeft();
  void CheckGpusForWork();  // refuses (kUsage) when work is left that no GPU group could ever run
  void LoadPlan();
  void LoadOrMakePlan();
  bool ResultVerifies(const ShardState& st);
  // The input's distinct keys (sorted, encoded), read when a result is first checked and checked against
  // the plan's fingerprint. Throws kState if the input changed since it was planned, kInput/kData if it
  // cannot be read.
  const std::vector<std::string>& InputKeys();
  // Throws kState (and sets input_changed_) if the input no longer has the planned content, kInput if it
  // cannot be read. A stat when its size and mtime are those last seen with the planned content, else a
  // full hash: cheap enough after every worker, whose reads of the input are over when it has ended.
  void CheckInputUnchanged();
  void SeenInput(const InputFingerprint& fp);
  // s's result, checked (VerifyResult against InputKeys): a worker that exited 0 completed its shard only
  // if this returns. Throws Error saying why not.
  ShardResult CheckResult(const Shard& s);
  void RemoveLeftovers();
  void ProbeMergedOutput();
  void LoadShards();
  void Reconcile(Shard& s);
  void StopOrphan(Shard& s);
  void WriteConfig();
  void Loop();
  bool StartNext(double now);
  void Start(Shard& s, std::vector<GpuDevice> gpus);
  void Finish(Shard& s);
  void Drain(Shard& s, bool all);
  void Progress(bool force);
  void DryRun();
  int Merge();
  int Submit(std::unique_ptr<FileLock> lock);
  std::string Path(const std::string& name) const { return out_dir_ + "/" + name; }
  std::map<std::string, std::string> Vars(const Shard& s, bool file_safe) const;

  Env* env_;
  ShardOptions opt_;
  std::FILE *out_, *err_;
  PosixProcesses procs_;
  GpuPool pool_;
  std::string out_dir_, input_, scheduler_id_, host_;
  Plan plan_;
  std::optional<std::vector<std::string>> input_keys_;
  bool input_changed_ = false;  // noticed while checking a result: no new attempt starts (each would fail)
  std::optional<std::pair<uint64_t, int64_t>> input_seen_;  // size and mtime of the input last seen with the planned content
  std::vector<std::string> dropped_states_;  // state files of shards a re-plan dropped
  bool plan_changed_ = false;
  std::vector<Shard> shards_;
  double start_mono_ = 0, last_progress_ = 0, gpu_next_check_ = 0, gpu_backoff_ = 0.5;
  std::string gpu_wait_reason_;
  bool cancelling_ = false;
  double kill_at_ = 0;
  int signal_ = 0;
  std::vector<double> durations_;
  int run_attempts_;  // attempts per shard in this run: --max-attempts, or 1 for an array task (the manager retries)
};

void Scheduler::Validate() {
  if (opt_.input.empty() || opt_.key_column.empty() || opt_.output_dir.empty())
    Fail(ErrorKind::kUsage, "--input, --key and --output-dir are required");
  if (opt_.num_workers < 1) Fail(ErrorKind::kUsage, "--num-workers must be at least 1");
  if (opt_.gpus_per_worker < 0) Fail(ErrorKind::kUsage, "--gpus-per-worker must be 0 (CPU workers) or more");
  if (opt_.max_parallel_workers < 1) Fail(ErrorKind::kUsage, "--max-parallel-workers must be at least 1");
  if (opt_.max_attempts < 1) Fail(ErrorKind::kUsage, "--max-attempts must be at least 1");
  if (opt_.min_gpu_memory_gib < 0 || opt_.retry_backoff_seconds < 0 || opt_.kill_grace_seconds < 0)
    Fail(ErrorKind::kUsage, "--min-gpu-memory, --retry-backoff and --kill-grace cannot be negative");
  if (opt_.worker_argv.empty()) Fail(ErrorKind::kUsage, "no worker command: give it after `--` (sluice shard [options] -- CMD ARGS...)");
  for (const auto& a : opt_.worker_argv) CheckTemplate(a, "the worker command");
  CheckTemplate(opt_.result_pattern, "--result-pattern");
  FormatOfPath(opt_.result_pattern);
  if (!opt_.merged_output.empty() && FormatOfPath(opt_.merged_output) != FormatOfPath(opt_.result_pattern))
    Fail(ErrorKind::kUsage, "--merged-output {} and --result-pattern {} must be the same format", opt_.merged_output, opt_.result_pattern);
  out_dir_ = Absolute(opt_.output_dir);
  while (out_dir_.size() > 1 && out_dir_.back() == '/') out_dir_.pop_back();
  input_ = Absolute(opt_.input);
  if (!env_->FileExists(input_)) Fail(ErrorKind::kInput, "{}: no such input table", input_);
  FormatOfPath(input_);
  // Like --input and --output-dir, a relative --merged-output is relative to the working directory; only
  // the default lies in OUT.
  opt_.merged_output = opt_.merged_output.empty() ? Path("generation_results_data_all_real_merged" + Extension(opt_.result_pattern))
                                                  : Absolute(opt_.merged_output);
}

bool Scheduler::ResultVerifies(const ShardState& st) {
  if (st.status != ShardStatus::kCompleted || !st.result || !env_->FileExists(st.result->path)) return false;
  InputFingerprint fp = FingerprintFile(env_, st.result->path);
  return fp.size == st.result->size && fp.xxh3 == st.result->xxh3;
}

void Scheduler::LoadOrMakePlan() {
  std::string path = Path("plan.json");
  std::optional<Plan> old;
  if (env_->FileExists(path)) old = Plan::Parse(ReadFile(env_, path), path);
  if (old) {
    if (old->key_column != opt_.key_column)
      Fail(ErrorKind::kState, "{} splits key column '{}', not '{}': use another --output-dir for another key", path, old->key_column,
           opt_.key_column);
    if (opt_.key_type && *opt_.key_type != old->key_type)
      Fail(ErrorKind::kState, "{} orders keys as {}, not {}: use another --output-dir", path, KeyTypeName(old->key_type),
           KeyTypeName(*opt_.key_type));
    InputFingerprint fp = FingerprintFile(env_, input_);
    bool changed = !fp.SameContent(old->fingerprint);
    if (!changed && old->num_workers == opt_.num_workers) {
      plan_ = *old;
      input_seen_ = {fp.size, fp.mtime_ns};
      return;
    }
    std::string why = changed ? fmt::format("the input changed since it was planned ({} bytes, xxh3 {} then; {} bytes, xxh3 {} now)",
                                            old->fingerprint.size, old->fingerprint.xxh3, fp.size, fp.xxh3)
                              : fmt::format("it was planned for --num-workers {}, not {}", old->num_workers, opt_.num_workers);
    if (!opt_.replan)
      Fail(ErrorKind::kState,
           "refusing to change the plan in {}: {}. Its ranges and finished shards stay valid only with the same input and "
           "--num-workers {}; rerun with those to resume, or add --replan to keep the completed shards and split only the keys "
           "they do not cover into {} new range(s)",
           path, why, old->num_workers, opt_.num_workers);
    Say("re-planning: {}", why);
  }
  KeyScan scan = ScanKeys(env_, input_, opt_.key_column, old ? std::optional(old->key_type) : opt_.key_type);
  Plan p;
  p.input = input_;
  p.key_column = opt_.key_column;
  p.key_type = scan.type;
  p.fingerprint = scan.fingerprint;
  p.rows = scan.rows;
  p.distinct_keys = scan.keys.size();
  p.num_workers = opt_.num_workers;
  std::vector<KeyRange> keep;
  int next_index = 0;
  if (old) {
    for (const auto& s : old->shards) {
      auto st = ReadState(env_, Path(StateFileName(*old, s)));
      bool kept = st && ResultVerifies(*st);
      // A kept range must still hold exactly the input's keys: with rows added to the input, a kept
      // result lacks the new keys of its range (for string keys the last range has no upper bound, so
      // every key appended past the old largest one), which would otherwise be silently missing.
      if (kept) {
        try {
          VerifyResult(env_, st->result->path, *old, s, scan.keys);
        } catch (const Error& e) {
          Say("{} is not kept: its result does not cover the input's keys of its range now ({})", RangeLabel(*old, s), e.what());
          kept = false;
        }
      }
      if (kept) {
        p.shards.push_back(s);
        keep.push_back(s.range);
      } else {
        dropped_states_.push_back(Path(StateFileName(*old, s)));
      }
      next_index = std::max(next_index, s.index + 1);
    }
    std::sort(keep.begin(), keep.end(), [](const KeyRange& a, const KeyRange& b) { return a.low < b.low; });
    Say("keeping {} completed shard(s); {} other shard(s) dropped", p.shards.size(), dropped_states_.size());
  }
  for (auto& s : SplitKeys(scan.keys, opt_.num_workers, scan.type, keep, next_index)) p.shards.push_back(std::move(s));
  std::sort(p.shards.begin(), p.shards.end(), [](const ShardRange& a, const ShardRange& b) { return a.range.low < b.range.low; });
  plan_ = std::move(p);
  plan_changed_ = true;
  input_keys_ = std::move(scan.keys);  // the results of this plan are checked against these
  input_seen_ = {plan_.fingerprint.size, plan_.fingerprint.mtime_ns};
}

void Scheduler::SeenInput(const InputFingerprint& fp) {
  if (!fp.SameContent(plan_.fingerprint)) {
    input_changed_ = true;
    Fail(ErrorKind::kState, "the input {} changed since it was planned ({} bytes, xxh3 {} then; {} bytes, xxh3 {} now)", input_,
         plan_.fingerprint.size, plan_.fingerprint.xxh3, fp.size, fp.xxh3);
  }
  input_seen_ = {fp.size, fp.mtime_ns};
}

const std::vector<std::string>& Scheduler::InputKeys() {
  if (input_keys_) return *input_keys_;
  KeyScan scan = ScanKeys(env_, input_, plan_.key_column, plan_.key_type);
  SeenInput(scan.fingerprint);
  input_keys_ = std::move(scan.keys);
  return *input_keys_;
}

void Scheduler::CheckInputUnchanged() {
  if (input_seen_ && env_->FileExists(input_) && env_->FileSize(input_) == input_seen_->first &&
      env_->FileMtimeNs(input_) == input_seen_->second)
    return;
  SeenInput(FingerprintFile(env_, input_));
}

ShardResult Scheduler::CheckResult(const Shard& s) {
  ShardResult r = VerifyResult(env_, s.result_path, plan_, s.range, InputKeys());
  CheckInputUnchanged();  // the worker has ended: what it read was the planned input only if that is still there
  return r;
}

void Scheduler::RemoveLeftovers() {
  // A scheduler, merge or submitter killed while writing a file leaves its temporary (AtomicFile's
  // "<name>.tmp-<pid>-<n>") and the merge's spilled runs. Only this process may write here now (it holds
  // .lock exclusively), and a temporary of a live writer is kept anyway.
  std::string merged_name = std::filesystem::path(opt_.merged_output).filename().string();
  std::string merged_dir = std::filesystem::path(opt_.merged_output).parent_path().string();
  auto ours = [&](std::string_view name) {
    return name == "plan.json" || name == "args.json" || name == "scheduler_config.json" || name == "manager.json" ||
           name == "merge_summary.json" || (name.rfind("worker_args_", 0) == 0 && name.size() > 5 &&
                                            name.substr(name.size() - 5) == ".json") ||
           (merged_dir == out_dir_ && name == merged_name);
  };
  for (const auto& p : RemoveAbandonedTemporaries(env_, out_dir_, false, ours)) Say("removed {}, left by a process that died while writing it", p);
  if (merged_dir != out_dir_ && env_->FileExists(merged_dir))
    for (const auto& p : RemoveAbandonedTemporaries(env_, merged_dir, false, [&](std::string_view name) { return name == merged_name; }))
      Say("removed {}, left by a process that died while writing it", p);
  env_->RemoveTree(Path(".merge_tmp"));
}

void Scheduler::ProbeMergedOutput() {
  // The merge comes after every worker: a --merged-output that cannot be written is found now, not after
  // hours of work. An uncommitted AtomicFile leaves nothing.
  try {
    env_->CreateDirs(std::filesystem::path(opt_.merged_output).parent_path().string());
    AtomicFile probe(env_, opt_.merged_output);
  } catch (const Error& e) {
    Fail(ErrorKind::kOutput, "cannot write the merged table {} ({}); nothing was run (--no-merge skips the merge)", opt_.merged_output,
         e.what());
  }
}

std::map<std::string, std::string> Scheduler::Vars(const Shard& s, bool file_safe) const {
  std::string low = KeyText(plan_.key_type, s.range.range.low);
  std::string high = s.range.range.unbounded ? "" : KeyText(plan_.key_type, s.range.range.high);
  if (file_safe) {
    low = FileSafe(low);
    high = s.range.range.unbounded ? "end" : FileSafe(high);
  }
  return {{"low", low}, {"high", high}, {"shard", std::to_string(s.range.index)}, {"out", s.result_path},
          {"input", input_}, {"output_dir", out_dir_}};
}

void Scheduler::LoadShards() {
  for (const auto& r : plan_.shards) {
    Shard s;
    s.range = r;
    s.label = RangeLabel(plan_, r);
    s.stem = ShardStem(plan_, r);
    s.state_path = Path(StateFileName(plan_, r));
    std::string pattern = ExpandTemplate(opt_.result_pattern, Vars(s, true));
    s.result_path = pattern[0] == '/' ? pattern : Path(pattern);
    if (auto st = ReadState(env_, s.state_path)) {
      s.st = *st;
    } else {
      s.st.shard_index = r.index;
      s.st.key_column = plan_.key_column;
      s.st.low = KeyText(plan_.key_type, r.range.low);
      s.st.high = r.range.unbounded ? "" : KeyText(plan_.key_type, r.range.high);
      s.st.unbounded = r.range.unbounded;
      s.st.max_attempts = opt_.max_attempts;
    }
    shards_.push_back(std::move(s));
  }
}

void Scheduler::StopOrphan(Shard& s) {
  ProcessIdentity id{s.st.pid, s.st.proc_starttime, s.st.boot_id};
  Say("{} was left running by scheduler {}; its worker (pid {}, start time {}) still runs: stopping its process group {} "
      "(SIGTERM, SIGKILL after {}s)",
      s.label, s.st.scheduler_id, s.st.pid, s.st.proc_starttime, s.st.pgid, opt_.kill_grace_seconds);
  procs_.SignalGroup(id, SIGTERM);
  double until = env_->MonotonicSeconds() + opt_.kill_grace_seconds;
  while (procs_.Alive(id) && env_->MonotonicSeconds() < until) env_->SleepSeconds(kPollSeconds);
  procs_.SignalGroup(id, SIGKILL);  // the rest of the group, or the wrapper itself after the grace
  while (procs_.Alive(id)) env_->SleepSeconds(kPollSeconds);
}

void Scheduler::Reconcile(Shard& s) {
  ShardState& st = s.st;
  if (st.status == ShardStatus::kCompleted) {
    if (ResultVerifies(st)) return;
    Say("{} was completed but its result {} is missing or changed: running it again", s.label,
        st.result ? st.result->path : std::string("(none recorded)"));
    st.status = ShardStatus::kLost;
    st.error = "result missing or changed after completion";
    st.result.reset();
    WriteState(env_, s.state_path, st);
    return;
  }
  if (st.status != ShardStatus::kRunning) return;
  ProcessIdentity id{st.pid, st.proc_starttime, st.boot_id};
  if (st.host != host_) {
    Say("{} was running on host {}, not this one ({}): its process cannot be checked from here and is not signalled", s.label,
        st.host, host_);
    st.status = ShardStatus::kLost;
    st.error = "left running on another host by a scheduler that is gone";
  } else if (procs_.Alive(id)) {
    StopOrphan(s);
    st.status = ShardStatus::kLost;
    st.error = "orphaned by a scheduler that died; its process group was stopped";
  } else {
    if (st.pid > 0 && env_->GetProcessInfo(st.pid))
      Say("{}: pid {} now belongs to another process (another start time): not signalled", s.label, st.pid);
    std::optional<ExitStatus> ended = ReadStatusFile(st.status_path, st.pid);
    if (ended && ended->kind == ExitStatus::kExited && ended->value == 0) {
      st.exit_code = 0;
      try {
        st.result = CheckResult(s);
        st.status = ShardStatus::kCompleted;
        st.error.clear();
      } catch (const Error& e) {
        st.status = ShardStatus::kFailed;
        st.error = fmt::format("exited 0 while no scheduler watched, but its result is unusable: {}", e.what());
      }
    } else if (ended && ended->kind != ExitStatus::kNotStarted) {
      if (ended->kind == ExitStatus::kExited) st.exit_code = ended->value;
      else st.signal = ended->value;
      st.status = ShardStatus::kFailed;
      st.error = "ended while no scheduler watched: " + DescribeExit(st);
    } else {
      st.status = ShardStatus::kLost;
      st.error = "its scheduler died; the worker is gone and left no exit status";
    }
  }
  if (st.end_time == 0) st.end_time = env_->NowSeconds();
  Say("{}: recorded as {} ({})", s.label, StatusName(st.status), st.status == ShardStatus::kCompleted ? "result verified" : st.error);
  WriteState(env_, s.state_path, st);
}

void Scheduler::WriteConfig() {
  ShardOptions as_run = opt_;
  as_run.input = input_;
  as_run.output_dir = out_dir_;
  std::string args = ShardOptionsJson(as_run);
  WriteFileAtomic(env_, Path("args.json"), args + "\n");
  JsonWriter w;
  int64_t pid = env_->ProcessId();
  auto info = env_->GetProcessInfo(pid);
  w.BeginObject().Field("scheduler_id", scheduler_id_).Field("process_id", pid);
  w.Field("proc_starttime", info ? info->start_ticks : uint64_t{0}).Field("host", host_).Field("boot_id", env_->BootId());
  w.Field("timestamp", env_->NowSeconds()).Key("args").Raw(args);
  w.EndObject();
  WriteFileAtomic(env_, Path("scheduler_config.json"), w.Take() + "\n");
}

void Scheduler::Start(Shard& s, std::vector<GpuDevice> gpus) {
  ShardState& st = s.st;
  ++s.attempts_this_run;
  st.attempt += 1;
  st.max_attempts = opt_.max_attempts;
  st.scheduler_id = scheduler_id_;
  auto vars = Vars(s, false);
  st.command.clear();
  for (const auto& a : opt_.worker_argv) st.command.push_back(ExpandTemplate(a, vars));
  st.env_overrides = gpus.empty() && opt_.gpus_per_worker == 0 ? std::map<std::string, std::string>{} : CudaEnvironment(gpus);
  st.env_overrides["SLUICE_SHARD_INDEX"] = vars["shard"];
  st.env_overrides["SLUICE_SHARD_LOW"] = vars["low"];
  st.env_overrides["SLUICE_SHARD_HIGH"] = vars["high"];
  st.env_overrides["SLUICE_SHARD_OUTPUT"] = s.result_path;
  st.env_overrides["SLUICE_SCHEDULER_ID"] = scheduler_id_;
  st.gpus.clear();
  for (const auto& d : gpus) st.gpus.push_back({d.index, d.uuid, d.name});
  st.log_path = Path(fmt::format("logs/shard_{}.attempt{}.log", s.stem, st.attempt));
  st.status_path = Path(fmt::format("logs/shard_{}.attempt{}.status", s.stem, st.attempt));
  st.exit_code.reset();
  st.signal.reset();
  st.result.reset();
  st.error.clear();
  st.end_time = 0;
  st.start_time = env_->NowSeconds();
  std::string shown;
  for (const auto& [k, v] : st.env_overrides)
    if (k.rfind("CUDA_", 0) == 0) shown += k + "=" + ShellQuote(v) + " ";
  for (const auto& a : st.command) shown += ShellQuote(a) + " ";
  shown.pop_back();
  std::string on;
  for (const auto& d : gpus) on += fmt::format("{}GPU {} {} ({})", on.empty() ? " on " : ", ", d.index, d.name, d.uuid);
  Say("{} attempt {} ({} of {} in this run){}: {}", s.label, st.attempt, s.attempts_this_run, run_attempts_, on, shown);
  Say("{} log: {}", s.label, st.log_path);

  LaunchRequest req;
  req.argv = st.command;
  req.env = st.env_overrides;
  req.stdout_path = req.stderr_path = st.log_path;
  req.status_path = st.status_path;
  int go_fd = -1;
  try {
    env_->RemoveFile(st.status_path);
    s.id = procs_.Spawn(req, &go_fd);
  } catch (const Error& e) {  // nothing ran (no log file, fork failed): a failed attempt, retried like one
    pool_.Release(gpus);
    st.status = ShardStatus::kFailed;
    st.error = fmt::format("could not start: {}", e.what());
    st.end_time = env_->NowSeconds();
    WriteState(env_, s.state_path, st);
    Say("{} {}", s.label, st.error);
    s.not_before = env_->MonotonicSeconds() + opt_.retry_backoff_seconds;
    return;
  }
  st.status = ShardStatus::kRunning;
  st.pid = st.pgid = s.id.pid;
  st.proc_starttime = s.id.start_ticks;
  st.boot_id = s.id.boot_id;
  st.host = host_;
  try {
    WriteState(env_, s.state_path, st);  // the identity is durable before the command may run
  } catch (...) {
    ::close(go_fd);  // the wrapper reads EOF and runs nothing
    while (!procs_.Reap(s.id.pid)) env_->SleepSeconds(0.01);
    throw;
  }
  procs_.Release(go_fd);
  CrashPoint("shard_worker_started");  // the worker runs under a recorded identity
  s.running = true;
  s.gpus = std::move(gpus);
  s.started = env_->MonotonicSeconds();
  s.log_offset = 0;
  s.partial_line.clear();
  s.killed = false;
}

void Scheduler::Drain(Shard& s, bool all) {
  if (opt_.quiet || !env_->FileExists(s.st.log_path)) return;
  std::string buf(64 << 10, '\0');
  // At most 1 MiB per shard per turn, so one chatty worker cannot starve the loop (signals, other shards).
  for (int turn = 0; all || turn < 16; ++turn) {
    size_t n = env_->ReadAt(s.st.log_path, s.log_offset, buf.size(), buf.data());
    if (n == 0) break;
    s.log_offset += n;
    s.partial_line.append(buf, 0, n);
    size_t begin = 0, nl;
    while ((nl = s.partial_line.find('\n', begin)) != std::string::npos) {
      fmt::print(out_, "{} {}\n", s.label, std::string_view(s.partial_line).substr(begin, nl - begin));
      begin = nl + 1;
    }
    s.partial_line.erase(0, begin);
  }
  if (all && !s.partial_line.empty()) {
    fmt::print(out_, "{} {}\n", s.label, s.partial_line);
    s.partial_line.clear();
  }
  std::fflush(out_);
}

void Scheduler::Finish(Shard& s) {
  ShardState& st = s.st;
  // The wrapper has exited but is not reaped: its group id is still ours. Kill what the worker left in it.
  procs_.SignalGroup(s.id, SIGKILL);
  std::optional<ExitStatus> reaped;
  while (!(reaped = procs_.Reap(s.id.pid))) env_->SleepSeconds(0.001);
  s.running = false;
  pool_.Release(s.gpus);
  gpu_next_check_ = 0;
  gpu_backoff_ = 0.5;
  Drain(s, true);
  CrashPoint("shard_worker_finished");  // the worker has ended, its end is not yet recorded
  std::optional<ExitStatus> ended = ReadStatusFile(st.status_path, s.id.pid);
  if (!ended) ended = reaped;
  if (ended->kind == ExitStatus::kSignaled) st.signal = ended->value;
  else st.exit_code = ended->value;
  st.end_time = env_->NowSeconds();
  double took = env_->MonotonicSeconds() - s.started;
  if (ended->kind == ExitStatus::kExited && ended->value == 0) {
    try {
      st.result = CheckResult(s);
      st.status = ShardStatus::kCompleted;
    } catch (const Error& e) {
      st.status = ShardStatus::kFailed;
      st.error = fmt::format("exited 0 but its result is unusable: {}", e.what());
    }
  } else {
    st.status = cancelling_ ? ShardStatus::kCancelled : ShardStatus::kFailed;
    st.error = DescribeExit(st);
  }
  WriteState(env_, s.state_path, st);
  if (st.status == ShardStatus::kCompleted) {
    durations_.push_back(took);
    Say("{} completed in {:.1f}s: {} rows in {}", s.label, took, st.result->rows, st.result->path);
  } else if (st.status == ShardStatus::kCancelled) {
    Say("{} cancelled ({})", s.label, st.error);
  } else if (s.attempts_this_run < run_attempts_ && !cancelling_) {
    double delay = std::min(kMaxBackoffSeconds, opt_.retry_backoff_seconds * std::pow(2.0, s.attempts_this_run - 1));
    s.not_before = env_->MonotonicSeconds() + delay;
    Say("{} failed ({}); attempt {} of {} in {:.1f}s; log: {}", s.label, st.error, s.attempts_this_run + 1, run_attempts_, delay,
        st.log_path);
  } else {
    Say("{} failed ({}) after {} attempt(s) in this run; log: {}", s.label, st.error, s.attempts_this_run, st.log_path);
  }
  Progress(true);
}

bool Scheduler::StartNext(double now) {
  int running = 0;
  for (const auto& s : shards_) running += s.running;
  if (running >= opt_.max_parallel_workers || input_changed_) return false;
  for (auto& s : shards_) {
    if (s.running || s.st.status == ShardStatus::kCompleted || s.attempts_this_run >= run_attempts_ || s.not_before > now) continue;
    std::vector<GpuDevice> gpus;
    if (opt_.gpus_per_worker > 0) {
      if (now < gpu_next_check_) return false;
      std::string why;
      auto got = pool_.Acquire(&why);
      if (!got) {
        // Wait and look again (backoff); the shard stays first in line, never dropped.
        if (why != gpu_wait_reason_) Say("{} waits for GPUs: {}; checking again in {:.1f}s", s.label, why, gpu_backoff_);
        gpu_wait_reason_ = why;
        gpu_next_check_ = now + gpu_backoff_;
        gpu_backoff_ = std::min(opt_.gpu_wait_max_seconds, gpu_backoff_ * 2);
        return false;
      }
      gpu_wait_reason_.clear();
      gpus = std::move(*got);
    }
    Start(s, std::move(gpus));
    Progress(true);
    return true;
  }
  return false;
}

void Scheduler::Progress(bool force) {
  double now = env_->MonotonicSeconds();
  if (!force && now - last_progress_ < kProgressEverySeconds) return;
  last_progress_ = now;
  int done = 0, running = 0, pending = 0, failed = 0, cancelled = 0;
  for (const auto& s : shards_) {
    if (s.running) ++running;
    else if (s.st.status == ShardStatus::kCompleted) ++done;
    else if (cancelling_ && s.st.status == ShardStatus::kCancelled) ++cancelled;
    else if (s.attempts_this_run >= run_attempts_ || (cancelling_ && s.st.status == ShardStatus::kFailed)) ++failed;
    else ++pending;
  }
  std::string eta = "?";
  if (!durations_.empty() && running + pending > 0) {
    double avg = 0;
    for (double d : durations_) avg += d;
    avg /= durations_.size();
    int lanes = std::max(1, std::min(opt_.max_parallel_workers, running + pending));
    eta = fmt::format("{:.0f}s", avg * std::ceil(static_cast<double>(running + pending) / lanes));
  } else if (running + pending == 0) {
    eta = "0s";
  }
  Say("progress: {}/{} done, {} running, {} pending, {} failed{}, elapsed {:.1f}s, ETA {}", done, shards_.size(), running, pending,
      failed, cancelling_ ? fmt::format(", {} cancelled", cancelled) : "", now - start_mono_, eta);
}

void Scheduler::Loop() {
  for (;;) {
    double now = env_->MonotonicSeconds();
    if (int sig = g_signal.load(); sig && !cancelling_) {
      cancelling_ = true;
      signal_ = sig;
      kill_at_ = now + opt_.kill_grace_seconds;
      int n = 0;
      for (auto& s : shards_)
        if (s.running) n += procs_.SignalGroup(s.id, SIGTERM);
      Say("{} received: no new worker starts; sent SIGTERM to {} worker process group(s), SIGKILL after {}s", strsignal(sig), n,
          opt_.kill_grace_seconds);
    }
    if (cancelling_ && now >= kill_at_)
      for (auto& s : shards_)
        if (s.running && !s.killed) {
          procs_.SignalGroup(s.id, SIGKILL);
          s.killed = true;
          Say("{} outlived the grace period: SIGKILL to its process group", s.label);
        }
    bool any_running = false;
    for (auto& s : shards_) {
      if (!s.running) continue;
      if (!procs_.Alive(s.id)) Finish(s);
      else Drain(s, false), any_running = true;
    }
    bool started = false;
    while (!cancelling_ && StartNext(now)) started = true;
    bool more = false;
    for (const auto& s : shards_)
      more = more || s.running ||
             (!cancelling_ && !input_changed_ && s.st.status != ShardStatus::kCompleted && s.attempts_this_run < run_attempts_);
    if (!more) return;
    Progress(false);
    if (!started || any_running) env_->SleepSeconds(kPollSeconds);
  }
}

void Scheduler::DryRun() {
  fmt::print(out_, "plan: {} shard(s) of {} distinct key(s) ({} rows) of column '{}' ({} keys) in {}{}\n", plan_.shards.size(),
             plan_.distinct_keys, plan_.rows, plan_.key_column, KeyTypeName(plan_.key_type), plan_.input,
             plan_changed_ ? " (new plan, not written)" : " (plan.json)");
  GpuInventory inv = env_->ListGpus();
  auto mask = env_->GetEnvVar("CUDA_VISIBLE_DEVICES");
  auto visible = VisibleGpuIndices(inv.devices, mask);
  fmt::print(out_, "GPUs ({}): {} found{}{}\n", inv.library.empty() ? "NVML" : inv.library, inv.devices.size(),
             inv.error.empty() ? "" : ", " + inv.error, mask ? fmt::format(", CUDA_VISIBLE_DEVICES={} leaves {}", *mask, visible.size()) : "");
  for (int i : visible) {
    const auto& d = inv.devices[i];
    fmt::print(out_, "  GPU {} {} {} pci {} free {} of {}{}\n", d.index, d.name, d.uuid, d.pci_bus_id, GiB(d.memory_free),
               GiB(d.memory_total),
               d.memory_free >= static_cast<uint64_t>(opt_.min_gpu_memory_gib * (1ull << 30)) ? "" : " (below --min-gpu-memory)");
  }
  if (opt_.gpus_per_worker > 0) pool_.CheckFeasible();
  int wave = 0;
  for (auto& s : shards_) {
    std::string what = StatusName(s.st.status), gpus;
    if (s.st.status == ShardStatus::kCompleted) {
      what += ResultVerifies(s.st) ? ", result verified: skipped" : ", result missing or changed: would run again";
    } else if (wave < opt_.max_parallel_workers) {
      std::string why;
      auto got = opt_.gpus_per_worker > 0 ? pool_.Acquire(&why) : std::optional<std::vector<GpuDevice>>(std::vector<GpuDevice>{});
      if (!got) {
        what += ", would wait for GPUs (" + why + ")";
      } else {
        ++wave;
        what += ", would start now";
        if (opt_.gpus_per_worker > 0) {
          for (const auto& [k, v] : CudaEnvironment(*got)) gpus += k + "=" + v + " ";
          for (const auto& d : *got) gpus += fmt::format("[GPU {} {} {}] ", d.index, d.name, d.uuid);
        }
      }
    } else {
      what += ", would wait for a slot";
    }
    std::string cmd;
    auto vars = Vars(s, false);
    for (const auto& a : opt_.worker_argv) cmd += ShellQuote(ExpandTemplate(a, vars)) + " ";
    fmt::print(out_, "shard {} {} ({} keys): {}\n  {}{}\n", s.range.index, s.label, s.range.keys, what, gpus, cmd);
  }
  std::fflush(out_);
}

int Scheduler::Merge() {
  std::vector<MergeShard> in;
  for (const auto& s : shards_) in.push_back({s.range, s.st.status, s.st.result});
  MergeOptions mo;
  mo.output = opt_.merged_output;
  mo.summary_path = Path("merge_summary.json");
  mo.tmp_dir = Path(".merge_tmp");
  mo.allow_partial = opt_.allow_partial;
  mo.run_bytes = opt_.merge_run_bytes;
  // Every result was checked against the planned input when its worker ended. A table changed since is
  // not merged (a rerun would be refused on it too): the merged table would claim to cover an input that
  // is no longer there.
  bool all = std::all_of(shards_.begin(), shards_.end(), [](const Shard& s) { return s.st.status == ShardStatus::kCompleted; });
  if (all || opt_.allow_partial) {
    try {
      CheckInputUnchanged();
    } catch (const Error& e) {
      Fail(e.kind(), "not merging: {}. Restore the planned input and rerun, or rerun with --replan to plan its keys anew", e.what());
    }
  }
  MergeReport rep = MergeResults(env_, plan_, in, mo);
  if (!rep.merged) {
    Say("not merging: {} shard(s) failed, {} missing (merge_summary.json lists them; --allow-partial merges the completed ones)",
        rep.failed.size(), rep.missing.size());
    return 1;
  }
  Say("merged {} row(s) into {} ({} duplicate key row(s) dropped){}", rep.rows, mo.output, rep.duplicates,
      rep.failed.empty() && rep.missing.empty() ? "" : fmt::format("; PARTIAL: {} shard(s) not included", rep.failed.size() + rep.missing.size()));
  return 0;
}

void Scheduler::Identify(const std::string& role) {
  host_ = env_->HostName();
  scheduler_id_ = fmt::format("sluice_{}_{}_{}_{}", role, host_, env_->ProcessId(), static_cast<int64_t>(env_->NowSeconds()));
}

std::unique_ptr<FileLock> Scheduler::LockDir(Env::LockMode mode, double wait_seconds) {
  double until = env_->MonotonicSeconds() + wait_seconds;
  for (;;) {
    if (auto lock = env_->LockFile(Path(".lock"), false, mode)) return lock;
    if (env_->MonotonicSeconds() >= until) break;
    env_->SleepSeconds(kPollSeconds);
  }
  // Shared holders are array tasks; an exclusive holder is a scheduler, a submitter or a merge.
  if (mode == Env::LockMode::kExclusive && env_->LockFile(Path(".lock"), false, Env::LockMode::kShared)) {
    auto run = ReadManagedRun(env_, out_dir_);
    Fail(ErrorKind::kState, "job-manager array tasks{} are running shards of {}: wait for them or cancel them first",
         run && run->array_id ? fmt::format(" (array job {})", run->array_id) : "", out_dir_);
  }
  Fail(ErrorKind::kState, "another sluice shard scheduler, submitter or merge is running on {}{}", out_dir_, DescribeHolder());
}

std::string Scheduler::DescribeHolder() {
  // scheduler_config.json names the latest scheduler or submitter (a merge records none): it holds the
  // directory if that very process (pid, start time, boot) still lives.
  std::string path = Path("scheduler_config.json");
  std::string text;
  try {
    if (!env_->FileExists(path)) return "";
    text = ReadFile(env_, path);
  } catch (const Error&) {
    return "";
  }
  simdjson::dom::parser p;
  simdjson::dom::element e;
  int64_t pid = 0;
  uint64_t ticks = 0;
  double started = 0;
  std::string_view host, boot, id;
  if (p.parse(text).get(e) || e["process_id"].get(pid) || e["proc_starttime"].get(ticks) || e["host"].get(host) ||
      e["boot_id"].get(boot) || e["timestamp"].get(started) || e["scheduler_id"].get(id))
    return "";
  std::string who = fmt::format("pid {} on host {}, started {}, scheduler id {}", pid, host, FormatTime(started), id);
  if (host != host_) return fmt::format(": {} recorded itself last (another host: not checked from here)", who);
  if (procs_.Alive(ProcessIdentity{pid, ticks, std::string(boot)}))
    return fmt::format(": {}; wait for it to end, or stop it with kill -TERM {}", who, pid);
  return fmt::format(": a merge or a scheduler that has not recorded itself yet (the last recorded one, {}, has ended)", who);
}

bool Scheduler::WorkLeft() {
  for (const auto& r : plan_.shards) {
    std::string path = Path(StateFileName(plan_, r));
    if (std::find(dropped_states_.begin(), dropped_states_.end(), path) != dropped_states_.end()) return true;
    auto st = ReadState(env_, path);
    if (!st || (st->status != ShardStatus::kRunning && !ResultVerifies(*st))) return true;
  }
  return false;
}

void Scheduler::CheckGpusForWork() {
  if (!opt_.submit && opt_.gpus_per_worker > 0 && WorkLeft()) pool_.CheckFeasible();
}

int Scheduler::Run() {
  Validate();
  Identify("shard");
  if (opt_.dry_run) {
    LoadOrMakePlan();
    LoadShards();
    DryRun();
    return 0;
  }
  // A run refused before any work writes nothing. A new OUT is planned (the input read: a malformed table
  // is refused) and the GPUs are checked before the directory is created; if another scheduler wrote a
  // plan in the meantime, it is planned again under the lock.
  bool planned = false;
  if (!env_->FileExists(Path("plan.json"))) {
    LoadOrMakePlan();
    CheckGpusForWork();
    planned = true;
  }
  env_->CreateDirs(out_dir_ + "/logs");
  std::unique_ptr<FileLock> lock = LockDir(Env::LockMode::kExclusive, 0);
  CheckManagedRunOver(env_, out_dir_, opt_);
  if (!planned || env_->FileExists(Path("plan.json"))) {
    plan_changed_ = false;
    dropped_states_.clear();
    LoadOrMakePlan();
    CheckGpusForWork();  // nothing is written before this either
  }
  RemoveLeftovers();
  if (!opt_.no_merge) ProbeMergedOutput();
  if (plan_changed_) {
    AtomicFile f(env_, Path("plan.json"));
    f.file().Append(plan_.ToJson());
    CrashPoint("shard_plan_write");  // planned, the plan not yet in place
    f.Commit();
    for (const auto& p : dropped_states_) env_->RemoveFile(p);
  }
  WriteConfig();
  LoadShards();
  if (opt_.submit) return Submit(std::move(lock));
  start_mono_ = env_->MonotonicSeconds();
  {
    SignalGuard signals;
    for (auto& s : shards_) Reconcile(s);
    int unfinished = 0;
    for (const auto& s : shards_) unfinished += s.st.status != ShardStatus::kCompleted;
    Say("{} shard(s) of {} key(s) [{}]: {} to run, {} completed; up to {} at once, {} GPU(s) each", shards_.size(), plan_.distinct_keys,
        KeyTypeName(plan_.key_type), unfinished, shards_.size() - unfinished, opt_.max_parallel_workers, opt_.gpus_per_worker);
    if (unfinished > 0 && opt_.gpus_per_worker > 0) pool_.CheckFeasible();
    Loop();
    if (int sig = g_signal.load(); sig && !cancelling_) {  // came after the last worker ended
      cancelling_ = true;
      signal_ = sig;
    }
  }
  // The merge runs under the signals' own dispositions again (a handler that only records the signal
  // would let a SIGINT or SIGTERM wait for the whole merge): a signal ends it at once, leaving only its
  // temporary file, which the next run removes, and the rerun merges.
  if (cancelling_) {
    Say("stopped by {}; rerun the same command to resume", strsignal(signal_));
    return 128 + signal_;
  }
  std::vector<std::string> failed;
  for (const auto& s : shards_)
    if (s.st.status != ShardStatus::kCompleted) failed.push_back(s.label);
  if (!failed.empty()) {
    std::string list;
    for (const auto& f : failed) list += " " + f;
    if (input_changed_)
      Say("{} shard(s) not completed:{}; the input changed during the run, so no further attempt was started: a rerun is "
          "refused unless the input is the planned one again (or with --replan)", failed.size(), list);
    else
      Say("{} shard(s) not completed:{}; rerun the same command to retry them", failed.size(), list);
  }
  int merged = opt_.no_merge ? 0 : Merge();
  return failed.empty() ? merged : 1;
}

int Scheduler::Submit(std::unique_ptr<FileLock> lock) {
  // Shards left running by a task that is gone (no task can run: the exclusive lock is ours) are settled
  // first, so that only unfinished shards become tasks.
  for (auto& s : shards_) Reconcile(s);
  std::vector<int> unfinished;
  for (const auto& s : shards_)
    if (s.st.status != ShardStatus::kCompleted) unfinished.push_back(s.range.index);
  ManagedRun run = SubmitManagedRun(env_, out_dir_, opt_, unfinished);
  lock.reset();  // the tasks may take the directory (shared) now
  if (run.array_id)
    Say("submitted {} shard(s) of {} as array job {} (task {}_<shard index> per shard; up to {} at once, {} GPU(s) and {} "
        "attempt(s) each)",
        unfinished.size(), shards_.size(), run.array_id, run.array_id, opt_.max_parallel_workers, opt_.gpus_per_worker,
        opt_.max_attempts);
  else
    Say("all {} shard(s) are completed: nothing to run", shards_.size());
  if (run.merge_id) Say("merge job {} runs when {}", run.merge_id, run.array_id ? "every task has completed" : "it is admitted");
  fmt::print(out_, "array {}\nmerge {}\n", run.array_id, run.merge_id);
  std::fflush(out_);
  return 0;
}

void Scheduler::Adopt() {
  out_dir_ = Absolute(opt_.output_dir);
  while (out_dir_.size() > 1 && out_dir_.back() == '/') out_dir_.pop_back();
  input_ = opt_.input;
}

int Scheduler::RunTask(std::optional<int> index) {
  Adopt();
  if (!index) {
    auto id = env_->GetEnvVar("SLUICE_ARRAY_TASK_ID");
    if (!id) Fail(ErrorKind::kUsage, "no shard: give --shard I, or run this as a job-manager array task (SLUICE_ARRAY_TASK_ID)");
    int parsed = 0;
    auto [end, ec] = std::from_chars(id->data(), id->data() + id->size(), parsed);
    if (ec != std::errc() || end != id->data() + id->size() || id->empty())
      Fail(ErrorKind::kUsage, "SLUICE_ARRAY_TASK_ID={} is not a shard index", *id);
    index = parsed;
  }
  Identify("shard_task");
  // The submitter holds the directory while it records the array it just submitted: wait that long.
  auto dir_lock = LockDir(Env::LockMode::kShared, 10);
  LoadPlan();
  LoadShards();
  auto it = std::find_if(shards_.begin(), shards_.end(), [&](const Shard& s) { return s.range.index == *index; });
  if (it == shards_.end()) Fail(ErrorKind::kUsage, "{}/plan.json has no shard {}", out_dir_, *index);
  std::vector<Shard> one;
  one.push_back(std::move(*it));
  shards_ = std::move(one);
  Shard& s = shards_[0];
  auto shard_lock = env_->LockFile(Path(".shard_" + s.stem + ".lock"), false);
  if (!shard_lock) Fail(ErrorKind::kState, "{} of {} is being run by another task", s.label, out_dir_);
  run_attempts_ = 1;  // the job manager retries the task
  start_mono_ = env_->MonotonicSeconds();
  SignalGuard signals;
  Reconcile(s);
  if (s.st.status == ShardStatus::kCompleted) {
    Say("{} is already completed ({} rows, result verified): nothing to do", s.label, s.st.result->rows);
    return 0;
  }
  if (opt_.gpus_per_worker > 0) pool_.CheckFeasible();
  Loop();
  if (cancelling_) return 128 + signal_;
  return s.st.status == ShardStatus::kCompleted ? 0 : 1;
}

int Scheduler::RunMerge() {
  Adopt();
  Identify("shard_merge");
  auto lock = LockDir(Env::LockMode::kExclusive, 10);
  CheckManagedRunOver(env_, out_dir_, opt_);  // pending tasks hold no lock yet
  RemoveLeftovers();
  LoadPlan();
  LoadShards();
  for (auto& s : shards_) Reconcile(s);
  return Merge();
}

void Scheduler::LoadPlan() {
  std::string path = Path("plan.json");
  if (!env_->FileExists(path)) Fail(ErrorKind::kInput, "{}: no shard plan (not a sluice shard output directory)", path);
  plan_ = Plan::Parse(ReadFile(env_, path), path);
}

// The options a submitted directory was planned with (args.json), so that every task and the merge use
// exactly those and not whatever a later command line says. `dir` is where the directory is now.
ShardOptions ReadArgs(Env* env, const std::string& dir) {
  std::string path = dir + "/args.json";
  if (!env->FileExists(path)) Fail(ErrorKind::kInput, "{}: no such file (not a sluice shard output directory)", path);
  return ParseShardOptions(ReadFile(env, path), dir, path);
}

// The fields of args.json: one list for writing and reading, `f(key, member)` each.
template <typename Options, typename F>
void ForEachArg(Options& o, F&& f) {
  f("input", o.input);
  f("key", o.key_column);
  f("output_dir", o.output_dir);
  f("key_type", o.key_type);
  f("num_workers", o.num_workers);
  f("gpus_per_worker", o.gpus_per_worker);
  f("min_gpu_memory", o.min_gpu_memory_gib);
  f("max_parallel_workers", o.max_parallel_workers);
  f("quiet", o.quiet);
  f("max_attempts", o.max_attempts);
  f("retry_backoff", o.retry_backoff_seconds);
  f("kill_grace", o.kill_grace_seconds);
  f("result_pattern", o.result_pattern);
  f("merged_output", o.merged_output);
  f("replan", o.replan);
  f("allow_partial", o.allow_partial);
  f("no_merge", o.no_merge);
  f("submit", o.submit);
  f("worker_command", o.worker_argv);
}

template <typename T>
void WriteArg(JsonWriter& w, std::string_view key, const T& v) {
  w.Field(key, v);
}
void WriteArg(JsonWriter& w, std::string_view key, const std::optional<KeyType>& v) { w.Field(key, v ? KeyTypeName(*v) : "auto"); }
void WriteArg(JsonWriter& w, std::string_view key, const std::vector<std::string>& v) {
  w.Key(key).BeginArray();
  for (const auto& a : v) w.String(a);
  w.EndArray();
}

// false when `e` is not of the member's type.
bool ReadArg(simdjson::dom::element e, std::string& v) {
  std::string_view s;
  if (e.get(s)) return false;
  v = s;
  return true;
}
bool ReadArg(simdjson::dom::element e, int& v) {
  int64_t i = 0;
  if (e.get(i) || i < INT32_MIN || i > INT32_MAX) return false;
  v = static_cast<int>(i);
  return true;
}
bool ReadArg(simdjson::dom::element e, double& v) { return !e.get(v); }
bool ReadArg(simdjson::dom::element e, bool& v) { return !e.get(v); }
bool ReadArg(simdjson::dom::element e, std::optional<KeyType>& v) {
  std::string_view s;
  if (e.get(s)) return false;
  v = s == "auto" ? std::nullopt : ParseKeyType(s);
  return s == "auto" || v;
}
bool ReadArg(simdjson::dom::element e, std::vector<std::string>& v) {
  simdjson::dom::array a;
  if (e.get(a)) return false;
  v.clear();
  for (simdjson::dom::element x : a)
    if (!ReadArg(x, v.emplace_back())) return false;
  return true;
}

}  // namespace

std::string WorkingDirectory() {
  char buf[4096];
  if (!::getcwd(buf, sizeof buf)) Fail(ErrorKind::kInternal, "cannot read the working directory");
  return buf;
}

std::string ShardOptionsJson(const ShardOptions& opt) {
  JsonWriter w;
  w.BeginObject();
  ForEachArg(opt, [&w](std::string_view key, const auto& v) { WriteArg(w, key, v); });
  w.EndObject();
  return w.Take();
}

ShardOptions ParseShardOptions(std::string_view json, const std::string& dir, const std::string& path) {
  simdjson::dom::parser p;
  simdjson::dom::object root;
  if (p.parse(json.data(), json.size()).get(root)) Fail(ErrorKind::kState, "{}: not the options of a sluice shard run (not a JSON object)", path);
  ShardOptions o;
  ForEachArg(o, [&](const char* key, auto& v) {
    simdjson::dom::element e;
    if (root[key].get(e) || !ReadArg(e, v))
      Fail(ErrorKind::kState, "{}: not the options of a sluice shard run ({} is missing or mistyped)", path, key);
  });
  o.output_dir = dir;
  return o;
}

int RunShards(Env* env, const ShardOptions& opt, std::FILE* out, std::FILE* err) {
  Scheduler s(env, opt, out, err);
  return s.Run();
}

int RunShardTask(Env* env, const std::string& output_dir, std::optional<int> shard, std::FILE* out, std::FILE* err) {
  Scheduler s(env, ReadArgs(env, output_dir), out, err);
  return s.RunTask(shard);
}

int MergeShardDir(Env* env, const std::string& output_dir, bool allow_partial, std::FILE* out, std::FILE* err) {
  ShardOptions opt = ReadArgs(env, output_dir);
  opt.allow_partial = opt.allow_partial || allow_partial;
  Scheduler s(env, opt, out, err);
  return s.RunMerge();
}

}  // namespace sluice::shard
