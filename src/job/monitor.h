// `sluice monitor JOB_DIR`: follows a job while it runs (docs/monitoring.md).
//
// A snapshot (job/snapshot.h) is taken once at the start, which checks that JOB_DIR is a job directory and
// names its event log, and once at the end, whose status decides the exit code. In between, JobFollower
// reads only the bytes appended to events.jsonl since the previous interval (a snapshot reads the whole
// log each time: docs/benchmarks.md, "Monitor") and keeps, per stage, which partitions are done and the
// rows that entered the stage; per partition whether it is running, failed, or needed a retry; and the work
// done by the latest run, for its rates and ETA. Rates are input rows and bytes (from the plan) of the
// partitions the latest run took through the first stage, per second of that run. For the ETA a
// (partition, stage) is worth the partition's input bytes: what is left of that work at the run's rate so
// far. Whether the job still runs is the job lock (as for `sluice snapshot`).
//
// A job without an event log (event_logging.enabled: false) has nothing to follow: its counts are then the
// snapshot's (Seed), taken again at each interval, and it has no rates or ETA.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "io/env.h"
#include "job/snapshot.h"

namespace sluice {

struct FollowState {
  std::string job_id;
  uint64_t total_partitions = 0;
  struct Stage {
    uint64_t done = 0;  // partitions through the stage (committed by any run)
    uint64_t rows = 0;  // rows that entered the stage in those partitions
  };
  std::vector<Stage> stages;
  uint64_t in_progress = 0, failed = 0, retried = 0;  // partitions: being processed, failed for good, retried at least once
  bool has_bytes = false;                          // the plan gave partition sizes
  double elapsed = 0;                              // of the latest run, until now or its end
  double rows_per_second = 0, bytes_per_second = 0;  // input through the first stage, latest run
  std::optional<double> eta_seconds;
  bool ended = false;        // the latest run is over
  bool from_events = true;  // false: no event log, the counts are a snapshot's and there are no rates
};

class JobFollower {
 public:
  // The event log, job id and partition count come from `s`; partition sizes from the plan and stages from
  // dag_execution_plan.json, when the job has them.
  JobFollower(Env* env, const Snapshot& s);
  // Applies the complete event lines appended since the last call (all of them the first time). A log
  // that shrank (replaced) is read again from its start. False when there is no event log (file).
  bool Poll();
  // Without an event log: the state is the snapshot's partitions (a completed one is through every stage,
  // its input rows entered the first; a failed one failed for good) and the elapsed time its duration.
  // Replaced by the log's events once Poll finds the log.
  void Seed(const Snapshot& s);
  // The state at `now`; `running`: a process runs the job (else nothing is in progress and the latest run
  // ended at its last event).
  FollowState State(double now, bool running) const;
  uint64_t bytes_read() const { return offset_; }

 private:
  enum class Part : uint8_t { kIdle, kRunning, kFailed };
  void Reset();
  void Grow(size_t p);
  void StopRunning();  // the run ended: no partition is being processed
  bool MarkDone(size_t k, size_t p);  // partition p through stage k; false if it already was
  void SetState(size_t p, Part s);
  void Apply(std::string_view line);
  uint64_t Weight(size_t p) const { return p < weights_.size() ? weights_[p] : 1; }

  Env* env_;
  std::string job_id_, path_;
  uint64_t total_partitions_ = 0;
  std::vector<uint64_t> weights_;      // per partition: input bytes (empty: unknown, 1 each)
  std::vector<size_t> stage_first_op_;  // per stage; SIZE_MAX for a stage without ops
  std::vector<int> stage_of_op_;
  bool from_events_ = true;                // false while the state is a snapshot's (Seed)
  std::optional<double> seeded_elapsed_;  // the snapshot's duration
  uint64_t offset_ = 0;
  std::string carry_;  // an incomplete last line
  // Per incarnation (a job_start that is not a resume starts over).
  std::vector<std::vector<uint8_t>> done_;   // [stage][partition]
  std::vector<std::vector<uint64_t>> rows_;  // [stage][partition]
  std::vector<FollowState::Stage> stage_totals_;
  std::vector<Part> part_;
  std::vector<uint8_t> retried_;
  uint64_t running_ = 0, failed_ = 0, retried_count_ = 0;
  // The latest run.
  std::optional<double> run_start_, run_end_, last_ts_;
  uint64_t run_work_ = 0;             // (partition, stage) units done, by weight: the ETA
  uint64_t run_bytes_ = 0, run_rows_ = 0;  // input of the partitions through stage 0: the rates
};

struct MonitorOptions {
  double interval_seconds = 2;
  bool once = false;  // one report of the current state, then exit
};

// Follows the job until it ends (or reports once) and returns the exit code: 0 completed (and, with
// --once, running), 1 failed or completed with failures, 6 stopped, 7 interrupted or never started. On a
// terminal (`out_fd`), a block with a bar per stage redrawn in place; otherwise one line per interval.
// Throws kInput if `job_dir` is not a job directory.
int MonitorJob(Env* env, const std::string& job_dir, const MonitorOptions& opt, std::FILE* out, int out_fd);
int MonitorExitCode(JobStatus s);

// The report of `sluice monitor`: one key=value line, or the block for a terminal `columns` wide.
std::string MonitorLine(const FollowState& f, JobStatus status, double now);
std::string MonitorBlock(const FollowState& f, JobStatus status, int columns);

}  // namespace sluice
