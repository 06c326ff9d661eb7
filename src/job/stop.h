// Stopping a running job (docs/monitoring.md): the pid file `sluice run` keeps while it holds the job,
// the signal handling that turns SIGTERM / SIGINT into a graceful stop, and `sluice stop`.
//
// <job_dir>/job.pid names the process that runs the job: pid, its start time (/proc/<pid>/stat field 22,
// clock ticks after boot) and the boot id (a reboot restarts the tick count and recycles every pid), host
// name, and the run's id. `sluice run` writes it atomically right after it takes job.lock and removes it
// before releasing the lock when it exits normally; a killed run leaves it behind, and StopJob then finds
// the process gone. StopJob signals a process only when it is the one recorded (same host, same boot, pid
// alive with the recorded start time) and the job lock is held; it never takes pids from the event log.
// All process access goes through Env (ProcessId, GetProcessInfo, HostName, BootId, SignalProcess).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "io/env.h"

namespace sluice {

inline constexpr const char* kPidFileName = "job.pid";

struct PidFile {
  int64_t pid = 0;
  uint64_t start_ticks = 0;
  std::string boot_id, host, run_id, job_id;
  double started_at = 0;  // epoch seconds, for people

  std::string ToJson() const;
  // nullopt, with the reason in *why, if `json` is not a pid file.
  static std::optional<PidFile> Parse(std::string_view json, std::string* why);
};

// The pid file of this process: written (atomically) by the constructor, removed by the destructor. Make
// one only while holding the job lock, and destroy it before releasing the lock.
class PidFileGuard {
 public:
  PidFileGuard(Env* env, const std::string& job_dir, const std::string& job_id, const std::string& run_id);
  ~PidFileGuard();
  PidFileGuard(const PidFileGuard&) = delete;
  PidFileGuard& operator=(const PidFileGuard&) = delete;

 private:
  Env* env_;
  std::string path_;
};

// While one exists, the first SIGTERM or SIGINT sets flag() (one atomic store: async-signal-safe) instead of
// ending the process; a second one ends it as the signal's default action would (a hard stop, as after a
// crash). The destructor restores the previous handlers. One at a time per process.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  const std::atomic<bool>& flag() const;
  int signal() const;  // the first signal received, 0 if none
};

const char* SignalName(int sig);  // "SIGTERM", "SIGINT", "SIGKILL", else "signal"

// Whether a process holds <job_dir>/job.lock, which `sluice run` holds for its whole life: a non-blocking
// attempt to take it, released at once (as `sluice snapshot` decides "running"). No job.lock: false.
bool JobLockHeld(Env* env, const std::string& job_dir);

struct StopOptions {
  double timeout_seconds = 30;  // after SIGTERM, wait this long before SIGKILL
  bool force = false;           // SIGKILL at once
};

enum class StopOutcome {
  kStopped,     // the process exited after SIGTERM (or was killed as --force asked)
  kKilled,      // it outlived the timeout and was SIGKILLed
  kNotRunning,  // nothing to stop: no process holds the job
  kRefused,     // a process may hold the job but cannot be signalled safely from here
};

struct StopResult {
  StopOutcome outcome = StopOutcome::kRefused;
  std::string message;  // one line for people
  int64_t pid = 0;      // the process signalled, 0 if none
};

// `sluice stop`. `note` gets the steps as they happen ("sent SIGTERM to ..."). Throws kInput if `job_dir` is
// not a job directory.
StopResult StopJob(Env* env, const std::string& job_dir, const StopOptions& opt,
                   const std::function<void(const std::string&)>& note = nullptr);
// 0 stopped, 1 killed after the timeout, 5 refused, 7 not running (docs/monitoring.md).
int StopExitCode(StopOutcome outcome);

}  // namespace sluice
