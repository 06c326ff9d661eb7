// Shared by the shard tests: a temporary directory, file helpers, and an Env whose GPUs and environment
// variables are injected (the scheduler reads both through Env).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "io/env.h"
#include "temp_dir.h"

namespace sluice::shard {

constexpr uint64_t kGiB = uint64_t{1} << 30;

struct TempDirTest : ::testing::Test {
  testing::TempDir tmp{"sluice-shard"};
  const std::string dir = tmp.path();
  std::string Write(const std::string& name, const std::string& content) { return tmp.Write(name, content); }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

inline GpuDevice FakeGpu(int index, uint64_t free_gib, uint64_t total_gib = 80) {
  GpuDevice d;
  d.index = index;
  d.uuid = "GPU-fake-" + std::to_string(index);
  d.pci_bus_id = "00000000:0" + std::to_string(index) + ":00.0";
  d.name = "Fake GPU " + std::to_string(index);
  d.memory_free = free_gib * kGiB;
  d.memory_total = total_gib * kGiB;
  return d;
}

// GPUs from `gpus` (called at every probe, so a test can change them over time), variables from `vars`
// (CUDA_VISIBLE_DEVICES unset unless given there), everything else the real machine.
class FakeGpuEnv : public EnvWrapper {
 public:
  FakeGpuEnv() : EnvWrapper(Env::Default()) {}
  std::function<std::vector<GpuDevice>()> gpus = [] { return std::vector<GpuDevice>{}; };
  std::map<std::string, std::string> vars;
  int probes = 0;
  GpuInventory ListGpus() override {
    ++probes;
    GpuInventory inv;
    inv.library = "injected";
    inv.devices = gpus();
    if (inv.devices.empty()) inv.error = "no NVML here (injected)";
    return inv;
  }
  std::optional<std::string> GetEnvVar(const std::string& name) override {
    auto it = vars.find(name);
    if (it != vars.end()) return it->second;
    if (name == "CUDA_VISIBLE_DEVICES") return std::nullopt;
    return EnvWrapper::GetEnvVar(name);
  }
};

}  // namespace sluice::shard
