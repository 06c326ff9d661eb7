// The job manager's decisions, as pure functions of their inputs (no clock, no process, no database), so
// tests drive them directly: whether a request can ever fit the machine, which pending jobs to admit
// without over-committing declared capacity, what a job's dependencies say, and the retry decision with
// its backoff delay. docs/manager.md describes the policies.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "manager/job_spec.h"

namespace sluice::manager {

// What the machine offers (sluice server --cpus / --memory / --resource), and what running jobs hold.
struct Capacity {
  double cpus = 0;
  uint64_t memory = 0;  // bytes
  std::map<std::string, double> custom;
};

// "" if `r` fits an empty machine of capacity `c`, else why not (the job is then REJECTED at submit).
std::string ExceedsMachine(const Resources& r, const Capacity& c);

// Adds (sign +1) or releases (sign -1) `r` to the in-use total `used`.
void Account(Capacity& used, const Resources& r, int sign);

// A job that is ready to run but for resources: dependencies satisfied, not in backoff, not held.
struct Candidate {
  int64_t id = 0;
  int priority = 0;
  Resources resources;
};

// The candidates to start now, in start order: highest priority first, then lowest id (oldest), each
// admitted if it fits what is left after `used` and the ones admitted before it (first fit: a small job may
// pass a large one that does not fit yet). Never returns a set whose sum exceeds `capacity`.
std::vector<int64_t> Admit(std::vector<Candidate> candidates, const Capacity& capacity, const Capacity& used);

// What a dependency's job is like now, as far as conditions care.
struct DepState {
  State state = State::kPending;
  bool started = false;  // it has had an attempt (it ran or runs)
};

enum class DepVerdict { kSatisfied, kWaiting, kNeverSatisfied };
// One condition against its job's state. afterok can no longer hold once the job FAILED, was CANCELLED or
// REJECTED; afternotok once it COMPLETED or was REJECTED (it never ran, so never failed); after and afterany
// always end satisfied.
DepVerdict EvaluateDependency(DepCondition c, const DepState& dep);

// How an attempt ended.
enum class Outcome { kCompleted, kFailed, kTimeout, kLost, kCancelled };
const char* OutcomeName(Outcome o);

// Whether a job whose attempt number `attempt` (1-based) ended with `o` (and `exit_code` when it exited)
// gets another attempt under `policy`.
bool ShouldRetry(const RetryPolicy& policy, int attempt, Outcome o, std::optional<int> exit_code);

// Seconds to wait before attempt `attempt + 1` after attempt `attempt` failed:
// min(initial × multiplier^(attempt-1), max), then scaled by a factor uniform in [1 - jitter, 1 + jitter]
// drawn from `unit_random` (in [0, 1)), never above max.
double BackoffSeconds(const RetryPolicy& policy, int attempt, double unit_random);

}  // namespace sluice::manager
