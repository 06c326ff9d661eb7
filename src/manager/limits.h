// Memory limits the kernel enforces on a job (docs/manager.md, "Memory limits"). Each attempt of a job that
// declares memory runs in its own memory cgroup, created as a child of the cgroup the daemon runs in, with
// the declared amount as its limit: past it the kernel reclaims, then OOM-kills inside that cgroup only,
// and the cgroup's counters say so afterwards, so the attempt's outcome is "oom" rather than a bare
// SIGKILL. cgroup v1 (memory.limit_in_bytes, oom_kill in memory.oom_control) and v2 (memory.max, oom_kill
// in memory.events; the daemon's cgroup must have the memory controller in cgroup.subtree_control) are
// both read. Where neither can be written (no permission, v2 without delegation) there are no limits:
// OpenMemoryLimits says why, and memory stays what admission counts.
//
// The process moved in is the attempt's wrapper while it is still held (io/process.h), so the command it
// starts is confined from its first instruction. A cgroup is named after the data directory, job and
// attempt, so a restarted daemon finds the one of an attempt it re-adopted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "io/env.h"

namespace sluice::manager {

class MemoryLimits {
 public:
  MemoryLimits(Env* env, std::string base, int version, std::string tag) : env_(env), base_(std::move(base)), version_(version), tag_(std::move(tag)) {}
  // Creates the cgroup of attempt `n` of job `job` limited to `bytes` and moves `pid` into it. Throws
  // Error(kOutput) when a cgroup file cannot be written.
  void Confine(int64_t job, int n, uint64_t bytes, int64_t pid);
  // After the attempt ended: whether the kernel OOM-killed a process in its cgroup. SIGKILLs what is still
  // in it (a process whose wrapper was the OOM victim) and removes it. false if it has no cgroup.
  bool Release(int64_t job, int n);
  const std::string& base() const { return base_; }
  int version() const { return version_; }

 private:
  std::string Dir(int64_t job, int n) const;
  Env* env_;
  std::string base_;  // the daemon's own memory cgroup directory
  int version_;       // 1 or 2
  std::string tag_;   // distinguishes daemons (data directories) sharing a cgroup
};

// The daemon's memory cgroup (from /proc/self/cgroup and /proc/self/mountinfo), if a child with a memory
// limit can be created there (probed); nullptr with the reason in `note` otherwise. `data_dir` names the
// cgroups this daemon creates.
std::unique_ptr<MemoryLimits> OpenMemoryLimits(Env* env, const std::string& data_dir, std::string* note);

}  // namespace sluice::manager
