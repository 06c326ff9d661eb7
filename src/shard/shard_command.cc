#include "shard/shard_command.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "shard/scheduler.h"

namespace sluice::shard {

int ShardCommand(Env* env, std::vector<std::string> args) {
  ShardOptions opt;
  // The worker command is everything after the first `--`, never parsed as options.
  auto dashes = std::find(args.begin(), args.end(), "--");
  if (dashes != args.end()) {
    opt.worker_argv.assign(dashes + 1, args.end());
    args.erase(dashes, args.end());
  }
  CLI::App app{"Split a table into key ranges, run a worker command per range on GPU groups, resume what is unfinished, "
               "merge the results with proof of coverage (docs/shard.md)",
               "sluice shard"};
  app.add_option("--input", opt.input, "input table: .csv, .tsv or .jsonl");
  app.add_option("--key", opt.key_column, "key column (e.g. data_id)");
  app.add_option("--output-dir", opt.output_dir, "state, logs, results and the merged table go here");
  app.add_option("--num-workers", opt.num_workers, "number of key ranges (shards)");
  std::string key_type = "auto";
  app.add_option("--key-type", key_type, "auto (an integer first key: int), int (numeric order) or string (byte order)")
      ->check(CLI::IsMember({"auto", "int", "string"}));
  app.add_option("--gpus-per-worker", opt.gpus_per_worker, "GPUs per worker (default 1; 0 runs CPU workers)");
  app.add_option("--min-gpu-memory", opt.min_gpu_memory_gib, "GiB a GPU must have free to be given to a worker (default 10)");
  app.add_option("--max-parallel-workers", opt.max_parallel_workers, "workers running at once (default 8)");
  auto* quiet = app.add_flag("--quiet", opt.quiet, "do not echo worker output (it still goes to the log files)");
  bool show = false;
  app.add_flag("--show-worker-output", show, "echo worker output with a [low-high) prefix (the default)")->excludes(quiet);
  app.add_option("--max-attempts", opt.max_attempts, "attempts per shard in one run (default 3)");
  app.add_option("--retry-backoff", opt.retry_backoff_seconds, "seconds before the first retry, doubling per attempt (default 5)");
  app.add_option("--kill-grace", opt.kill_grace_seconds, "seconds between SIGTERM and SIGKILL when stopping workers (default 10)");
  app.add_option("--result-pattern", opt.result_pattern,
                 "each shard's result file, relative to --output-dir; {low} {high} {shard} (default "
                 "generation_results_data_{low}_to_{high}_real.csv)");
  app.add_option("--merged-output", opt.merged_output,
                 "the merged table, relative to the working directory (default "
                 "OUT/generation_results_data_all_real_merged.<ext of --result-pattern>)");
  app.add_flag("--replan", opt.replan, "allow a new plan when --num-workers or the input changed: keep completed shards, split the rest");
  app.add_flag("--allow-partial", opt.allow_partial, "merge the completed shards even if some failed");
  app.add_flag("--no-merge", opt.no_merge, "do not merge the results");
  app.add_flag("--dry-run", opt.dry_run, "print the plan, the GPUs and which shard would start where; start and write nothing");
  app.add_flag("--submit", opt.submit,
               "plan here, then run the unfinished shards as a job-manager array (one task per shard, --gpus-per-worker "
               "GPUs each, --max-parallel-workers at once, --max-attempts attempts) and the merge as a job after them");
  app.add_option("--server", opt.server, "with --submit: the job manager, host:port (default $SLUICE_SERVER, else 127.0.0.1:19001)");
  app.add_option("--token-file", opt.token_file, "with --submit: the manager's API token file (default $SLUICE_TOKEN_FILE)");
  std::string status_dir;
  auto* status = app.add_subcommand("status", "print the per-shard table of an output directory");
  status->add_option("output_dir", status_dir, "the --output-dir of a sluice shard run")->required();
  std::string task_dir;
  std::optional<int> task_shard;
  auto* task = app.add_subcommand("task", "run one shard of a --submit directory (what each job-manager array task runs)");
  task->add_option("output_dir", task_dir, "the --output-dir of a sluice shard --submit")->required();
  task->add_option("--shard", task_shard, "the shard's plan index (default $SLUICE_ARRAY_TASK_ID)");
  std::string merge_dir;
  bool merge_partial = false;
  auto* merge = app.add_subcommand("merge", "merge the completed shards of an output directory (the --submit merge job)");
  merge->add_option("output_dir", merge_dir, "the --output-dir of a sluice shard run")->required();
  merge->add_flag("--allow-partial", merge_partial, "merge the completed shards even if some failed");
  app.footer(
      "The worker command follows `--`; in it {low} {high} {shard} {out} (this shard's result file) {input} {output_dir}\n"
      "are replaced. Relative paths (--input, --output-dir, --merged-output, --token-file) are relative to the working\n"
      "directory; --result-pattern is relative to --output-dir.\n"
      "Exit codes: 0 all shards completed and merged; 1 a shard failed or the merge was refused for missing shards;\n"
      "2 usage, a {name} in the worker command that is none of the above, GPUs that can never serve --gpus-per-worker,\n"
      "a --submit the job manager rejected;\n"
      "3 input table missing or malformed, a result file that breaks the merge rules, job manager unreachable;\n"
      "4 cannot write OUT or the merged table; 5 refused plan change, directory in use, a result changed after\n"
      "completion; 70 internal error or an unexpected job-manager answer; 130 / 143 stopped by SIGINT / SIGTERM.\n"
      "A run refused before any work (exit 2, 3 or 5) writes nothing to OUT.");
  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes a vector in reverse order
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (*status) return PrintStatus(env, status_dir, stdout);
  if (*task) return RunShardTask(env, task_dir, task_shard, stdout, stderr);
  if (*merge) return MergeShardDir(env, merge_dir, merge_partial, stdout, stderr);
  if (key_type != "auto") opt.key_type = ParseKeyType(key_type);
  return RunShards(env, opt, stdout, stderr);
}

}  // namespace sluice::shard
