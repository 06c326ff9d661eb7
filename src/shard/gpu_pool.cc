#include "shard/gpu_pool.h"

#include <fmt/format.h>

#include "core/error.h"

namespace sluice::shard {

std::string GiB(uint64_t bytes) { return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / (1ull << 30)); }

void GpuPool::CheckFeasible() {
  std::string error;
  auto visible = InheritedGpus(env_, &error);
  auto mask = env_->GetEnvVar("CUDA_VISIBLE_DEVICES");
  std::string masked = mask ? fmt::format(" (CUDA_VISIBLE_DEVICES={})", *mask) : "";
  if (static_cast<int>(visible.size()) < per_worker_)
    Fail(ErrorKind::kUsage, "--gpus-per-worker {} but {} GPU(s) visible{}{}; --gpus-per-worker 0 runs CPU workers", per_worker_,
         visible.size(), masked, error.empty() ? "" : " (" + error + ")");
  int big_enough = 0;
  for (const auto& d : visible) big_enough += d.memory_total >= min_free_;
  if (big_enough < per_worker_)
    Fail(ErrorKind::kUsage, "--gpus-per-worker {} but only {} visible GPU(s) have --min-gpu-memory {} in all{}", per_worker_,
         big_enough, GiB(min_free_), masked);
}

std::optional<std::vector<GpuDevice>> GpuPool::Acquire(std::string* why) {
  std::string error;
  std::vector<GpuDevice> group;
  int busy = 0, low = 0;
  for (const auto& d : InheritedGpus(env_, &error)) {
    if (held_.count(d.index)) ++busy;
    else if (d.memory_free < min_free_) ++low;
    else if (static_cast<int>(group.size()) < per_worker_) group.push_back(d);
  }
  if (static_cast<int>(group.size()) < per_worker_) {
    *why = fmt::format("{} GPU(s) usable, {} needed: {} held by running workers, {} with less than {} free{}", group.size(), per_worker_,
                       busy, low, GiB(min_free_), error.empty() ? "" : " (" + error + ")");
    return std::nullopt;
  }
  for (const auto& d : group) held_.insert(d.index);
  return group;
}

void GpuPool::Release(const std::vector<GpuDevice>& gpus) {
  for (const auto& d : gpus) held_.erase(d.index);
}

std::map<std::string, std::string> CudaEnvironment(const std::vector<GpuDevice>& gpus) {
  bool uuids = true;
  for (const auto& d : gpus) uuids = uuids && !d.uuid.empty();
  std::string list;
  for (const auto& d : gpus) list += (list.empty() ? "" : ",") + (uuids ? d.uuid : std::to_string(d.index));
  std::map<std::string, std::string> env{{"CUDA_VISIBLE_DEVICES", list}};
  if (!uuids) env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
  return env;
}

}  // namespace sluice::shard
