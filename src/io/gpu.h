// GPU inventory: the NVIDIA GPUs of this machine as NVML reports them, and which of them an inherited
// CUDA_VISIBLE_DEVICES mask leaves to this process. Env::ListGpus (io/env.h) returns the inventory, so
// the resource detection (engine/resources.h), the job manager's GPU admission (manager/) and the shard
// scheduler (shard/) all see the same devices, and a test presents any set of GPUs by overriding it.
//
// NVML is loaded at run time (dlopen), so sluice has no build dependency on NVIDIA's libraries; a missing
// library or a failing nvmlInit is an empty inventory with the reason in `error`, never an exception.
// Devices come in NVML order, which is PCI bus order: a child told CUDA_DEVICE_ORDER=PCI_BUS_ID counts
// them the same way, and a UUID names one device whatever the order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice {

class Env;

struct GpuDevice {
  int index = 0;           // NVML index (PCI bus order)
  std::string uuid;        // "GPU-8b2c…" (empty if NVML could not say)
  std::string pci_bus_id;  // "00000000:3B:00.0" (empty if NVML could not say)
  std::string name;        // "NVIDIA H100 80GB HBM3"
  uint64_t memory_total = 0, memory_free = 0;  // bytes, at the time of the probe
};

struct GpuInventory {
  std::string library;             // what was dlopen'ed
  std::vector<GpuDevice> devices;  // every device NVML reports, by index
  std::string error;               // why there are none: library missing, nvmlInit failed, ...
};

// Loads `library` (e.g. "libnvidia-ml.so.1"), reads every device, unloads it. Never throws.
GpuInventory ProbeNvml(const std::string& library);

// The devices (indices into `devices`, in mask order) that a CUDA_VISIBLE_DEVICES value leaves visible.
// nullopt mask: all of them. As CUDA does, the list stops at the first entry that names no device;
// "", "-1" and "NoDevFiles" hide every device. An entry is an index (counted in PCI bus order, as with
// CUDA_DEVICE_ORDER=PCI_BUS_ID), a UUID ("GPU-…", or a unique prefix of one), or a MIG identifier
// ("MIG-…"), which names no whole device here and so ends the list. Duplicates are dropped.
std::vector<int> VisibleGpuIndices(const std::vector<GpuDevice>& devices, const std::optional<std::string>& mask);

// The GPUs this process may hand out: env->ListGpus() restricted, in mask order, by the CUDA_VISIBLE_DEVICES
// it inherited (the job manager's and shard's pool). When there are none, `why` says why: NVML's error,
// no devices, or a mask that hides them all.
std::vector<GpuDevice> InheritedGpus(Env* env, std::string* why);

}  // namespace sluice
