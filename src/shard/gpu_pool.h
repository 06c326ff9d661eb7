// Which GPUs a shard worker gets. A GPU is usable when CUDA would show it to this process (the inherited
// CUDA_VISIBLE_DEVICES mask, io/gpu.h VisibleGpuIndices), its free memory at the time of the check is at
// least the threshold, and no running worker of this scheduler holds it. A worker gets `per_worker`
// usable GPUs, the first ones in mask order; with none free now the caller waits and asks again (a shard
// is never dropped). Each check probes NVML afresh through Env::ListGpus, so memory another process frees
// (or a previous worker still tearing down) is seen when it happens.
//
// A worker is told its GPUs by UUID in CUDA_VISIBLE_DEVICES, which names the same device whatever order
// CUDA counts in; if NVML gave no UUID, by NVML index with CUDA_DEVICE_ORDER=PCI_BUS_ID (NVML counts in PCI
// bus order, CUDA by default "fastest first").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/env.h"

namespace sluice::shard {

class GpuPool {
 public:
  GpuPool(Env* env, int per_worker, uint64_t min_free_bytes) : env_(env), per_worker_(per_worker), min_free_(min_free_bytes) {}

  // Throws kUsage explaining why if no worker could ever get its GPUs here: fewer visible GPUs than
  // per_worker (none at all: NVML's reason), or fewer whose total memory reaches the threshold.
  void CheckFeasible();
  // per_worker free usable GPUs, now marked held; nullopt with the reason in *why when there are not enough.
  std::optional<std::vector<GpuDevice>> Acquire(std::string* why);
  void Release(const std::vector<GpuDevice>& gpus);
  int per_worker() const { return per_worker_; }

 private:
  Env* env_;
  int per_worker_;
  uint64_t min_free_;
  std::set<int> held_;  // NVML indices
};

// CUDA_VISIBLE_DEVICES (and CUDA_DEVICE_ORDER when it holds indices) for a worker on `gpus`.
std::map<std::string, std::string> CudaEnvironment(const std::vector<GpuDevice>& gpus);

// "12.3 GiB"
std::string GiB(uint64_t bytes);

}  // namespace sluice::shard
