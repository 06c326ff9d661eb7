// Limits the kernel enforces on a job's attempt (docs/manager.md, "Runtime limits"), applied to the
// attempt's wrapper while it is still held (io/process.h), so the command it starts, and everything that
// command starts, is bound from its first instruction.
//
// Memory: each attempt of a job that declares memory runs in its own memory cgroup, a child of the one the
// daemon runs in, with the declared amount as its limit: past it the kernel reclaims, then OOM-kills inside
// that cgroup only, and the cgroup's oom_kill counter says so afterwards, so the attempt's outcome is "oom"
// rather than a bare SIGKILL. cgroup v1 (memory.limit_in_bytes, memory.oom_control) and v2 (memory.max,
// memory.events; the daemon's cgroup must delegate the memory controller in cgroup.subtree_control). Where
// no child cgroup can be created there are no memory limits (OpenJobLimits says why) and memory is what
// admission counts. A cgroup is named after the data directory, job and attempt, so a restarted daemon
// finds the one of an attempt it re-adopted.
//
// CPUs: a job that declares cpus is pinned (sched_setaffinity) to the CPUs the scheduler picked for it
// (scheduler.h PickCpus) within the daemon's own affinity mask.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/env.h"

namespace sluice::manager {

class JobLimits {
 public:
  // `memory_base` "": no memory cgroups; `cpus` empty: no pinning.
  JobLimits(Env* env, std::string memory_base, int version, std::string tag, std::vector<int> cpus)
      : env_(env), base_(std::move(memory_base)), version_(version), tag_(std::move(tag)), cpus_(std::move(cpus)) {}
  bool memory() const { return !base_.empty(); }
  const std::string& memory_base() const { return base_; }
  std::string JobGroupsGlob() const { return GroupPrefix() + "*"; }  // this daemon's job groups
  int cgroup_version() const { return version_; }
  const std::vector<int>& cpus() const { return cpus_; }  // the daemon's affinity mask

  // Creates the cgroup of attempt `n` of job `job` limited to `bytes` and moves `pid` into it. Throws
  // Error(kOutput) when a cgroup file cannot be written.
  void Confine(int64_t job, int n, uint64_t bytes, int64_t pid);
  // After the attempt ended: whether the kernel OOM-killed a process in its cgroup. SIGKILLs what is still
  // in it (a process whose wrapper was the OOM victim) and removes it. false if it has no cgroup.
  bool Release(int64_t job, int n);
  // Restricts `pid` (and what it forks later) to `cpus`. Throws Error(kOutput).
  void Pin(int64_t pid, const std::vector<int>& cpus);

 private:
  std::string GroupPrefix() const { return base_ + "/sluice-" + tag_ + "-job"; }  // + <job>-a<attempt>: an attempt's group
  std::string Dir(int64_t job, int n) const;
  Env* env_;
  std::string base_;  // the daemon's own memory cgroup directory
  int version_;       // 1 or 2
  std::string tag_;   // distinguishes daemons (data directories) sharing a cgroup
  std::vector<int> cpus_;
};

// The daemon's limits: its memory cgroup (from /proc/self/cgroup and /proc/self/mountinfo) if a child with a
// memory limit can be created there (probed; else `memory_note` says why), and its affinity mask.
// `data_dir` names the cgroups this daemon creates.
std::unique_ptr<JobLimits> OpenJobLimits(Env* env, const std::string& data_dir, std::string* memory_note);

// A short stable name (8 hex digits) for the data directory `data_dir` (absolute): it tells apart daemons
// sharing a cgroup, and pipeline jobs of different daemons (pipeline.h PipelineJobDir).
std::string DataDirTag(const std::string& data_dir);

}  // namespace sluice::manager
