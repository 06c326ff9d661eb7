// Snapshot: the state of one job, computed from the files its runs wrote (docs/snapshot.md has every
// field, its meaning and its source; docs/snapshot.schema.json the JSON Schema of ToJson's output).
//
// TakeSnapshot reads, once each: the event log (events.jsonl, one pass, simdjson), the plan
// (metadata/dataset_mapping.json), job_summary.json, dag_execution_plan.json, and, unless told not to, the
// commit records of checkpoints and partition results (engine/commit.h LoadManifest / ReadManifest: a
// checkpoint counts only if its manifest belongs to the job's recipe and its data file matches it). It
// never writes to the job directory. Whether a process still runs the job is decided by the job lock
// (<job_dir>/job.lock, held by `sluice run` for its whole life): if a non-blocking attempt to take it
// succeeds, nobody runs the job, and a job whose log does not end in job_complete / job_failed was
// interrupted. It also reads a job directory written by DataJuicer's partitioned executor (both of its
// event schemas, its job_summary.json and processing summary), as far as that data allows: DataJuicer
// writes no commit records, so none of its checkpoints can be verified (docs/snapshot.md says what else
// differs).
//
// Errors: a missing or unreadable job directory, or one holding none of the files above, throws kInput
// naming the path. A malformed event line or a damaged summary does not stop the snapshot: it is skipped
// and named (file:line: cause) in `warnings`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/env.h"

namespace sluice {

struct SnapshotOptions {
  // Look at checkpoints and committed partition results on disk. Without it, the checkpoint counts,
  // coverage and `resumable` are not computed (`sluice jobs` lists many jobs and needs none of them).
  bool inspect_storage = true;
  // Hash every checkpoint and result as a resume does (LoadManifest's verify_data). Without it a
  // checkpoint is valid when its manifest is intact, belongs to this recipe and its data file has the
  // recorded size: what a torn or foreign file fails, at the cost of one small read per checkpoint.
  bool verify_checksums = false;
};

// The job as a whole.
enum class JobStatus { kNotStarted, kRunning, kCompleted, kCompletedWithFailures, kFailed, kInterrupted, kStopped };
// One partition, or one op on one partition.
enum class WorkStatus { kNotStarted, kInProgress, kCompleted, kFailed, kInterrupted };

const char* JobStatusName(JobStatus s);
const char* WorkStatusName(WorkStatus s);

struct OpProgress {
  std::string name;
  uint32_t idx = 0;
  WorkStatus status = WorkStatus::kNotStarted;
  std::optional<double> start_time, end_time, duration;  // duration: of the fused segment the op ran in
  std::optional<uint64_t> input_rows, output_rows;
  std::optional<double> checkpoint_time;  // set iff a valid checkpoint after this op exists
  std::string error_message;               // "" = none
};

struct PartitionProgress {
  WorkStatus status = WorkStatus::kNotStarted;
  std::optional<uint64_t> sample_count;  // input records
  std::optional<double> creation_start_time, creation_end_time, processing_start_time, processing_end_time;
  std::vector<OpProgress> ops;  // index = operation_idx
  std::string error_message;   // the latest failure of this partition, also if a later attempt succeeded
  uint32_t completed_ops = 0;
  uint32_t covered_ops = 0;  // ops a resume would not redo: all if its result is committed, else up to its best valid checkpoint
  double progress_percentage = 0;
};

struct Snapshot {
  std::string format;  // "sluice" or "datajuicer": who wrote the job directory
  // job_info
  std::string job_dir, job_id, executor_type, work_dir, resumption_command, error_message;
  std::vector<std::string> config_files;
  JobStatus status = JobStatus::kNotStarted;
  // progress
  uint64_t total_partitions = 0, completed_partitions = 0, failed_partitions = 0, in_progress_partitions = 0;
  uint64_t ops_per_partition = 0, total_operations = 0, completed_operations = 0, failed_operations = 0;
  double partition_percentage = 0, operation_percentage = 0, overall_percentage = 0;
  // timing
  std::optional<double> start_time, end_time, duration_seconds, job_summary_duration;
  std::string timing_source;  // "events", "job_summary", "processing_summary" or "" (none)
  // checkpointing
  std::string checkpoint_strategy;
  std::optional<double> last_checkpoint_time;
  bool storage_inspected = false;
  uint64_t checkpointed_operations = 0;  // valid checkpoints on disk
  uint64_t covered_operations = 0;
  double checkpoint_coverage = 0;
  bool resumable = false;
  std::vector<PartitionProgress> partitions;  // index = partition_id
  // file_paths
  std::string event_log_file, event_log_dir, checkpoint_dir, metadata_dir, backed_up_config_path;
  // metadata
  double generated_at = 0;
  uint64_t events_analyzed = 0;
  bool event_log_found = false;  // an event log file exists (false: event_logging.enabled: false, or the log is lost)
  bool dag_plan_loaded = false, job_summary_loaded = false, job_summary_used = false;
  std::vector<std::string> warnings;
};

Snapshot TakeSnapshot(Env* env, const std::string& job_dir, const SnapshotOptions& opt = {});

// The JSON document of `sluice snapshot` (the seed's structure; docs/snapshot.md). `pretty`: indented by
// two spaces, as DataJuicer's tool prints it; otherwise one line.
std::string ToJson(const Snapshot& s, bool pretty = true);
// The compact aligned text report of `sluice snapshot --human-readable`.
std::string ToText(const Snapshot& s);
// "4m 31s", "2h 0m 5s", "12s", "0.35s" (below 10 s, with hundredths).
std::string FormatDuration(double seconds);
// "2025-08-09 04:00:53 UTC"
std::string FormatTime(double epoch_seconds);

}  // namespace sluice
