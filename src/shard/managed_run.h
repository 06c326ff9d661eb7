// A shard directory run by the job manager instead of a local scheduler (`sluice shard --submit`): one
// array task per unfinished shard, each `sluice shard task OUT` (the task's array index is the shard's
// plan index), with the GPUs, retries and parallelism of the shard options, and a merge job
// (`sluice shard merge OUT`) that depends on every task. What was submitted is recorded in
// <out>/manager.json (atomic), written as soon as the array is accepted, so that no later run of the
// directory — local, submitted or merge — starts while those jobs may still run shards.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/env.h"
#include "shard/scheduler.h"

namespace sluice::shard {

struct ManagedRun {
  std::string server;               // as given to --server ("" = the client's default)
  int64_t array_id = 0;             // 0: every shard was already completed (only a merge job)
  std::vector<int> shards;          // plan indices = array task indices
  int64_t merge_id = 0;             // 0: --no-merge
  double submitted_at = 0;          // epoch seconds

  std::string ToJson() const;
};

// nullopt when `dir` has no manager.json; throws kState naming the file if it is not one.
std::optional<ManagedRun> ReadManagedRun(Env* env, const std::string& dir);

// Throws kState when `dir` was submitted and its array or merge job is not terminal yet (or the manager
// cannot be reached to tell): running or merging the directory now would run shards twice or merge too
// early. Passes in the recorded merge job itself ($SLUICE_JOB_ID), which runs after the array has ended.
void CheckManagedRunOver(Env* env, const std::string& dir, const ShardOptions& opt);

// Submits `shards` (plan indices; may be empty) as an array of `sluice_exe shard task dir` and, unless
// opt.no_merge, the merge job; records manager.json. Throws kUsage when the manager refuses a job.
ManagedRun SubmitManagedRun(Env* env, const std::string& dir, const ShardOptions& opt, const std::vector<int>& shards);

}  // namespace sluice::shard
