// Running a command so that its end is never lost, even when the process that started it (the job
// manager's daemon, the shard scheduler: "the owner" below) is not there to see it.
//
// Spawn forks a small wrapper (no exec: a forked child that only makes async-signal-safe system calls),
// which becomes a session and process-group leader (setsid), then WAITS on a pipe. The owner records the
// wrapper's identity (pid + /proc start time + boot id) durably and only then writes the go byte
// (Release). If the owner dies before that, the wrapper reads EOF, writes the status "notstarted" and exits
// without running anything: a command runs only under a recorded identity.
// After the go byte the wrapper forks the command (argv, execve, stdout/stderr appended to the attempt's
// files, stdin /dev/null, every other inherited descriptor closed), ignores SIGTERM/SIGINT/SIGHUP itself so
// that a cancel's SIGTERM to the group reaches the command while the wrapper survives to record it, waits
// for the command and writes its exit status to <status file> atomically, as AtomicFile writes (temporary file
// "<status>.tmp-<pid>-0", fsync, rename, fsync of the directory).
// An owner restarted later reads that file for an attempt whose process it cannot waitpid (it is no longer
// its child); an attempt with neither a live process nor a status file was LOST (or SIGKILLed with the
// wrapper, which the owner knows when it sent the SIGKILL itself).
//
// Processes (identity, signals, reaping) is an interface so tests can substitute the OS.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/env.h"

namespace sluice {

struct LaunchRequest {
  std::vector<std::string> argv;
  std::string cwd;
  std::map<std::string, std::string> env;  // set on top of the owner's environment
  std::string stdout_path, stderr_path, status_path;
};

// The exit status a wrapper records (or the owner reaps).
struct ExitStatus {
  enum Kind { kExited, kSignaled, kNotStarted } kind = kExited;
  int value = 0;  // exit code or signal number
};

struct ProcessIdentity {
  int64_t pid = 0;
  uint64_t start_ticks = 0;
  std::string boot_id;
};

class Processes {
 public:
  virtual ~Processes() = default;
  // Forks the held wrapper. Throws Error(kOutput) if the log files cannot be opened or fork fails.
  // `go_fd` receives the write end of the go pipe (for Release).
  virtual ProcessIdentity Spawn(const LaunchRequest& req, int* go_fd) = 0;
  // Lets a spawned wrapper run its command (after its identity is durable), and closes go_fd.
  virtual void Release(int go_fd) = 0;
  // Whether the process `id` names is alive (same boot, same start time, not a zombie).
  virtual bool Alive(const ProcessIdentity& id) = 0;
  // For a child of this process: its status if it has exited (reaps it), else nullopt. nullopt also for a
  // process that is not our child (re-adopted after a restart): use Alive and the status file then.
  virtual std::optional<ExitStatus> Reap(int64_t pid) = 0;
  // Signals the process group `id` leads, only if its leader still has the recorded identity (alive, or
  // exited but not yet reaped: its pid, and so the group id, cannot be reused until it is reaped, which
  // lets an owner kill what a worker left in its group before reaping the wrapper). Returns whether a
  // signal was sent.
  virtual bool SignalGroup(const ProcessIdentity& id, int sig) = 0;
};

// The POSIX implementation; identity through env->GetProcessInfo and env->BootId.
class PosixProcesses : public Processes {
 public:
  explicit PosixProcesses(Env* env) : env_(env) {}
  ProcessIdentity Spawn(const LaunchRequest& req, int* go_fd) override;
  void Release(int go_fd) override;
  bool Alive(const ProcessIdentity& id) override;
  std::optional<ExitStatus> Reap(int64_t pid) override;
  bool SignalGroup(const ProcessIdentity& id, int sig) override;

 private:
  Env* env_;
};

// Reads a wrapper's status file: nullopt if it does not exist (or is torn, which the rename rules out).
// With the pid of its wrapper, which has ended, it also removes the temporary a wrapper killed while
// writing the file left (StatusTempName), and "<path>.tmp", the temporary of the wrappers of older sluice
// versions.
std::optional<ExitStatus> ReadStatusFile(const std::string& path, int64_t wrapper_pid = 0);

// The temporary through which wrapper `pid` writes the status file `path`: "<path>.tmp-<pid>-0", formatted by
// AtomicFile's FormatTemporaryName (io/atomic_file.h), so RemoveAbandonedTemporaries recognises it too.
// Written to `out` (terminated); returns its length, 0 if it does not fit in `cap` or pid is not positive.
// Async-signal-safe (the wrapper calls it after fork).
size_t StatusTempName(const char* path, int64_t pid, char* out, size_t cap);

// The path of this process's binary (the target of /proc/self/exe), for commands that run sluice again
// later (a pipeline job, a shard array task); "/proc/self/exe" itself if the link cannot be read.
std::string SelfExecutablePath();

}  // namespace sluice
