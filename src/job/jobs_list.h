// `sluice jobs`: the jobs under a work directory, one line (or JSON object) each.
//
// A job directory is a direct subdirectory of the work directory (or the work directory itself, when a
// recipe's work_dir ends in {job_id}) holding what a run writes first: job.lock, events.jsonl,
// job_summary.json or metadata/dataset_mapping.json (DataJuicer's events_<ts>.jsonl too). Each is read
// with TakeSnapshot (job/snapshot.h) without inspecting checkpoints, so its status, including
// running / interrupted from the job lock, is the one `sluice snapshot` reports.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "io/env.h"
#include "job/snapshot.h"

namespace sluice {

struct JobListing {
  std::string job_id, job_dir, status, executor_type;
  double progress_percentage = 0;
  uint64_t total_partitions = 0, completed_partitions = 0, failed_partitions = 0;
  std::optional<double> start_time, end_time, duration_seconds;
};

// Newest first (by start time; jobs that never started last, by id). Throws kInput if `work_dir` is not
// a readable directory. A job directory that cannot be read is left out and named in `warnings`.
std::vector<JobListing> ListJobs(Env* env, const std::string& work_dir, bool running_only, std::vector<std::string>* warnings);

std::string JobsToJson(const std::vector<JobListing>& jobs);
// Aligned columns: JOB_ID STATUS PROGRESS PARTITIONS STARTED DURATION.
std::string JobsToText(const std::vector<JobListing>& jobs);

}  // namespace sluice
