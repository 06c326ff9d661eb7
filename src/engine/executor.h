// Executor: runs a planned job to completion (or failure) and produces its export.
//
// Work unit = (partition, stage). `np` threads take partitions from a queue; a partition streams through
// the stage's ops in one fused pass per segment, where segments end at checkpoint points. Everything a
// later run may reuse is committed with the same protocol: data file written under a temporary name,
// fsynced, renamed; then its manifest (row counts, per-op counters, XXH3 of the file, recipe hash) is
// written the same way. The manifest is the commit record: a data file without a valid manifest, or whose
// checksum disagrees with it, is ignored (and reported). Claims use a per-partition flock, so several
// processes can share one job directory. A single-file export is written in partition order while the last
// stage runs (engine/export_journal.h); a sharded one is cut from the partition result files at the end.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/recipe.h"
#include "engine/event_log.h"
#include "engine/plan.h"
#include "io/env.h"
#include "ops/pipeline.h"

namespace sluice {

// The longest input line a job reads (bytes): MaxRecordBytes() (core/record.h, the parser's limit) unless
// the environment's SLUICE_MAX_RECORD_MB asks for less; a bad value throws kUsage. A line is held whole in
// memory, several times over (docs/partitioning.md), so this bounds what one line without a break, e.g. a
// decompression bomb, can take before the job fails naming file and line.
uint64_t MaxRecordBytesSetting(Env* env);

// Reads the environment's settings the Executor reads (SLUICE_MAX_RECORD_MB, SLUICE_DEDUP_MEMORY_MB); a bad
// value throws kUsage. `sluice run` calls it first, so that a bad value is refused before anything is created
// on disk (a job directory, the export's directory).
void CheckEnvironmentSettings(Env* env);

struct JobPaths {
  std::string job_dir;
  std::string checkpoint_dir;  // per-op checkpoints, stage outputs and dedup keys
  std::string results_dir;     // committed partition results
  std::string metadata_dir;
  std::string quarantine_dir;
  std::string locks_dir;
  std::string export_path;
  std::string export_journal;  // the export while it is being written (engine/export_journal.h)
};

struct OpTotals {
  std::string name;
  uint64_t in = 0, out = 0, errors = 0;  // dropped by the op = in - out; errors are a subset of dropped
};

struct PartitionReport {
  enum class Status { kPending, kCompleted, kFailed } status = Status::kPending;
  int attempts = 0;
  bool reused = false;  // committed by an earlier run
  std::string error;
  ErrorKind error_kind = ErrorKind::kJobFailed;
  bool aborted = false;  // failed only because another partition's failure aborted the job
  uint64_t rows_in = 0, rows_out = 0, bad_records = 0, null_text = 0;
  double seconds = 0;
};

struct JobReport {
  std::string status;  // completed | completed_with_failures | failed | stopped
  std::vector<PartitionReport> partitions;
  std::vector<OpTotals> ops;
  uint64_t rows_in = 0, rows_out = 0, bad_records = 0, null_text = 0;
  std::vector<std::string> export_files;
  std::vector<std::string> missing_ranges;  // "file:[begin,end)" of failed partitions
  std::vector<size_t> abandoned;  // stopped: partitions that were being processed, ascending
  std::string stop_reason;        // stopped: what asked ("SIGTERM"), set by the caller
  std::string error;
  ErrorKind error_kind = ErrorKind::kJobFailed;
  double seconds = 0;
};

// Live counters of a running job for a progress display (job/progress.h): workers add to them with relaxed
// atomics at partition boundaries and every few thousand input records; any thread may read them.
struct JobProgress {
  std::atomic<uint64_t> partitions{0}, stages{0};  // totals
  std::atomic<uint64_t> stage{0};                  // the stage being run
  std::atomic<uint64_t> stage_done{0};             // partitions through that stage (reused ones included)
  std::atomic<uint64_t> done{0};                   // partitions with a committed result (reused ones included)
  std::atomic<uint64_t> failed{0}, retried{0};     // partitions failed for good; attempts that failed and are retried
  std::atomic<uint64_t> rows{0}, bytes{0};         // input lines and bytes read by this run
  // For an ETA: a (partition, stage) is worth the partition's input bytes. work_total is what this run has
  // to do (work found committed, or failed for good, is taken off), work_done what it did so far.
  std::atomic<uint64_t> work_total{0}, work_done{0};
};

class Executor {
 public:
  Executor(Env* env, const Recipe& recipe, const Pipeline& pipeline, const Plan& plan, JobPaths paths,
           EventLog& events, int np);
  JobReport Run();
  // A flag that, once true, stops Run (set by a signal handler, job/stop.h): no partition is started, a
  // partition being processed abandons the segment it is in without committing it (its committed
  // checkpoints stay), no retry waits, no global decision or later stage starts, and Run returns status
  // "stopped" with the partitions it abandoned. A stop after every result is committed lets the export finish.
  void SetStopFlag(const std::atomic<bool>* stop) { stop_ = stop; }
  const JobProgress& progress() const { return progress_; }

 private:
  struct Impl;
  Env* env_;
  const Recipe& recipe_;
  const Pipeline& pipeline_;
  const Plan& plan_;
  JobPaths paths_;
  EventLog& events_;
  int np_;
  const std::atomic<bool>* stop_ = nullptr;
  JobProgress progress_;
};

}  // namespace sluice
