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

// A job reference as clients write it: "ID", or "ID_K" for the task with array index K of array ID. A
// plain ID that is an array's id means the whole array (docs/manager.md "Array jobs").
struct JobRef {
  int64_t id = 0;
  int64_t index = -1;  // -1: no task named
  std::string ToString() const;
};
std::optional<JobRef> ParseJobRef(std::string_view text);  // nullopt unless "ID" or "ID_K" with ID >= 1, K >= 0

// `job` (with `index`) as submitted; the manager resolves it at submit into one entry per job: a dependency
// on an array becomes one on each of its tasks (so the conditions below apply task by task).
struct Dependency {
  int64_t job = 0;
  DepCondition condition = DepCondition::kAfterOk;
  int64_t index = -1;  // >= 0: the task with this array index of array `job`
};

// An array job (Slurm's --array): one task per index, each an ordinary job with the same spec.
// `spec` is the normalized text ("" = not an array), from which ParseArraySpec gives back the same array.
struct ArrayInfo {
  std::string spec;
  int64_t count = 0, min = 0, max = 0;  // tasks, lowest and highest index
  int64_t max_running = 0;              // the %M limit on tasks of the array running at once; 0 = none
};
inline constexpr int64_t kMaxArrayIndex = 1000000000;
inline constexpr int64_t kMaxArrayTasks = 10000;
inline constexpr size_t kMaxArraySpecBytes = 4096;  // normalized: each task's stored spec carries it
// "0-15", "1,3,5-7", "0-99:2%4": comma-separated items N, A-B or A-B:STEP, then optionally %M. Returns
// the indices ascending and fills `info`. Throws Error(kUsage) naming `field` and the bad item for an empty
// item, A > B, STEP < 1, M < 1, an index outside [0, 1e9], a duplicate, more than 10,000 tasks, or a
// normalized text longer than 4096 bytes. The normalized text lists maximal arithmetic runs of the sorted
// indices (three or more as A-B[:STEP], else single indices), then %M.
std::vector<int64_t> ParseArraySpec(std::string_view text, ArrayInfo* info, const std::string& field = "array");

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
// (`job_dir`, or a default one: PipelineJobDir, pipeline.h), so every attempt resumes the same sluice job.
struct PipelineSpec {
  std::string recipe;   // absolute path of the recipe YAML (read again at each attempt)
  std::string job_dir;  // absolute; "" = the default (PipelineJobDir)
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
  ArrayInfo array;          // count 0: a single job

  std::string ToJson() const;
};

// Parses a submit body. Throws Error(kUsage) with a message naming the field on any malformed or
// wrongly typed field, unknown field, or out-of-range value (the API answers 400 with it). The variables the
// server sets itself (CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER, SLUICE_JOB_ID, SLUICE_ATTEMPT, SLUICE_ARRAY_*)
// are refused in `env`: a job gets GPUs only by requesting them, so admission's bookkeeping is what the job sees.
// kSubmit (a client's body) also refuses what a job's process would get cut or misread: NUL bytes in
// strings it gets as C strings (name, cwd, env values, paths), a relative cwd, and a field given twice.
// kStored (a spec from the database) skips those checks: it was accepted by the daemon that wrote it.
enum class SpecSource { kSubmit, kStored };
JobSpec ParseJobSpec(std::string_view json, SpecSource source = SpecSource::kSubmit);

// "90", "90s", "5m", "2h", "1d", "250ms" → seconds; numbers pass through. Throws Error(kUsage).
double ParseDurationText(std::string_view text);
// "123", "512KiB", "16GiB", "1G" (powers of 1024 for both spellings), "1.5GB" → bytes. Throws Error(kUsage).
uint64_t ParseBytesText(std::string_view text);

}  // namespace sluice::manager
