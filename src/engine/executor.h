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
  uint64_t rows_in = 0, rows_out = 0, bad_records = 0, null_text = 0;
  double seconds = 0;
};

struct JobReport {
  std::string status;  // completed | completed_with_failures | failed
  std::vector<PartitionReport> partitions;
  std::vector<OpTotals> ops;
  uint64_t rows_in = 0, rows_out = 0, bad_records = 0, null_text = 0;
  std::vector<std::string> export_files;
  std::vector<std::string> missing_ranges;  // "file:[begin,end)" of failed partitions
  std::string error;
  ErrorKind error_kind = ErrorKind::kJobFailed;
  double seconds = 0;
};

class Executor {
 public:
  Executor(Env* env, const Recipe& recipe, const Pipeline& pipeline, const Plan& plan, JobPaths paths,
           EventLog& events, int np);
  JobReport Run();

 private:
  struct Impl;
  Env* env_;
  const Recipe& recipe_;
  const Pipeline& pipeline_;
  const Plan& plan_;
  JobPaths paths_;
  EventLog& events_;
  int np_;
};

}  // namespace sluice
