// The job manager's durable state: one SQLite database (<data-dir>/state.db) with the tables jobs,
// attempts, deps and events (schema in store.cc, described in docs/manager.md). Every method that changes
// state is one transaction that has committed (fsynced: WAL with synchronous=FULL) when it returns, so the
// caller acts (spawns, signals, answers a client) only on what a crash cannot undo. Each job state change
// appends a row to events in the same transaction.
//
// Not thread-safe: the manager serializes all calls under its lock. Throws Error(kOutput) when the
// database cannot be opened or written, Error(kState) for a schema from a newer sluice.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "manager/job_spec.h"

struct sqlite3;

namespace sluice::manager {

struct JobRow {
  int64_t id = 0;
  std::string name;
  std::string spec_json;  // JobSpec::ToJson of the accepted spec
  State state = State::kSubmitted;
  std::string reason;
  int priority = 0;
  double submitted_at = 0, updated_at = 0;
  int attempts = 0;        // attempt rows so far (the current one included while RUNNING)
  double not_before = 0;   // epoch seconds: a retry's backoff ends here
  bool cancel_requested = false;
  std::optional<int> exit_code, signal;  // of the last attempt that ended
  bool held = false;       // PENDING but not admitted until released
  double queued_at = 0;    // when it last entered the queue (submit, retry, release): the queue timeout's start
  int retry_base = 0;      // attempts before its last manual retry (the retry policy counts from there)
  int64_t array_id = 0;    // an array's task: the array's id (its first task's); 0 for a single job
  int64_t array_index = 0; // an array's task: its index
};

// An attempt: LAUNCHING (row written, process not yet known), RUNNING (pid + start time recorded), ENDED.
struct AttemptRow {
  int64_t job_id = 0;
  int n = 0;  // 1-based
  std::string state;
  int64_t pid = 0;           // the attempt's wrapper process, leader of its process group
  uint64_t start_ticks = 0;  // /proc/<pid>/stat start time: with boot_id, the process's identity
  std::string boot_id;
  double started_at = 0, ended_at = 0;
  std::string outcome;       // completed, failed, timeout, lost, cancelled ("" while not ended)
  std::optional<int> exit_code, signal;
  std::string kill_reason;   // "cancel" or "timeout" once the manager decided to stop it
  double kill_sent_at = 0;   // when SIGTERM was sent (SIGKILL follows after the grace period)
  std::vector<std::string> gpus;  // UUIDs of the GPUs it was given (its CUDA_VISIBLE_DEVICES)
  std::vector<int> cpus;          // CPUs it was pinned to (empty: not pinned)
};

struct JobFilter {
  std::optional<State> state;
  std::string name;       // exact match; "" = any
  int64_t array_id = 0;   // > 0: only the tasks of this array
  int64_t after_id = 0;   // ids greater than this (pagination)
  int limit = 100;
};

class Store {
 public:
  explicit Store(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inserts a job in state `state` (PENDING or REJECTED) with its dependencies `deps`, resolved to job ids
  // by the manager (the spec's own depends_on may name an array or an array's task: it is not used here),
  // recording the SUBMITTED event and the one for `state`. Returns its id.
  int64_t Submit(const JobSpec& spec, State state, const std::string& reason, double now, const std::vector<Dependency>& deps);
  // An array (spec.array): one job per index, in one transaction, with consecutive ids in index order, each
  // with the spec and dependencies, array_id the first one's id. Returns the ids.
  std::vector<int64_t> SubmitArray(const JobSpec& spec, const std::vector<int64_t>& indices, State state, const std::string& reason,
                                   double now, const std::vector<Dependency>& deps);
  // Changes a job's state and reason (no attempt involved: PENDING reason updates, CANCELLED while pending).
  void SetState(int64_t id, State state, const std::string& reason, double now);
  // Only the reason (a pending job's "waiting for ..." text): no event, since the state did not change.
  void SetReason(int64_t id, const std::string& reason);
  void SetCancelRequested(int64_t id);

  // PENDING → RUNNING with a new LAUNCHING attempt holding `gpus` and pinned to `cpus`; returns its number.
  int BeginAttempt(int64_t id, double now, const std::vector<std::string>& gpus = {}, const std::vector<int>& cpus = {});
  // The attempt's process exists: records its identity (LAUNCHING → RUNNING).
  void RecordLaunch(int64_t id, int n, int64_t pid, uint64_t start_ticks, const std::string& boot_id);
  // An attempt whose command never started (the daemon died before letting it run): removed, and the job
  // goes back to PENDING with `reason`, as if it had not been admitted.
  void DropAttempt(int64_t id, int n, const std::string& reason, double now);
  void RecordKill(int64_t id, int n, const std::string& kill_reason, double now);
  // Hold (PENDING, not admitted) or release (queued again from `now`) a pending job, with an event.
  void SetHeld(int64_t id, bool held, const std::string& reason, double now);
  // A manual retry of an ended job: PENDING again, not held, no backoff, queued from `now`, and the retry
  // policy's attempt count restarts after the attempts so far (they keep their rows).
  void Requeue(int64_t id, const std::string& reason, double now);
  // Ends attempt n with `outcome` and moves the job to `job_state` (PENDING for a retry, with not_before).
  void EndAttempt(int64_t id, int n, const std::string& outcome, std::optional<int> exit_code, std::optional<int> signal,
                  State job_state, const std::string& reason, double not_before, double now);

  std::optional<JobRow> GetJob(int64_t id);
  std::vector<JobRow> ListJobs(const JobFilter& f);
  std::vector<JobRow> ActiveJobs();  // not terminal, oldest first
  std::vector<JobRow> ArrayTasks(int64_t array_id);  // in index order; empty if `array_id` is no array's id
  std::vector<int64_t> ArrayTaskIds(int64_t array_id);  // the same tasks' ids only (no spec or row to read)
  std::optional<JobRow> ArrayTask(int64_t array_id, int64_t index);
  // (id, pipeline.job_dir as given) of every job but REJECTED ones whose spec names a job directory, by id.
  std::vector<std::pair<int64_t, std::string>> PipelineJobDirs();
  int64_t ArraySize(int64_t array_id);  // its tasks; 0 if `array_id` is no array's id
  std::vector<AttemptRow> Attempts(int64_t id);
  std::vector<Dependency> Deps(int64_t id);
  std::vector<int64_t> Dependents(int64_t id);  // jobs that depend on `id`
  // Events after sequence number `after` (for the API and tests): {seq, ts, job, state, reason}.
  struct Event {
    int64_t seq = 0;
    double ts = 0;
    int64_t job_id = 0;
    std::string state, reason;
  };
  // `job` > 0: only that job's events (indexed).
  std::vector<Event> Events(int64_t after, int limit, int64_t job = 0);
  int64_t LastEventSeq();  // 0 when there are none
  // Aggregates over the history for /v1/stats and /metrics (src/manager/stats.h computes the rest).
  struct Aggregates {
    std::map<std::string, int64_t> jobs_by_state;  // every state that has jobs
    int64_t attempts_total = 0;
    std::vector<int64_t> submitted_since;  // jobs submitted at or after each of the `submit_windows` instants
    std::vector<double> queue_waits;       // first attempt's start − submit, for first attempts started ≥ since (`durations` only)
    std::vector<double> run_times;         // end − start of attempts that ended ≥ since (`durations` only)
    double gpu_seconds = 0;                // declared GPUs × run time (a running attempt counts up to `now`), clipped to ≥ since
  };
  Aggregates Aggregate(double since, double now, const std::vector<double>& submit_windows, bool durations);
  // A write transaction that changes nothing: the database is writable (for /readyz).
  bool Writable();

  // BEGIN IMMEDIATE ... COMMIT, rolled back if left by an exception. Nested ones join the outermost, so
  // a caller can group many changes (a batch of submits, a tick's reason updates) into one commit: one
  // fsync. Nothing inside is durable until the outermost Commit returns.
  class Txn {
   public:
    explicit Txn(Store* s);
    ~Txn();
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    void Commit();

   private:
    Store* s_;
    bool done_ = false;
  };

 private:
  class Stmt;
  void Exec(const char* sql);
  void AddEvent(int64_t id, State state, const std::string& reason, double now);
  std::vector<int64_t> Insert(const JobSpec& spec, const std::vector<Dependency>& deps, const std::vector<int64_t>* indices, State state,
                              const std::string& reason, double now);
  sqlite3* db_ = nullptr;
  int txn_depth_ = 0;
  std::string path_;
};

}  // namespace sluice::manager
