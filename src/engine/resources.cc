#include "engine/resources.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "core/error.h"

namespace sluice {

// procfs reports size 0, so read until the end rather than by size.
std::optional<std::string> ReadSmall(Env* env, const std::string& path) {
  std::string out;
  try {
    std::string buf(64 << 10, '\0');
    while (out.size() < (4u << 20)) {
      size_t n = env->ReadAt(path, out.size(), buf.size(), buf.data());
      if (n == 0) break;
      out.append(buf.data(), n);
    }
  } catch (const Error&) {
    return std::nullopt;
  }
  return out;
}

namespace {

std::optional<uint64_t> ParseUint(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

std::optional<uint64_t> EnvUint(Env* env, const char* name) {
  auto v = env->GetEnvVar(name);
  return v ? ParseUint(*v) : std::nullopt;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.emplace_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

// `key value` lines (memory.stat) or `Key:   value kB` lines (meminfo).
std::optional<uint64_t> StatField(const std::string& text, std::string_view key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() <= key.size() || line.compare(0, key.size(), key) != 0) continue;
    char next = line[key.size()];
    if (next != ' ' && next != ':' && next != '\t') continue;
    std::istringstream f(line.substr(key.size() + (next == ':' ? 1 : 0)));
    uint64_t v = 0;
    std::string unit;
    if (!(f >> v)) return std::nullopt;
    f >> unit;
    return unit == "kB" ? v * 1024 : v;
  }
  return std::nullopt;
}

}  // namespace

// /proc/self/cgroup gives the cgroup path per hierarchy, /proc/self/mountinfo where each hierarchy is
// mounted and which part of it the mount shows (a container sees its own cgroup as the mount's root).
CgroupLayout FindCgroups(Env* env) {
  CgroupLayout out;
  auto cg = ReadSmall(env, "/proc/self/cgroup");
  if (!cg) return out;
  std::string v2_path;
  bool has_v2 = false;
  std::vector<std::pair<std::vector<std::string>, std::string>> v1;  // controllers, path
  {
    std::istringstream in(*cg);
    std::string line;
    while (std::getline(in, line)) {
      size_t a = line.find(':'), b = a == std::string::npos ? a : line.find(':', a + 1);
      if (b == std::string::npos) continue;
      std::string ctrl = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
      if (line.compare(0, a, "0") == 0 && ctrl.empty()) {
        has_v2 = true;
        v2_path = path;
      } else {
        v1.emplace_back(Split(ctrl, ','), path);
      }
    }
  }
  struct Mount {
    std::string root, point, fstype;
    std::vector<std::string> options;
  };
  std::vector<Mount> mounts;
  if (auto mi = ReadSmall(env, "/proc/self/mountinfo")) {
    std::istringstream in(*mi);
    std::string line;
    while (std::getline(in, line)) {
      size_t dash = line.find(" - ");
      if (dash == std::string::npos) continue;
      std::istringstream pre(line.substr(0, dash)), post(line.substr(dash + 3));
      std::string id, parent, dev, root, point, fstype, source, opts;
      if (!(pre >> id >> parent >> dev >> root >> point) || !(post >> fstype >> source >> opts)) continue;
      if (fstype == "cgroup2" || fstype == "cgroup") mounts.push_back({root, point, fstype, Split(opts, ',')});
    }
  } else {
    // No mountinfo: the conventional places.
    mounts.push_back({"/", "/sys/fs/cgroup", "cgroup2", {}});
    for (const char* c : {"cpu", "memory"}) mounts.push_back({"/", std::string("/sys/fs/cgroup/") + c, "cgroup", {c}});
  }
  auto locate = [](const Mount& m, const std::string& path) {
    std::string rel = path;
    if (m.root != "/" && path.compare(0, m.root.size(), m.root) == 0) rel = path.substr(m.root.size());
    else if (m.root != "/") rel = "";  // our cgroup is outside what the mount shows: its root is the nearest
    std::string dir = m.point + (rel == "/" ? "" : rel);
    return CgroupDir{dir, m.point};
  };
  for (const auto& m : mounts) {
    if (m.fstype == "cgroup2") {
      if (has_v2 && !out.v2) out.v2 = locate(m, v2_path);
      continue;
    }
    for (const auto& [ctrls, path] : v1) {
      auto has = [&](const char* c) {
        return std::find(ctrls.begin(), ctrls.end(), c) != ctrls.end() &&
               std::find(m.options.begin(), m.options.end(), c) != m.options.end();
      };
      if (has("cpu") && !out.v1_cpu) out.v1_cpu = locate(m, path);
      if (has("memory") && !out.v1_memory) out.v1_memory = locate(m, path);
    }
  }
  return out;
}

namespace {
// Calls `f(dir)` for the cgroup's directory and each ancestor up to the mount point.
template <typename F>
void WalkUp(const CgroupDir& cg, F f) {
  std::string d = cg.dir;
  while (true) {
    f(d);
    if (d.size() <= cg.mount_point.size()) break;
    size_t slash = d.rfind('/');
    if (slash == std::string::npos || slash < cg.mount_point.size()) d = cg.mount_point;
    else d.resize(slash);
  }
}

// Values at or above this are "no limit" in cgroup v1 (the kernel shows PAGE_COUNTER_MAX in bytes).
constexpr uint64_t kV1Unlimited = uint64_t{1} << 60;

void DetectCgroups(Env* env, Resources& r) {
  CgroupLayout cg = FindCgroups(env);
  r.cgroup_version = cg.v2 && (cg.v1_cpu || cg.v1_memory) ? "hybrid" : cg.v2 ? "v2" : (cg.v1_cpu || cg.v1_memory) ? "v1" : "none";
  auto take_cpu = [&](double cores, const std::string& source) {
    if (cores > 0 && (r.cgroup_cpu_quota == 0 || cores < r.cgroup_cpu_quota)) {
      r.cgroup_cpu_quota = cores;
      r.cgroup_cpu_source = source;
    }
  };
  uint64_t headroom = std::numeric_limits<uint64_t>::max();
  auto take_mem = [&](uint64_t limit, uint64_t used, const std::string& source) {
    uint64_t room = limit > used ? limit - used : 0;
    if (room < headroom) {
      headroom = room;
      r.cgroup_memory_limit = limit;
      r.cgroup_memory_used = used;
      r.cgroup_memory_source = source;
    }
  };
  // Charged memory minus the inactive page cache the kernel reclaims before it would hit the limit.
  auto used = [&](const std::string& dir, const char* usage_file, const char* inactive_key) {
    uint64_t u = 0;
    if (auto s = ReadSmall(env, dir + "/" + usage_file)) u = ParseUint(*s).value_or(0);
    if (auto st = ReadSmall(env, dir + "/memory.stat"))
      if (auto in = StatField(*st, inactive_key); in && *in <= u) u -= *in;
    return u;
  };
  if (cg.v2) {
    WalkUp(*cg.v2, [&](const std::string& d) {
      if (auto s = ReadSmall(env, d + "/cpu.max")) {
        auto f = Split(Split(*s, '\n')[0], ' ');
        if (f.size() == 2 && f[0] != "max")
          if (auto q = ParseUint(f[0]), p = ParseUint(f[1]); q && p && *p > 0) take_cpu(double(*q) / double(*p), d + "/cpu.max");
      }
      if (auto s = ReadSmall(env, d + "/memory.max"))
        if (auto lim = ParseUint(*s)) take_mem(*lim, used(d, "memory.current", "inactive_file"), d + "/memory.max");
    });
  }
  if (cg.v1_cpu) {
    WalkUp(*cg.v1_cpu, [&](const std::string& d) {
      auto q = ReadSmall(env, d + "/cpu.cfs_quota_us"), p = ReadSmall(env, d + "/cpu.cfs_period_us");
      if (!q || !p) return;
      auto qv = ParseUint(*q), pv = ParseUint(*p);  // -1 (no quota) does not parse
      if (qv && pv && *pv > 0) take_cpu(double(*qv) / double(*pv), d + "/cpu.cfs_quota_us");
    });
  }
  if (cg.v1_memory) {
    WalkUp(*cg.v1_memory, [&](const std::string& d) {
      if (auto s = ReadSmall(env, d + "/memory.limit_in_bytes"))
        if (auto lim = ParseUint(*s); lim && *lim < kV1Unlimited)
          take_mem(*lim, used(d, "memory.usage_in_bytes", "total_inactive_file"), d + "/memory.limit_in_bytes");
    });
  }
  if (headroom != std::numeric_limits<uint64_t>::max()) r.usable_memory = headroom;  // combined below
}

}  // namespace

GpuProbe ProbeGpus(Env* env) {
  GpuProbe g;
  static_cast<GpuInventory&>(g) = env->ListGpus();
  auto mask = env->GetEnvVar("CUDA_VISIBLE_DEVICES");
  if (!mask) mask = env->GetEnvVar("SLURM_JOB_GPUS");  // indices on the node, as CUDA counts them in PCI order
  g.visible = static_cast<int>(VisibleGpuIndices(g.devices, mask).size());
  return g;
}

Resources DetectResources(Env* env) {
  Resources r;
  r.affinity_cpus = env->AffinityCpuCount();
  r.physical_memory = env->PhysicalMemoryBytes();
  if (auto mi = ReadSmall(env, "/proc/meminfo")) r.mem_available = StatField(*mi, "MemAvailable").value_or(0);
  DetectCgroups(env, r);
  uint64_t cgroup_room = r.usable_memory;  // 0 when no cgroup limit

  // Allocation: MPI ranks sharing this node, then Slurm's per-task share.
  int local_ranks = 1;
  if (auto s = EnvUint(env, "OMPI_COMM_WORLD_SIZE")) {
    r.mpi_kind = "openmpi";
    r.mpi_world_size = static_cast<int>(*s);
    r.mpi_rank = static_cast<int>(EnvUint(env, "OMPI_COMM_WORLD_RANK").value_or(0));
    r.mpi_local_size = static_cast<int>(EnvUint(env, "OMPI_COMM_WORLD_LOCAL_SIZE").value_or(1));
  } else if (auto p = EnvUint(env, "PMI_SIZE")) {
    r.mpi_kind = "pmi";
    r.mpi_world_size = static_cast<int>(*p);
    r.mpi_rank = static_cast<int>(EnvUint(env, "PMI_RANK").value_or(0));
    r.mpi_local_size = static_cast<int>(EnvUint(env, "MPI_LOCALNRANKS").value_or(1));
  } else if (auto x = EnvUint(env, "PMIX_RANK")) {
    r.mpi_kind = "pmix";
    r.mpi_rank = static_cast<int>(*x);
  }
  if (r.mpi_local_size > 1) local_ranks = r.mpi_local_size;
  if (!r.mpi_kind.empty() && r.mpi_world_size > 1)
    r.notes.push_back(fmt::format("MPI: {} ranks ({} on this node); sluice runs a job in one process, so this rank "
                                  "plans for its share of the node only",
                                  r.mpi_world_size, std::max(1, r.mpi_local_size)));

  if (auto id = env->GetEnvVar("SLURM_JOB_ID")) {
    r.slurm_job_id = *id;
    r.slurm_ntasks = static_cast<int>(EnvUint(env, "SLURM_NTASKS").value_or(1));
    int tasks_here = static_cast<int>(EnvUint(env, "SLURM_NTASKS_PER_NODE").value_or(static_cast<uint64_t>(local_ranks)));
    tasks_here = std::max(tasks_here, 1);
    if (auto c = EnvUint(env, "SLURM_CPUS_PER_TASK"); c && *c > 0) r.slurm_cpus = static_cast<int>(*c);
    else if (auto n = EnvUint(env, "SLURM_CPUS_ON_NODE"); n && *n > 0) r.slurm_cpus = std::max(1, static_cast<int>(*n) / tasks_here);
    if (auto m = EnvUint(env, "SLURM_MEM_PER_NODE"); m && *m > 0) {
      r.slurm_memory = (*m << 20) / static_cast<uint64_t>(tasks_here);
    } else if (auto c = EnvUint(env, "SLURM_MEM_PER_CPU"); c && *c > 0) {
      int cpus = r.slurm_cpus > 0 ? r.slurm_cpus : std::max(1, r.affinity_cpus);
      r.slurm_memory = (*c << 20) * static_cast<uint64_t>(cpus);
    }
  }

  // CPUs: the tightest of affinity, cgroup quota (rounded: 1.5 cores of CPU time keep 2 threads busy
  // three quarters of the time, more than 1 thread gets), Slurm, and the MPI share when ranks share a node.
  int cpus = std::max(1, r.affinity_cpus);
  r.cpu_reason = fmt::format("{} CPU(s) in the affinity mask", r.affinity_cpus);
  if (r.affinity_cpus <= 0) r.cpu_reason = "affinity mask unreadable: 1 CPU assumed";
  if (local_ranks > 1 && cpus / local_ranks < cpus) {
    cpus = std::max(1, cpus / local_ranks);
    r.cpu_reason += fmt::format(", shared by {} MPI ranks on this node: {}", local_ranks, cpus);
  }
  if (r.cgroup_cpu_quota > 0) {
    int q = std::max(1, static_cast<int>(std::lround(r.cgroup_cpu_quota)));
    if (q < cpus) {
      cpus = q;
      r.cpu_reason += fmt::format(", cgroup quota {:.2f} cores ({}): {}", r.cgroup_cpu_quota, r.cgroup_cpu_source, q);
    }
  }
  if (r.slurm_cpus > 0 && r.slurm_cpus < cpus) {
    cpus = r.slurm_cpus;
    r.cpu_reason += fmt::format(", Slurm allocation: {}", cpus);
  }
  r.usable_cpus = cpus;

  // Memory: what the machine has available (split between co-located ranks), capped by the cgroup's
  // headroom and by Slurm's per-task memory.
  uint64_t mem = r.mem_available > 0 ? r.mem_available : r.physical_memory;
  r.memory_reason = r.mem_available > 0 ? "MemAvailable from /proc/meminfo" : "physical memory (MemAvailable unreadable)";
  if (local_ranks > 1) {
    mem /= static_cast<uint64_t>(local_ranks);
    r.memory_reason += fmt::format(", shared by {} MPI ranks on this node", local_ranks);
  }
  if (r.cgroup_memory_limit > 0 && cgroup_room < mem) {
    mem = cgroup_room;
    r.memory_reason += fmt::format(", cgroup limit {} bytes with {} in use ({})", r.cgroup_memory_limit, r.cgroup_memory_used,
                                   r.cgroup_memory_source);
  }
  if (r.slurm_memory > 0 && r.slurm_memory < mem) {
    mem = r.slurm_memory;
    r.memory_reason += ", Slurm memory per task";
  }
  r.usable_memory = mem;

  r.gpus = ProbeGpus(env);
  return r;
}

void Resources::ToJson(JsonWriter& w) const {
  w.BeginObject();
  w.Key("cpu").BeginObject().Field("affinity_cpus", affinity_cpus).Field("cgroup_quota_cores", cgroup_cpu_quota);
  if (!cgroup_cpu_source.empty()) w.Field("cgroup_quota_source", cgroup_cpu_source);
  w.Field("slurm_cpus", slurm_cpus).Field("usable_cpus", usable_cpus).Field("reason", cpu_reason).EndObject();
  w.Key("memory").BeginObject().Field("physical_bytes", physical_memory).Field("mem_available_bytes", mem_available);
  w.Field("cgroup_limit_bytes", cgroup_memory_limit).Field("cgroup_used_bytes", cgroup_memory_used);
  if (!cgroup_memory_source.empty()) w.Field("cgroup_limit_source", cgroup_memory_source);
  w.Field("slurm_bytes", slurm_memory).Field("usable_bytes", usable_memory).Field("reason", memory_reason).EndObject();
  w.Field("cgroup_version", cgroup_version);
  w.Key("gpu").BeginObject().Field("library", gpus.library).Field("count", static_cast<uint64_t>(gpus.devices.size()));
  w.Field("visible", gpus.visible);
  if (!gpus.error.empty()) w.Field("error", gpus.error);
  w.Key("devices").BeginArray();
  for (const auto& d : gpus.devices)
    w.BeginObject().Field("index", d.index).Field("uuid", d.uuid).Field("pci_bus_id", d.pci_bus_id).Field("name", d.name)
        .Field("memory_total_bytes", d.memory_total).Field("memory_free_bytes", d.memory_free).EndObject();
  w.EndArray().EndObject();
  w.Key("allocation").BeginObject();
  if (!slurm_job_id.empty()) w.Key("slurm").BeginObject().Field("job_id", slurm_job_id).Field("ntasks", slurm_ntasks).EndObject();
  if (!mpi_kind.empty())
    w.Key("mpi").BeginObject().Field("kind", mpi_kind).Field("world_size", mpi_world_size).Field("rank", mpi_rank)
        .Field("local_size", mpi_local_size).EndObject();
  w.EndObject();
  w.Key("notes").BeginArray();
  for (const auto& n : notes) w.String(n);
  w.EndArray().EndObject();
}

}  // namespace sluice
