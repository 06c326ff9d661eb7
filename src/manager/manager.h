// The job manager's core (docs/manager.md): accepts jobs, decides when each runs, runs it through
// Processes, and records every transition in the Store before acting on it. One supervisor thread ticks
// (every `tick_seconds`, or at once when woken by a submit or cancel): it reaps ended attempts, escalates
// kills, enforces run timeouts, cancels jobs whose dependencies can no longer be satisfied, and admits
// pending jobs in priority order without over-committing the declared capacity. All state sits behind one
// mutex; API calls (from HTTP threads) take it briefly.
//
// Start() first reconciles what a previous daemon left: a RUNNING attempt whose process is alive with the
// recorded identity is re-adopted; one that ended while nobody watched is finished from its status file;
// one that vanished without a status is LOST and follows the retry policy; one that was never let run
// goes back to PENDING. The data directory is locked (flock) so two daemons never share it.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/env.h"
#include "manager/job_spec.h"
#include "manager/limits.h"
#include "manager/process.h"
#include "manager/scheduler.h"
#include "manager/store.h"

namespace sluice::manager {

struct ManagerOptions {
  std::string data_dir;   // state.db, server.lock, jobs/<id>/attempt-<n>.{stdout,stderr,status}
  Capacity capacity;      // what admission may hand out (GPUs: RunServer's ServerGpus)
  std::string sluice_exe; // the binary a pipeline job runs as `sluice run` (the daemon's own)
  JobLimits* limits = nullptr;  // enforces declared memory and cpus per attempt; nullptr: admission only
  double tick_seconds = 0.1;
  uint64_t seed = 0;      // jitter randomness; 0 = from std::random_device
  // Called before each read of a pipeline job's recipe for its export path after submit (a restart's
  // reconcile, once per distinct spec; a manual retry, once per job or array, without the manager's lock):
  // lets a test count them. Empty: nothing.
  std::function<void(const std::string& recipe)> on_recipe_read;
};

// The GPUs the server may hand out: Env::ListGpus (NVML) limited to the devices the daemon's own
// CUDA_VISIBLE_DEVICES leaves visible, in mask order; a device NVML gives no UUID for is left out (a job is
// given its GPUs by UUID). `note` receives why there are none (no NVML, an empty mask).
std::vector<GpuDevice> ServerGpus(Env* env, std::string* note);

// `id`: the job's, or an array's (its first task's), with its tasks' ids in index order in `task_ids`.
struct SubmitResult {
  int64_t id = 0;
  State state = State::kPending;
  std::string reason;
  std::vector<int64_t> task_ids;
};

enum class CancelResult { kNotFound, kAlreadyTerminal, kCancelled, kCancelling };

// Hold, release, retry: done, no such job, or refused in the job's state (`message` says why: HTTP 409).
struct ActionResult {
  enum { kDone, kNotFound, kConflict } status = kDone;
  std::string message;
};

enum class Verb { kCancel, kHold, kRelease, kRetry };

// An action on a whole array: how many tasks it has, how many the action applied to (the others were in a
// state it does not apply to), and of those how many are running and were asked to stop (cancel).
struct ArrayActionResult {
  int64_t tasks = 0, applied = 0, stopping = 0;
};

// What a reference names: no job, one job (a task named ID_K, or any plain id but an array's), or a whole
// array (the array's id).
struct Resolved {
  enum { kNone, kJob, kArray } kind = kNone;
  int64_t id = 0;
  int64_t size = 0;  // an array's tasks
};

// What admission has handed out (GET /v1/resources): the capacity, the sum that running jobs hold, and
// which job holds each GPU (by UUID).
struct ResourceUse {
  Capacity capacity;
  Capacity used;
  std::map<std::string, int64_t> gpu_holder;
};

class Manager {
 public:
  // Opens (or creates) the data directory and its database; throws Error(kState) if another daemon holds it.
  Manager(Env* env, Processes* procs, ManagerOptions opt);
  ~Manager();  // Stop()
  void Start();  // reconcile, then start the supervisor thread
  void Stop();   // stop the supervisor; running jobs keep running and are re-adopted by the next Start

  // Throws Error(kUsage) for a dependency on a job id that does not exist, or for a pipeline job directory
  // whose name (its sluice job id) another job's directory has (CheckSluiceJobId). A request larger than the
  // machine is recorded and returned as REJECTED with the reason. An array (spec.array) is one job per
  // index, committed together (all REJECTED if one would be). A dependency on an array is one on each of
  // its tasks.
  SubmitResult Submit(const JobSpec& spec);
  Resolved Resolve(const JobRef& ref);
  // `verb` applied in one transaction to every task of array `array_id` that is in a state it applies to.
  ArrayActionResult ArrayAction(Verb verb, int64_t array_id);
  // An array's view (docs/api.md): its spec, size, limit, counts by state, the aggregate state and every
  // task's state; nullopt if `array_id` is no array's id.
  std::optional<std::string> ArrayJson(int64_t array_id);
  CancelResult Cancel(int64_t id);
  ActionResult Hold(int64_t id);     // a PENDING job stays pending, not admitted, until released
  ActionResult Release(int64_t id);  // a held job is queued again (its queue timeout restarts)
  // A FAILED or CANCELLED job runs again under the same id: PENDING, a full retry budget, old attempts kept.
  ActionResult Retry(int64_t id);
  ResourceUse Usage();
  std::optional<std::string> JobJson(int64_t id);  // job, spec, dependencies, attempts
  std::string ListJson(const JobFilter& f);
  std::optional<JobRow> GetJob(int64_t id);
  // The log file of attempt `attempt` (0: the latest) of job `id`; nullopt if the job or attempt does not
  // exist. `stream` is "stdout" or "stderr" (the caller validates it). The file may not exist yet.
  std::optional<std::string> LogPath(int64_t id, int attempt, const std::string& stream);
  bool Ready();  // database writable and the supervisor ticked recently
  const Capacity& capacity() const { return opt_.capacity; }
  // Runs `f` with the store under the manager's lock: read-only queries for the API's event stream and
  // statistics, which must not interleave with the supervisor's transactions.
  void ReadStore(const std::function<void(Store&)>& f);

