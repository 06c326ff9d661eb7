// The job manager's decisions, as pure functions of their inputs (no clock, no process, no database), so
// tests drive them directly: whether a request can ever fit the machine, which pending jobs to admit (and
// which GPUs each gets) without over-committing declared capacity or starving a large job, what a job's
// dependencies say, and the retry decision with its backoff delay. docs/manager.md describes the policies.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "io/gpu.h"
#include "manager/job_spec.h"

namespace sluice::manager {

// What the machine offers (sluice server --cpus / --memory / --resource, and the GPUs NVML reports that
// the daemon's own CUDA_VISIBLE_DEVICES leaves visible).
struct Capacity {
  double cpus = 0;
  uint64_t memory = 0;  // bytes
  std::map<std::string, double> custom;
  std::vector<GpuDevice> gpus;  // each is given to at most one running job; memory_free as last probed
};

// "" if `r` fits an empty machine of capacity `c`, else why not (the job is then REJECTED at submit).
std::string ExceedsMachine(const Resources& r, const Capacity& c);

// A running job: what it holds, and until when at most.
struct Holding {
  Resources resources;
  std::vector<std::string> gpus;  // UUIDs assigned to it
  double ends_by = 0;             // epoch seconds by which its run timeout (+ kill grace) ends it; 0 = unbounded
  std::vector<int> cpus;          // CPUs it is pinned to (empty: not pinned)
};

// The sum of what `running` holds (cpus, memory, custom; `gpus` lists the held devices' UUIDs, other fields zero).
Capacity InUse(const std::vector<Holding>& running);

// A job that is ready to run but for resources: dependencies satisfied, not in backoff, not held.
struct Candidate {
  int64_t id = 0;
  int priority = 0;
  Resources resources;
  double run_limit = 0;  // seconds it can run at most (run timeout + kill grace); 0 = unbounded
};

struct Admission {
  int64_t id = 0;
  std::vector<std::string> gpus;  // UUIDs, for its CUDA_VISIBLE_DEVICES
};

// The candidates to start now, in start order. Candidates are ranked by priority (highest first), then id
// (oldest first), and each is started if it fits what `running` and the ones started before it leave.
// No starvation (EASY backfill): the first candidate that does not fit gets a reservation. Lower-ranked
// candidates may then use only what is left beyond its request, so they never delay it; or, if they fit
// now and their run limit ends them before the reservation's start at the latest (the time by which the
// run limits of running jobs free enough for it; unbounded if one of those has no run timeout), they
// backfill. Never returns a set whose sum exceeds `capacity`, and never one GPU twice.
// GPUs: a request for n GPUs with min free memory m takes n unassigned devices whose memory_free >= m,
// the ones with the least free memory first (larger devices stay for larger requests), then by index.
std::vector<Admission> Admit(std::vector<Candidate> candidates, const Capacity& capacity, const std::vector<Holding>& running,
                             double now);

// The CPUs to pin a job declaring `cpus` to: ceil(cpus) of `allowed` (all of them at most), the least
// loaded first, then by number; a running job loads each of its CPUs with its cpus spread evenly. Empty
// for cpus 0. CPUs are shared, not exclusive (declarations may be fractional): pinning keeps a job to the
// cores it declared and spreads jobs over the machine; admission keeps the sum within capacity.
std::vector<int> PickCpus(const std::vector<int>& allowed, const std::vector<Holding>& running, double cpus);

// What a dependency's job is like now, as far as conditions care.
struct DepState {
  State state = State::kPending;
  bool started = false;  // it has had an attempt (it ran or runs)
};

// The state of an array as a whole, from its tasks' counts by state: RUNNING if any runs, else PENDING if
// any is pending (or SUBMITTED); once all have ended COMPLETED if all completed, else FAILED if any
// failed, else CANCELLED if any was cancelled, else REJECTED.
State AggregateState(const std::map<State, int64_t>& counts);

enum class DepVerdict { kSatisfied, kWaiting, kNeverSatisfied };
// One condition against its job's state. afterok can no longer hold once the job FAILED, was CANCELLED or
// REJECTED; afternotok once it COMPLETED or was REJECTED (it never ran, so never failed); after and afterany
// always end satisfied.
DepVerdict EvaluateDependency(DepCondition c, const DepState& dep);

// How an attempt ended.
// kOom: the kernel killed it at its memory limit (manager/limits.h).
enum class Outcome { kCompleted, kFailed, kTimeout, kLost, kCancelled, kOom };
const char* OutcomeName(Outcome o);

// Whether a job whose attempt number `attempt` (1-based, counted from its last manual retry) ended with
// `o` (and `exit_code` when it exited) gets another attempt under `policy`.
bool ShouldRetry(const RetryPolicy& policy, int attempt, Outcome o, std::optional<int> exit_code);

// Seconds to wait before attempt `attempt + 1` after attempt `attempt` failed:
// min(initial × multiplier^(attempt-1), max), then scaled by a factor uniform in [1 - jitter, 1 + jitter]
// drawn from `unit_random` (in [0, 1)), never above max.
double BackoffSeconds(const RetryPolicy& policy, int attempt, double unit_random);

}  // namespace sluice::manager
