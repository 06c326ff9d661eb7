#include "job/stop.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/error.h"
#include "core/json_writer.h"
#include "io/atomic_file.h"

namespace sluice {

// --- pid file -------------------------------------------------------------------------------------------

std::string PidFile::ToJson() const {
  JsonWriter w;
  w.BeginObject().Field("pid", pid).Field("start_ticks", start_ticks).Field("boot_id", boot_id);
  w.Field("host", host).Field("run_id", run_id).Field("job_id", job_id).Field("started_at", started_at).EndObject();
  return w.Take() + "\n";
}

std::optional<PidFile> PidFile::Parse(std::string_view json, std::string* why) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::padded_string text(json);
  if (auto err = parser.parse(text).get(root)) {
    *why = simdjson::error_message(err);
    return std::nullopt;
  }
  PidFile f;
  std::string_view boot, host, run, job;
  if (root["pid"].get(f.pid) || root["start_ticks"].get(f.start_ticks) || root["boot_id"].get(boot) ||
      root["host"].get(host) || f.pid <= 0) {
    *why = "no pid, start_ticks, boot_id and host";
    return std::nullopt;
  }
  f.boot_id = boot;
  f.host = host;
  if (!root["run_id"].get(run)) f.run_id = run;
  if (!root["job_id"].get(job)) f.job_id = job;
  if (root["started_at"].get(f.started_at)) f.started_at = 0;
  return f;
}

PidFileGuard::PidFileGuard(Env* env, const std::string& job_dir, const std::string& job_id, const std::string& run_id)
    : env_(env), path_(job_dir + "/" + kPidFileName) {
  PidFile f;
  f.pid = env->ProcessId();
  auto info = env->GetProcessInfo(f.pid);
  if (!info) Fail(ErrorKind::kInternal, "cannot read this process's start time (/proc/{}/stat)", f.pid);
  f.start_ticks = info->start_ticks;
  f.boot_id = env->BootId();
  f.host = env->HostName();
  f.run_id = run_id;
  f.job_id = job_id;
  f.started_at = env->NowSeconds();
  WriteFileAtomic(env, path_, f.ToJson());
}

PidFileGuard::~PidFileGuard() {
  try {
    env_->RemoveFile(path_);
  } catch (const Error&) {  // a stale pid file is harmless: `sluice stop` finds its process gone
  }
}

// --- signals --------------------------------------------------------------------------------------------

namespace {

static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "the signal handler may only touch lock-free atomics");
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
struct sigaction g_old_term, g_old_int;

extern "C" void OnStopSignal(int sig) {
  int none = 0;
  if (g_signal.compare_exchange_strong(none, sig)) {
    g_stop.store(true);
    return;
  }
  // A second signal: the default action (the process ends; what is committed stays valid).
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}

}  // namespace

StopSignals::StopSignals() {
  g_stop = false;
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  // A signal ignored when sluice started stays ignored (`sluice run ... &` in a script ignores SIGINT).
  for (auto [sig, old] : {std::pair{SIGTERM, &g_old_term}, std::pair{SIGINT, &g_old_int}}) {
    ::sigaction(sig, nullptr, old);
    if (old->sa_handler != SIG_IGN) ::sigaction(sig, &sa, nullptr);
  }
}

StopSignals::~StopSignals() {
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  ::sigaction(SIGINT, &g_old_int, nullptr);
}

const std::atomic<bool>& StopSignals::flag() const { return g_stop; }
int StopSignals::signal() const { return g_signal.load(); }

const char* SignalName(int sig) {
  switch (sig) {
    case SIGTERM: return "SIGTERM";
    case SIGINT: return "SIGINT";
    case SIGKILL: return "SIGKILL";
    default: return "signal";
  }
}

// --- sluice stop ----------------------------------------------------------------------------------------

bool JobLockHeld(Env* env, const std::string& job_dir) {
  std::string path = job_dir + "/job.lock";
  return env->FileExists(path) && env->LockFile(path, false) == nullptr;
}

namespace {

struct Stopper {
  Env* env;
  std::string job_dir;
  const std::function<void(const std::string&)>& note;

  void Note(const std::string& s) const {
    if (note) note(s);
  }

  bool LockHeld() const { return JobLockHeld(env, job_dir); }

  // A zombie has exited (it holds no lock, runs nothing); it only waits for its parent to reap it.
  static bool Exited(const Env::ProcessInfo& p) { return p.state == 'Z' || p.state == 'X'; }

  // The recorded process itself, still running.
  bool Alive(const PidFile& f) const {
    auto info = env->GetProcessInfo(f.pid);
    return info && !Exited(*info) && info->start_ticks == f.start_ticks;
  }

  bool WaitGone(const PidFile& f, double seconds) const {
    double until = env->MonotonicSeconds() + seconds;
    while (Alive(f)) {
      if (env->MonotonicSeconds() >= until) return false;
      env->SleepSeconds(0.05);
    }
    return true;
  }

  // What the job's summary says now ("" if unreadable): after the process is gone, how its run ended.
  std::string SummaryStatus() const {
    std::string path = job_dir + "/job_summary.json";
    if (!env->FileExists(path)) return "";
    try {
      std::string text = ReadFile(env, path);
      simdjson::dom::parser parser;
      std::string_view status;
      if (parser.parse(text)["status"].get(status)) return "";
      return std::string(status);
    } catch (const Error&) {
      return "";
    }
  }

  StopResult Result(StopOutcome o, std::string message, int64_t pid = 0) const { return {o, std::move(message), pid}; }

