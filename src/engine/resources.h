// Resources: what this process may use — CPUs, memory, GPUs — and the allocation it runs in (Slurm, MPI),
// as input to the auto-configuration of np and partition size (engine/auto_config.h, docs/partitioning.md).
//
// DetectResources reads everything through Env: environment variables with GetEnvVar, the affinity mask
// and physical memory with AffinityCpuCount / PhysicalMemoryBytes, and /proc/self/cgroup,
// /proc/self/mountinfo, the cgroup files and /proc/meminfo with ReadAt, so a test presents any machine by
// overriding those. Limits are honoured where the kernel enforces them: a cgroup v2 `cpu.max` or v1 CFS
// quota caps the CPUs, `memory.max` / `memory.limit_in_bytes` cap the memory (the tightest of the
// process's cgroup and its ancestors, as the kernel applies them). Slurm's per-task CPUs and memory cap
// them too (Slurm usually also enforces them with cgroups; the variables also cover a plain allocation).
// Several MPI ranks on one node share it: each gets its share. Nothing here fails: a file that cannot
// be read is a limit that is absent, and each value says where it came from.
//
// GPUs come from Env::ListGpus (io/gpu.h: NVML loaded at run time, so no build dependency on NVIDIA's
// libraries; a missing library or a failing nvmlInit means no GPUs, with the reason in `error`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json_writer.h"
#include "io/env.h"

namespace sluice {

struct GpuProbe : GpuInventory {
  int visible = 0;  // of the devices, the ones CUDA_VISIBLE_DEVICES (else SLURM_JOB_GPUS) leaves to this process
};

struct Resources {
  // CPUs
  int affinity_cpus = 0;       // sched_getaffinity
  double cgroup_cpu_quota = 0;  // cores (quota / period); 0 = no quota
  std::string cgroup_cpu_source;  // the file that set it
  int slurm_cpus = 0;          // SLURM_CPUS_PER_TASK, or SLURM_CPUS_ON_NODE / tasks on the node; 0 = none
  int usable_cpus = 1;         // the tightest of the above, the quota rounded to nearest (at least 1)
  std::string cpu_reason;

  // Memory (bytes)
  uint64_t physical_memory = 0;
  uint64_t mem_available = 0;      // /proc/meminfo MemAvailable (0 = unreadable)
  uint64_t cgroup_memory_limit = 0;  // 0 = none
  uint64_t cgroup_memory_used = 0;   // usage minus inactive file cache, charged to that cgroup
  std::string cgroup_memory_source;
  uint64_t slurm_memory = 0;        // per task; 0 = none
  uint64_t usable_memory = 0;       // what this process can still take: the tightest of the above
  std::string memory_reason;
  std::string cgroup_version;       // "v2", "v1", "hybrid" or "none"

  GpuProbe gpus;

  // Allocation
  std::string slurm_job_id;  // empty: not under Slurm
  int slurm_ntasks = 0;
  std::string mpi_kind;      // "openmpi", "pmi", "pmix" or empty
  int mpi_world_size = 0, mpi_rank = -1, mpi_local_size = 0;

  std::vector<std::string> notes;

  void ToJson(JsonWriter& w) const;  // one object
};

// A small text file (procfs, cgroupfs; at most 4 MiB), read through env; nullopt when it cannot be read.
std::optional<std::string> ReadSmall(Env* env, const std::string& path);

// One cgroup hierarchy this process belongs to: the directory of its cgroup and the mount point above
// which limits no longer apply to it.
struct CgroupDir {
  std::string dir, mount_point;
};

struct CgroupLayout {
  std::optional<CgroupDir> v2;
  std::optional<CgroupDir> v1_cpu, v1_memory;
};

// Where this process's cgroups are (read through env: /proc/self/cgroup and /proc/self/mountinfo). Also
// the job manager's memory limits (manager/limits.h) create their cgroups below it.
CgroupLayout FindCgroups(Env* env);

Resources DetectResources(Env* env);
GpuProbe ProbeGpus(Env* env);  // part of DetectResources; Env::ListGpus and the inherited mask only

}  // namespace sluice
