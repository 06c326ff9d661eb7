// `sluice shard`: runs a worker command once per key range of a table, on GPU groups, resumably, and
// merges the results (docs/shard.md). One scheduler per output directory (<out>/.lock, flock).
//
// Or as a job-manager array (--submit): the submitter plans and records the shards like a local run, then
// submits one array task per unfinished shard (`sluice shard task OUT`, which runs that one shard on the
// GPUs the manager gave it) and a merge job (`sluice shard merge OUT`) that depends on every task. Tasks
// hold <out>/.lock shared and their shard's own lock exclusively, so they run side by side but never
// beside a local scheduler, a submitter or a merge, which hold .lock exclusively.
//
// The run: plan (shard/plan.h; refused if plan.json disagrees with --num-workers, the key or the input,
// unless --replan), reconcile every shard's state file with what really happened (shard/state.h), then a
// slot pool: up to --max-parallel-workers workers at once, each started as soon as a slot and its GPUs
// are free (no batch barrier), each in its own process group under the recording wrapper of
// io/process.h, its stdout and stderr appended to logs/shard_<low>_<high>.attempt<k>.log (a file, so a
// worker never blocks on its output whatever the scheduler does) which the scheduler echoes with a
// "[low-high) " prefix unless quiet. When a worker's wrapper exits, what is left of its process group is
// killed before the wrapper is reaped (so grandchildren release their GPUs). A failed worker runs again
// after a backoff (base x 2^(attempt-1), at most 300 s) until --max-attempts attempts in this run.
// SIGINT/SIGTERM: no new worker starts; every worker's group gets SIGTERM, SIGKILL after --kill-grace;
// they are recorded cancelled, and the exit code is 128 + the signal (during the merge the signal's own
// disposition applies: it ends the process at once, and the next run merges). A worker that exits 0 has completed
// its shard only if its result holds exactly the input's keys of the range (VerifyResult, shard/merge.h)
// and the input is still the planned one (checked after every worker and before the merge; once it
// changed no new attempt starts). When every shard is completed the results are merged (shard/merge.h).
// A run or merge starts by removing the temporaries of writers that died (a SIGKILLed scheduler's), and
// checks that the merged table can be written before any worker starts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/env.h"
#include "shard/key.h"

namespace sluice::shard {

// The longest delay before a retry of a shard, here and in a submitted array's retry policy.
inline constexpr double kMaxBackoffSeconds = 300;

struct ShardOptions {
  std::string input, key_column, output_dir;
  std::optional<KeyType> key_type;  // nullopt: decided by the first key
  int num_workers = 0;
  int gpus_per_worker = 1;
  double min_gpu_memory_gib = 10;
  int max_parallel_workers = 8;
  bool quiet = false;
  int max_attempts = 3;
  double retry_backoff_seconds = 5;  // the first retry's delay; doubles per attempt
  double kill_grace_seconds = 10;
  double gpu_wait_max_seconds = 30;  // the longest wait between two GPU checks
  std::vector<std::string> worker_argv;  // template: {low} {high} {shard} {out} {input} {output_dir}
  std::string result_pattern = "generation_results_data_{low}_to_{high}_real.csv";  // relative to output_dir
  std::string merged_output;  // default <output_dir>/generation_results_data_all_real_merged.<ext>
  bool replan = false, allow_partial = false, dry_run = false, no_merge = false;
  size_t merge_run_bytes = 64 << 20;
  // --submit: run the shards as a job-manager array instead of here (server "" = the client's default).
  bool submit = false;
  std::string server, token_file;
};

// Returns 0 every shard completed (and merged); 1 a shard failed (or the merge was refused); 128 + signal
// when interrupted. Everything else is thrown as sluice::Error, whose kind gives the exit code (docs/shard.md):
// kUsage 2 (bad options, GPUs that can never serve a worker), kInput/kData 3 (bad input table or result),
// kOutput 4 (cannot write OUT), kState 5 (refused plan, directory in use), kInternal 70. A run refused before
// any work writes nothing: a new OUT is planned and the GPUs checked before OUT is created.
int RunShards(Env* env, const ShardOptions& opt, std::FILE* out, std::FILE* err);

// `sluice shard task OUT [--shard I]`: runs one shard of a submitted directory (I, else
// $SLUICE_ARRAY_TASK_ID) with the options args.json recorded: one attempt (the manager retries), on the
// GPUs this process inherited. 0 when the shard is completed (also when it already was), 1 when it failed,
// 128 + signal when stopped; a directory in use or a shard another task runs: Error(kState).
int RunShardTask(Env* env, const std::string& output_dir, std::optional<int> shard, std::FILE* out, std::FILE* err);

// `sluice shard merge OUT`: merges a directory's completed shards as the end of a run does (0 merged, 1
// refused for missing or failed shards). `allow_partial` adds to what args.json recorded. Error(kState)
// while a submission recorded in manager.json may still run shards (but in that submission's merge job).
int MergeShardDir(Env* env, const std::string& output_dir, bool allow_partial, std::FILE* out, std::FILE* err);

// args.json (also the "args" of scheduler_config.json): the options a directory is run with, so that its
// array tasks and merge use exactly those. One list of fields serves both directions. Parse requires every
// field and sets output_dir to `dir`, where the directory is now; it throws Error(kState) naming `path`
// and the field that is missing or mistyped.
std::string ShardOptionsJson(const ShardOptions& opt);
ShardOptions ParseShardOptions(std::string_view json, const std::string& dir, const std::string& path);

// The process's working directory (getcwd): what relative paths on the command line mean. Throws kInternal.
std::string WorkingDirectory();

// `sluice shard status OUT`: the per-shard table of a directory (whether a scheduler holds it, each shard's
// status, attempt, GPUs, pid, exit, result rows, log). Returns 0.
int PrintStatus(Env* env, const std::string& output_dir, std::FILE* out);

}  // namespace sluice::shard
