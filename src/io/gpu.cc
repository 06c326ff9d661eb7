#include "io/gpu.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "io/env.h"

namespace sluice {
namespace {

// NVML's C interface (nvml.h), declared here so that nothing of NVIDIA's is needed to build.
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
struct nvmlMemory_t {
  unsigned long long total, free, used;
};
struct nvmlPciInfo_t {  // nvmlPciInfo_st as nvmlDeviceGetPciInfo_v3 fills it
  char busIdLegacy[16];
  unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];
};

template <typename Fn>
Fn Sym(void* h, const char* name) {
  return reinterpret_cast<Fn>(::dlsym(h, name));
}

}  // namespace

GpuInventory ProbeNvml(const std::string& library) {
  GpuInventory g;
  g.library = library;
  void* h = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) {
    const char* e = ::dlerror();
    g.error = fmt::format("NVML not loaded ({}): no GPUs", e != nullptr ? e : library);
    return g;
  }
  auto init = Sym<nvmlReturn_t (*)()>(h, "nvmlInit_v2");
  auto shutdown = Sym<nvmlReturn_t (*)()>(h, "nvmlShutdown");
  auto count = Sym<nvmlReturn_t (*)(unsigned*)>(h, "nvmlDeviceGetCount_v2");
  auto by_index = Sym<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>(h, "nvmlDeviceGetHandleByIndex_v2");
  auto get_name = Sym<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>(h, "nvmlDeviceGetName");
  auto get_mem = Sym<nvmlReturn_t (*)(nvmlDevice_t, nvmlMemory_t*)>(h, "nvmlDeviceGetMemoryInfo");
  // Optional: an older or partial library still yields names and memory.
  auto get_uuid = Sym<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>(h, "nvmlDeviceGetUUID");
  auto get_pci = Sym<nvmlReturn_t (*)(nvmlDevice_t, nvmlPciInfo_t*)>(h, "nvmlDeviceGetPciInfo_v3");
  auto err_str = Sym<const char* (*)(nvmlReturn_t)>(h, "nvmlErrorString");
  auto why = [&](nvmlReturn_t rc) {
    return err_str != nullptr ? fmt::format("{} (code {})", err_str(rc), rc) : fmt::format("code {}", rc);
  };
  if (!init || !shutdown || !count || !by_index || !get_name || !get_mem) {
    g.error = fmt::format("'{}' lacks NVML entry points: no GPUs", library);
  } else if (nvmlReturn_t rc = init(); rc != 0) {
    g.error = fmt::format("nvmlInit_v2 failed: {}: no GPUs", why(rc));
  } else {
    unsigned n = 0;
    if (nvmlReturn_t c = count(&n); c != 0) {
      g.error = fmt::format("nvmlDeviceGetCount_v2 failed: {}", why(c));
      n = 0;
    }
    for (unsigned i = 0; i < n; ++i) {
      GpuDevice d;
      d.index = static_cast<int>(i);
      nvmlDevice_t dev = nullptr;
      if (by_index(i, &dev) != 0) {
        d.name = "(unreadable)";
      } else {
        char buf[96] = {0};
        if (get_name(dev, buf, sizeof buf) == 0) d.name = buf;
        char uuid[96] = {0};
        if (get_uuid && get_uuid(dev, uuid, sizeof uuid) == 0) d.uuid = uuid;
        nvmlPciInfo_t pci{};
        if (get_pci && get_pci(dev, &pci) == 0) d.pci_bus_id = std::string(pci.busId, strnlen(pci.busId, sizeof pci.busId));
        nvmlMemory_t m{};
        if (get_mem(dev, &m) == 0) {
          d.memory_total = m.total;
          d.memory_free = m.free;
        }
      }
      g.devices.push_back(std::move(d));
    }
    shutdown();
  }
  ::dlclose(h);
  return g;
}

std::vector<int> VisibleGpuIndices(const std::vector<GpuDevice>& devices, const std::optional<std::string>& mask) {
  std::vector<int> out;
  if (!mask) {
    for (const auto& d : devices) out.push_back(d.index);
    return out;
  }
  std::string_view rest = *mask;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view e = rest.substr(0, comma);
    while (!e.empty() && e.front() == ' ') e.remove_prefix(1);
    while (!e.empty() && e.back() == ' ') e.remove_suffix(1);
    int found = -1;
    if (!e.empty() && std::all_of(e.begin(), e.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (e.size() < 6) {
        int i = std::atoi(std::string(e).c_str());
        if (i < static_cast<int>(devices.size())) found = i;
      }
    } else if (e.size() > 4 && e.substr(0, 4) == "GPU-") {
      int matches = 0;  // CUDA accepts a unique prefix of a UUID
      for (const auto& d : devices)
        if (d.uuid.size() >= e.size() && std::string_view(d.uuid).substr(0, e.size()) == e) ++matches, found = d.index;
      if (matches != 1) found = -1;
    }
    if (found < 0) break;  // an invalid entry, "-1", "NoDevFiles", "MIG-…" or "" ends the list
    if (std::find(out.begin(), out.end(), found) == out.end()) out.push_back(found);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<GpuDevice> InheritedGpus(Env* env, std::string* why) {
  GpuInventory inv = env->ListGpus();
  std::vector<GpuDevice> out;
  for (int i : VisibleGpuIndices(inv.devices, env->GetEnvVar("CUDA_VISIBLE_DEVICES"))) out.push_back(inv.devices[i]);
  if (out.empty())
    *why = !inv.error.empty() ? inv.error : inv.devices.empty() ? "NVML reports no GPUs" : "CUDA_VISIBLE_DEVICES hides every GPU";
  return out;
}

}  // namespace sluice