  void Tick();  // one supervisor pass (the thread calls it; tests may too)

 private:
  struct Running {
    int n = 0;
    std::vector<std::string> gpus;
    std::vector<int> cpus;     // pinned to (empty: not pinned)
    std::string launch_error;  // the attempt was stopped before its command ran
    ProcessIdentity id;
    bool own_child = true;  // false: re-adopted after a restart (not waitable)
    double started_at = 0;
    std::string kill_reason;
    double kill_sent_at = 0;
    bool sigkill_sent = false;
  };
  struct Active {
    JobRow row;
    JobSpec spec;
    std::vector<Dependency> deps;
    uint64_t deps_scanned_at = ~uint64_t{0};  // jobs_ended_ at the last scan of every dependency (none yet: ~0)
    std::optional<Running> run;
    std::string export_path;  // a pipeline job's export (PipelineExport; "" if unknown): one writer at a time
  };

  struct QueuedSubmit;
  void CommitSubmits(const std::vector<QueuedSubmit*>& batch);
  // Sluice job id → the explicit job directories of that name (normal) → the first job with that directory.
  using SluiceNames = std::map<std::string, std::map<std::string, int64_t>>;
  // Throws Error(kUsage) when explicit job directory `dir` (normal) would give its job the sluice job id of
  // another directory: one in sluice_names_ or in `pending` (the batch being committed), or a default one.
  void CheckSluiceJobId(const std::string& dir, const SluiceNames& pending);
  std::vector<Dependency> ResolveDeps(const std::vector<Dependency>& given);
  Resolved ResolveLocked(const JobRef& ref);
  // A checked action on one job: its change written to the store (inside the caller's transaction) and what
  // to change in memory once that has committed; or why it does not apply.
  struct Step {
    ActionResult result;
    bool stopping = false;  // a cancel of a running job: it was asked to stop
    std::function<void()> apply;
  };
  // `export_template`: a retry's (RetryExportTemplate), unused by the other verbs.
  Step Plan(Verb verb, int64_t id, double now, const std::string& export_template);
  // The recipe's export path (PipelineExportPath) that a retry of job `id`, or of every task of array `id`
  // (one spec), gives back: read once, before the caller takes the lock, since it is file I/O and an array
  // may have 10,000 tasks. "" for a job that is no pipeline or does not exist.
  std::string RetryExportTemplate(int64_t id);
  std::string ExportTemplate(const PipelineSpec& p);  // PipelineExportPath, observed (on_recipe_read)
  ActionResult Act(Verb verb, int64_t id, bool* stopping = nullptr);
  void Reconcile();
  // a.export_path from the recipe's export path `tmpl` (CheckPipeline's, ExportTemplate's).
  void SetExportPath(Active& a, const std::string& tmpl);
  void Launch(Active& a, std::vector<std::string> gpus, double now);
  std::vector<Holding> Holdings(std::vector<int64_t>* ids = nullptr);
  void RefreshGpuMemory();
  void Finish(Active& a, std::optional<ExitStatus> status, double now);
  std::string JobFilesDir(int64_t id) const;  // <data-dir>/jobs/<id>: logs, statuses; a job's default cwd
  std::string AttemptFile(int64_t id, int n, const char* ext) const;
  std::optional<DepState> DependencyState(int64_t dep_id);
  void Loop();

  Env* env_;
  Processes* procs_;
  ManagerOptions opt_;
  std::unique_ptr<FileLock> lock_;
  std::unique_ptr<Store> store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::mutex submit_mu_;  // the group commit queue (taken before mu_, never while holding it)
  std::condition_variable submit_cv_;
  std::vector<QueuedSubmit*> submit_queue_;
  bool committing_ = false;
  bool stop_ = false, wake_ = false;
  std::thread thread_;
  std::map<int64_t, Active> active_;       // every non-terminal job
  // The sluice job ids of explicit job directories that jobs (not REJECTED) hold; loaded at construction.
  SluiceNames sluice_names_;
  std::map<int64_t, DepState> finished_;   // terminal states seen (immutable but for a manual retry, which drops it)
  uint64_t jobs_ended_ = 0;                // jobs that reached a terminal state in memory so far (Tick's dependency scan)
  bool gpu_memory_wanted_ = false;  // a pending job asks for free GPU memory: refresh memory_free
  double gpu_probed_at_ = 0;        // monotonic seconds
  std::mt19937_64 rng_;
  double last_tick_ = 0;  // monotonic seconds
};

}  // namespace sluice::manager
