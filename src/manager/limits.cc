#include "manager/limits.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "engine/resources.h"

namespace sluice::manager {
namespace {
void WriteValue(Env* env, const std::string& path, const std::string& value) {
  auto f = env->NewWritableFile(path, false);
  f->Append(value);
  f->Close();
}

// `key value` lines (memory.events, memory.oom_control).
uint64_t Counter(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

// Env removes directories only with their files, and cgroupfs refuses to unlink its control files: a
// cgroup is removed by rmdir alone, once no process is left in it.
bool RemoveCgroup(const std::string& dir) { return ::rmdir(dir.c_str()) == 0 || errno == ENOENT; }

}  // namespace

// FNV-1a (std::hash may differ between builds).
std::string DataDirTag(const std::string& data_dir) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data_dir) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:08x}", static_cast<uint32_t>(h ^ (h >> 32)));
}

std::string JobLimits::Dir(int64_t job, int n) const { return fmt::format("{}{}-a{}", GroupPrefix(), job, n); }

void JobLimits::Confine(int64_t job, int n, uint64_t bytes, int64_t pid) {
  std::string dir = Dir(job, n);
  env_->CreateDirs(dir);
  WriteValue(env_, dir + (version_ == 2 ? "/memory.max" : "/memory.limit_in_bytes"), std::to_string(bytes));
  // Past the limit is an OOM kill, not swapping (v1: memory + swap at the same limit).
  std::string swap = dir + (version_ == 2 ? "/memory.swap.max" : "/memory.memsw.limit_in_bytes");
  if (env_->FileExists(swap)) WriteValue(env_, swap, version_ == 2 ? "0" : std::to_string(bytes));
  WriteValue(env_, dir + "/cgroup.procs", std::to_string(pid));
}

bool JobLimits::Release(int64_t job, int n) {
  if (!memory()) return false;
  std::string dir = Dir(job, n);
  if (!env_->FileExists(dir)) return false;
  auto events = ReadSmall(env_, dir + (version_ == 2 ? "/memory.events" : "/memory.oom_control"));
  bool oom = events && Counter(*events, "oom_kill") > 0;
  // What is left belongs to this attempt (membership is the identity here): its wrapper is gone, so
  // nothing would ever end it.
  for (int round = 0; round < 50 && !RemoveCgroup(dir); ++round) {
    if (auto procs = ReadSmall(env_, dir + "/cgroup.procs")) {
      std::istringstream in(*procs);
      for (long pid; in >> pid;)
        if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
    }
    env_->SleepSeconds(0.01);
  }
  return oom;
}

void JobLimits::Pin(int64_t pid, const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus)
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  if (::sched_setaffinity(static_cast<pid_t>(pid), sizeof set, &set) != 0)
    Fail(ErrorKind::kOutput, "cannot pin process {} to CPUs: {}", pid, std::strerror(errno));
}

namespace {
// The memory cgroup directory below which this daemon can create limited children, and its version;
// "" with the reason in `note` where it cannot.
std::pair<std::string, int> MemoryBase(Env* env, std::string* note) {
  CgroupLayout cg = FindCgroups(env);
  std::string base;
  int version = 1;
  if (cg.v1_memory) {
    base = cg.v1_memory->dir;
  } else if (cg.v2) {
    auto sub = ReadSmall(env, cg.v2->dir + "/cgroup.subtree_control");
    if (!sub || sub->find("memory") == std::string::npos) {
      *note = fmt::format("cgroup v2 {} does not delegate the memory controller to its children", cg.v2->dir);
      return {"", 0};
    }
    base = cg.v2->dir;
    version = 2;
  } else {
    *note = "no memory cgroup found";
    return {"", 0};
  }
  // Probe: a child with a limit file, removed again.
  std::string probe = fmt::format("{}/sluice-probe-{}", base, ::getpid());
  try {
    env->CreateDirs(probe);
    bool ok = env->FileExists(probe + (version == 2 ? "/memory.max" : "/memory.limit_in_bytes"));
    RemoveCgroup(probe);
    if (!ok) {
      *note = fmt::format("{} has no memory limit files", probe);
      return {"", 0};
    }
  } catch (const Error& e) {
    *note = fmt::format("cannot create a cgroup under {}: {}", base, e.what());
    return {"", 0};
  }
  return {base, version};
}
}  // namespace

std::unique_ptr<JobLimits> OpenJobLimits(Env* env, const std::string& data_dir, std::string* memory_note) {
  auto [base, version] = MemoryBase(env, memory_note);
  std::vector<int> cpus;
  cpu_set_t set;
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return std::make_unique<JobLimits>(env, base, version, DataDirTag(data_dir), std::move(cpus));
}

}  // namespace sluice::manager