  // Nobody we can identify runs the job: "not running" if the lock is free, else a refusal.
  StopResult NoRecordedProcess(const std::string& why) const {
    if (!LockHeld()) return Result(StopOutcome::kNotRunning, fmt::format("job is not running: {}; nothing to stop", why));
    return Result(StopOutcome::kRefused,
                  fmt::format("{}, but a process holds {}/job.lock: it cannot be identified safely, so nothing was "
                              "signalled", why, job_dir));
  }

  StopResult Run(const StopOptions& opt) {
    std::string pid_path = job_dir + "/" + kPidFileName;
    if (!env->FileExists(pid_path) && LockHeld()) {
      // A run writes its pid file just after it takes the lock: give one that is starting a moment.
      for (int i = 0; i < 40 && !env->FileExists(pid_path); ++i) env->SleepSeconds(0.05);
    }
    if (!env->FileExists(pid_path)) return NoRecordedProcess(fmt::format("no pid file ({})", pid_path));
    std::string text, why;
    try {
      text = ReadFile(env, pid_path);
    } catch (const Error& e) {
      return Result(StopOutcome::kRefused, fmt::format("cannot read the pid file: {}", e.what()));
    }
    std::optional<PidFile> f = PidFile::Parse(text, &why);
    if (!f) return Result(StopOutcome::kRefused, fmt::format("{} is not a pid file ({}); nothing was signalled", pid_path, why));

    std::string host = env->HostName();
    if (f->host != host)
      return Result(StopOutcome::kRefused,
                    fmt::format("job runs on host '{}' (pid {}), this is '{}': run sluice stop there (pids of another "
                                "host mean nothing here); nothing was signalled", f->host, f->pid, host));
    std::string boot = env->BootId();
    if (!f->boot_id.empty() && !boot.empty() && f->boot_id != boot)
      return NoRecordedProcess(fmt::format("its process (pid {}) ran before this machine rebooted", f->pid));
    auto info = env->GetProcessInfo(f->pid);
    if (!info || Exited(*info))
      return NoRecordedProcess(fmt::format("its process (pid {}) is gone", f->pid));
    if (info->start_ticks != f->start_ticks)
      return NoRecordedProcess(fmt::format("its process (pid {}) is gone; that pid now belongs to another process "
                                           "(started at tick {}, the job's at tick {}), which was not signalled",
                                           f->pid, info->start_ticks, f->start_ticks));
    if (!LockHeld())
      return Result(StopOutcome::kNotRunning,
                    fmt::format("job is not running: process {} is alive but holds no lock on {}/job.lock; it was not "
                                "signalled", f->pid, job_dir));

    std::string who = fmt::format("sluice run (pid {}, run {}) of job {}", f->pid, f->run_id, f->job_id);
    int sig = opt.force ? SIGKILL : SIGTERM;
    if (int err = env->SignalProcess(f->pid, sig); err != 0) {
      if (err == ESRCH) return NoRecordedProcess(fmt::format("its process (pid {}) exited just now", f->pid));
      return Result(StopOutcome::kRefused, fmt::format("cannot signal {}: {}", who, std::strerror(err)), f->pid);
    }
    if (opt.force) {
      Note(fmt::format("sent SIGKILL to {} (--force)", who));
      WaitGone(*f, 10);
      return Result(StopOutcome::kStopped,
                    fmt::format("killed {} (--force): its state is as after a crash; resume it with the same --job_id", who), f->pid);
    }
    Note(fmt::format("sent SIGTERM to {}; waiting up to {}s for it to save its state and exit", who, opt.timeout_seconds));
    if (WaitGone(*f, opt.timeout_seconds)) {
      std::string status = SummaryStatus();
      if (status == "stopped")
        return Result(StopOutcome::kStopped, fmt::format("stopped {}: resume it with the same --job_id", who), f->pid);
      return Result(StopOutcome::kStopped,
                    fmt::format("{} exited; its job summary says '{}'", who, status.empty() ? "unknown" : status), f->pid);
    }
    Note(fmt::format("{} did not exit within {}s: sending SIGKILL", who, opt.timeout_seconds));
    if (int err = env->SignalProcess(f->pid, SIGKILL); err != 0 && err != ESRCH)
      return Result(StopOutcome::kRefused, fmt::format("cannot SIGKILL {}: {}", who, std::strerror(err)), f->pid);
    bool gone = WaitGone(*f, 10);
    return Result(StopOutcome::kKilled,
                  fmt::format("killed {} with SIGKILL after {}s{}: its state is as after a crash; resume it with the same "
                              "--job_id", who, opt.timeout_seconds, gone ? "" : " (it has not exited yet)"),
                  f->pid);
  }
};

}  // namespace

StopResult StopJob(Env* env, const std::string& job_dir, const StopOptions& opt,
                   const std::function<void(const std::string&)>& note) {
  std::string dir = job_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  bool is_job = false;
  for (const char* f : {"job.lock", kPidFileName, "events.jsonl", "job_summary.json", "metadata/dataset_mapping.json"})
    is_job = is_job || env->FileExists(dir + "/" + f);
  if (!is_job)
    Fail(ErrorKind::kInput, "'{}' is not a job directory: it has no job.lock, {}, events.jsonl, job_summary.json or "
         "metadata/dataset_mapping.json", job_dir, kPidFileName);
  Stopper s{env, dir, note};
  return s.Run(opt);
}

int StopExitCode(StopOutcome outcome) {
  switch (outcome) {
    case StopOutcome::kStopped: return 0;
    case StopOutcome::kKilled: return 1;
    case StopOutcome::kRefused: return 5;
    case StopOutcome::kNotRunning: return 7;
  }
  return 70;
}

}  // namespace sluice
