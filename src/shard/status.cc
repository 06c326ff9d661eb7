#include <map>

#include <fmt/format.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "shard/managed_run.h"
#include "shard/plan.h"
#include "shard/scheduler.h"
#include "shard/state.h"

namespace sluice::shard {

int PrintStatus(Env* env, const std::string& output_dir, std::FILE* out) {
  std::string plan_path = output_dir + "/plan.json";
  if (!env->FileExists(plan_path)) Fail(ErrorKind::kInput, "{}: no shard plan here (not a sluice shard output directory)", plan_path);
  Plan plan = Plan::Parse(ReadFile(env, plan_path), plan_path);
  // Probing the lock: exclusive free = nobody; only shared free = array tasks (they share it); neither = a
  // scheduler, submitter or merge.
  std::string lock_path = output_dir + "/.lock", who = "not running";
  if (env->FileExists(lock_path) && !env->LockFile(lock_path, false))
    who = env->LockFile(lock_path, false, Env::LockMode::kShared) ? "not running; job-manager array tasks are running shards"
                                                                   : "running (a scheduler, submitter or merge holds .lock)";
  fmt::print(out, "{}: {} shard(s) of column '{}' ({} keys) of {}; scheduler {}\n", output_dir, plan.shards.size(), plan.key_column,
             KeyTypeName(plan.key_type), plan.input, who);
  if (auto run = ReadManagedRun(env, output_dir)) {
    std::string shards;
    for (int i : run->shards) shards += (shards.empty() ? "" : ",") + std::to_string(i);
    fmt::print(out, "submitted to the job manager{}: array job {} (shards {}), merge job {}\n",
               run->server.empty() ? "" : " at " + run->server, run->array_id ? std::to_string(run->array_id) : "none",
               shards.empty() ? "none" : shards, run->merge_id ? std::to_string(run->merge_id) : "none");
  }
  fmt::print(out, "{:>5}  {:<24} {:<9} {:>7} {:<10} {:>8} {:<12} {:>9}  {}\n", "SHARD", "RANGE", "STATUS", "ATTEMPT", "GPUS", "PID",
             "EXIT", "ROWS", "LOG");
  std::map<std::string, int> counts;
  for (const auto& r : plan.shards) {
    auto st = ReadState(env, output_dir + "/" + StateFileName(plan, r));
    std::string status = st ? StatusName(st->status) : "pending";
    ++counts[status];
    std::string gpus = "-", exit = "-", rows = "-", log = "-", pid = "-", attempt = "0";
    if (st) {
      if (!st->gpus.empty()) {
        gpus.clear();
        for (const auto& g : st->gpus) gpus += (gpus.empty() ? "" : ",") + std::to_string(g.index);
      }
      if (st->signal) exit = fmt::format("signal {}", *st->signal);
      else if (st->exit_code) exit = std::to_string(*st->exit_code);
      if (st->result) rows = std::to_string(st->result->rows);
      if (!st->log_path.empty()) log = st->log_path;
      if (st->pid) pid = std::to_string(st->pid);
      attempt = fmt::format("{}/{}", st->attempt, st->max_attempts);
    }
    fmt::print(out, "{:>5}  {:<24} {:<9} {:>7} {:<10} {:>8} {:<12} {:>9}  {}\n", r.index, RangeLabel(plan, r), status, attempt, gpus,
               pid, exit, rows, log);
    if (st && !st->error.empty() && st->status != ShardStatus::kCompleted) fmt::print(out, "{:>7}{}\n", "", st->error);
  }
  std::string summary;
  for (const auto& [k, v] : counts) summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", v, k);
  fmt::print(out, "{}\n", summary);
  return 0;
}

}  // namespace sluice::shard
