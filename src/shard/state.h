// The state of one shard, <out>/worker_args_<low>_<high>.json, rewritten atomically (temporary file, fsync,
// rename) at every transition, so that a rerun, `sluice shard status` and a person all read the last
// durable state and never a torn one.
//
// Transitions: pending -> running (the worker's identity is durable before its command may start)
// -> completed (exit 0 and a result file holding exactly the input's keys of the range: its path, rows and
// XXH3-64 recorded) | failed (exit != 0, a signal, no such result file) | cancelled (the scheduler was interrupted and stopped it). A rerun finds a
// shard left `running` by a dead scheduler and makes it completed or failed from the wrapper's status
// file, or `lost` when there is none (its orphaned process group stopped first if it still runs).
// failed, cancelled and lost shards run again (a new attempt) until --max-attempts attempts of this run.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/env.h"
#include "shard/plan.h"

namespace sluice::shard {

enum class ShardStatus { kPending, kRunning, kCompleted, kFailed, kCancelled, kLost };
const char* StatusName(ShardStatus s);

struct ShardResult {
  std::string path;
  uint64_t rows = 0, size = 0;
  std::string xxh3;  // hex XXH3-64 of the file
};

struct ShardState {
  std::string scheduler_id;
  int shard_index = 0;
  std::string key_column, low, high;  // key text; high "" when unbounded
  bool unbounded = false;
  ShardStatus status = ShardStatus::kPending;
  int attempt = 0, max_attempts = 0;  // attempts so far (all runs); the budget of one run
  std::vector<std::string> command;
  std::map<std::string, std::string> env_overrides;
  struct Gpu {
    int index = 0;
    std::string uuid, name;
  };
  std::vector<Gpu> gpus;
  int64_t pid = 0, pgid = 0;     // the wrapper: leader of the worker's process group
  uint64_t proc_starttime = 0;   // its /proc start time (clock ticks after boot)
  std::string boot_id, host;
  double start_time = 0, end_time = 0;  // epoch seconds
  std::optional<int> exit_code, signal;
  std::string log_path, status_path;    // the attempt's output and the wrapper's exit status file
  std::optional<ShardResult> result;
  std::string error;

  std::string ToJson() const;
  // nullopt if `json` is not a shard state (the caller names the file).
  static std::optional<ShardState> Parse(const std::string& json);
};

// "worker_args_<low>_<high>.json" with file-safe key text ("end" for an unbounded high).
std::string StateFileName(const Plan& plan, const ShardRange& s);
// "<low>_<high>", the part of every file name of the shard.
std::string ShardStem(const Plan& plan, const ShardRange& s);
// "[low-high)" for messages.
std::string RangeLabel(const Plan& plan, const ShardRange& s);

void WriteState(Env* env, const std::string& path, const ShardState& s);
// nullopt if there is no file; throws kState naming it if it is not a shard state.
std::optional<ShardState> ReadState(Env* env, const std::string& path);

}  // namespace sluice::shard
