// What a job manager job is (docs/manager.md, docs/api.md): the submitted spec (kind, argv, resources,
// dependencies, retry policy, timeouts, priority), its parse from the JSON body of `POST /v1/jobs` and its
// serialization (the spec is stored as this JSON in the jobs table, so what is stored is what was
// validated), the lifecycle states and dependency conditions. A spec that parses is complete: every
// default is filled in here, so the scheduler never guesses. Parsing never executes or deserializes code:
// a spec is data (argv strings, numbers, names).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::manager {

// Lifecycle: SUBMITTED → PENDING → RUNNING → COMPLETED | FAILED, plus CANCELLED and REJECTED. A job
// is SUBMITTED only inside the submit transaction (it leaves it before anyone can see it); a retry sends a
// RUNNING job back to PENDING with a backoff reason. COMPLETED, FAILED, CANCELLED, REJECTED are terminal.
enum class State { kSubmitted, kPending, kRunning, kCompleted, kFailed, kCancelled, kRejected };
const char* StateName(State s);
std::optional<State> ParseState(std::string_view name);  // "PENDING" (any case) → kPending
bool IsTerminal(State s);

// Slurm's dependency conditions. after: the dependency has started (or ended); afterany: it ended;
// afterok: it COMPLETED; afternotok: it FAILED or was CANCELLED.
enum class DepCondition { kAfter, kAfterAny, kAfterOk, kAfterNotOk };
const char* DepConditionName(DepCondition c);
std::optional<DepCondition> ParseDepCondition(std::string_view name);  // "afterok" or "ok", ...

struct Dependency {
  int64_t job = 0;
  DepCondition condition = DepCondition::kAfterOk;
};

struct Resources {
  double cpus = 1;                       // admission, and pinning to ceil(cpus) CPUs (manager/limits.h)
  bool cpus_given = false;               // the request named cpus (a pipeline's default is its recipe's np)
  uint64_t memory = 0;                   // bytes; also a hard limit where the server can (manager/limits.h)
  std::map<std::string, double> custom;  // named resources declared by `sluice server --resource`
  int gpus = 0;                          // whole devices, each given to this job alone (by UUID)
  uint64_t gpu_memory = 0;               // bytes each of its GPUs must have free when it starts
};

// Which failures a retry policy retries. "failed": non-zero exit or killed by a signal; "timeout": the
// run timeout expired; "lost": the process vanished while the daemon was down and left no exit status;
// "oom": the kernel killed it at its memory limit (where the server enforces limits).
struct RetryPolicy {
  int max_attempts = 1;  // attempts in all, the first included; 1 = no retry
  double backoff_initial = 1, backoff_multiplier = 2, backoff_max = 300, jitter = 0;  // seconds; jitter in [0,1]
  bool retry_failed = true, retry_timeout = true, retry_lost = true, retry_oom = true;
  std::vector<int> no_retry_exit_codes;
};

// A sluice recipe run as `sluice run` by the daemon's own binary. The job directory is fixed at submit
// (`job_dir`, or <data-dir>/jobs/<id>/run when empty), so every attempt resumes the same sluice job.
struct PipelineSpec {
  std::string recipe;   // absolute path of the recipe YAML (read again at each attempt)
  std::string job_dir;  // absolute; "" = <data-dir>/jobs/<id>/run
  std::vector<std::pair<std::string, std::string>> overrides;  // recipe keys, as `sluice run --key value`
};

struct JobSpec {
  std::string name;
  std::string kind = "command";   // "command" (argv, or one shell string with shell=true), "script" or "pipeline"
  std::vector<std::string> argv;  // what is executed (for kind script: interpreter, path, args); empty for a pipeline
  PipelineSpec pipeline;          // kind pipeline only
  bool shell = false;             // argv is {"/bin/sh", "-c", text}
  std::string cwd;                // "" = the daemon's data dir for the job
  std::map<std::string, std::string> env;  // added to the daemon's environment
  int priority = 0;               // higher runs first
  Resources resources;
  std::vector<Dependency> depends_on;
  RetryPolicy retry;
  double run_timeout = 0;   // seconds; 0 = none
  double queue_timeout = 0; // seconds a job may wait PENDING (not held, backoff excluded) before it is CANCELLED; 0 = none
  double kill_grace = 10;   // seconds between SIGTERM and SIGKILL on cancel and timeout

  std::string ToJson() const;
};

// Parses a submit body. Throws Error(kUsage) with a message naming the field on any malformed or
// wrongly typed field, unknown field, or out-of-range value (the API answers 400 with it). The variables the
// server sets itself (CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER, SLUICE_JOB_ID, SLUICE_ATTEMPT) are refused
// in `env`: a job gets GPUs only by requesting them, so admission's bookkeeping is what the job sees.
JobSpec ParseJobSpec(std::string_view json);

// "90", "90s", "5m", "2h", "1d", "250ms" → seconds; numbers pass through. Throws Error(kUsage).
double ParseDurationText(std::string_view text);
// "123", "512KiB", "16GiB", "1G" (powers of 1024 for both spellings), "1.5GB" → bytes. Throws Error(kUsage).
uint64_t ParseBytesText(std::string_view text);

}  // namespace sluice::manager
