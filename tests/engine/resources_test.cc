// Resource detection and the auto-configuration decision (engine/resources.h, engine/auto_config.h) on
// machines presented through an injected Env: cgroup v2 and v1 limits, none, Slurm, MPI, a fake NVML; and
// the decision on inputs of every modality, big and small records, explicit settings and resumes.
#include "engine/resources.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <simdjson.h>

#include "core/error.h"
#include "engine/auto_config.h"
#include "temp_dir.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = 1 << 20, kGiB = 1 << 30;

// Forwards to the real Env except: files under /proc and /sys come only from `files` (a closed world,
// so the test machine's own cgroups never leak in), environment variables only from `vars`, and the
// affinity mask and physical memory are set values.
class FakeMachineEnv : public EnvWrapper {
 public:
  FakeMachineEnv() : EnvWrapper(Env::Default()) {}
  std::map<std::string, std::string> files, vars;
  int cpus = 8;
  uint64_t physical = 64 * kGiB;

  size_t ReadAt(const std::string& path, uint64_t offset, size_t n, char* buf) override {
    if (path.rfind("/proc/", 0) != 0 && path.rfind("/sys/", 0) != 0) return target()->ReadAt(path, offset, n, buf);
    auto it = files.find(path);
    if (it == files.end()) Fail(ErrorKind::kInput, "cannot open '{}': No such file or directory", path);
    if (offset >= it->second.size()) return 0;
    size_t k = std::min<size_t>(n, it->second.size() - offset);
    std::memcpy(buf, it->second.data() + offset, k);
    return k;
  }
  std::optional<std::string> GetEnvVar(const std::string& name) override {
    auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  int AffinityCpuCount() override { return cpus; }
  uint64_t PhysicalMemoryBytes() override { return physical; }

  void MemAvailable(uint64_t bytes) {
    files["/proc/meminfo"] = fmt::format("MemTotal:       {} kB\nMemFree:        1000 kB\nMemAvailable:   {} kB\n", physical / 1024, bytes / 1024);
  }
  // A cgroup v2 machine with the process in `path`.
  void CgroupV2(const std::string& path) {
    files["/proc/self/cgroup"] = "0::" + path + "\n";
    files["/proc/self/mountinfo"] =
        "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
        "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate\n";
  }

};

class ResourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_.MemAvailable(48 * kGiB);
    env_.vars["SLUICE_NVML_LIBRARY"] = "/nonexistent/libnvidia-ml.so.1";  // no GPUs unless a test says so
  }

  std::vector<InputFile> Write(const std::string& name, const std::vector<std::string>& lines, int repeat = 1) {
    std::string path = (dir_ / name).string();
    std::ofstream out(path);
    for (int r = 0; r < repeat; ++r)
      for (const auto& l : lines) out << l << "\n";
    out.close();
    return {InputFile{path, fs::file_size(path), 0, 0}};
  }

  FakeMachineEnv env_;
  testing::TempDir tmp_{"sluice-resources"};
  fs::path dir_{tmp_.path()};
};

TEST_F(ResourcesTest, CgroupV2QuotaAndMemoryLimit) {
  env_.CgroupV2("/job.slice/job-1.scope");
  env_.files["/sys/fs/cgroup/job.slice/job-1.scope/cpu.max"] = "150000 100000\n";
  env_.files["/sys/fs/cgroup/job.slice/job-1.scope/memory.max"] = fmt::format("{}\n", 2 * kGiB);
  env_.files["/sys/fs/cgroup/job.slice/job-1.scope/memory.current"] = fmt::format("{}\n", 512 * kMiB);
  env_.files["/sys/fs/cgroup/job.slice/job-1.scope/memory.stat"] = fmt::format("anon 1000\ninactive_file {}\nactive_file 5\n", 256 * kMiB);
  env_.files["/sys/fs/cgroup/job.slice/cpu.max"] = "max 100000\n";
  env_.files["/sys/fs/cgroup/job.slice/memory.max"] = "max\n";
  Resources r = DetectResources(&env_);
  EXPECT_EQ(r.cgroup_version, "v2");
  EXPECT_DOUBLE_EQ(r.cgroup_cpu_quota, 1.5);
  EXPECT_EQ(r.cgroup_cpu_source, "/sys/fs/cgroup/job.slice/job-1.scope/cpu.max");
  EXPECT_EQ(r.usable_cpus, 2);  // 1.5 cores rounded to nearest
  EXPECT_EQ(r.cgroup_memory_limit, 2 * kGiB);
  EXPECT_EQ(r.cgroup_memory_used, 256 * kMiB);  // 512 charged, 256 of it reclaimable cache
  EXPECT_EQ(r.usable_memory, 2 * kGiB - 256 * kMiB);
  EXPECT_NE(r.memory_reason.find("cgroup limit"), std::string::npos);

  // The decision never plans more workers than the quota allows, and fits the 2 GiB.
  InputSample s;
  s.files = 1;
  s.total_bytes = s.plain_bytes = 10 * kGiB;
  s.records = 1000;
  s.mean_record_bytes = 2000;
  AutoRequest q;
  q.enabled = true;
  AutoDecision d = Decide(r, s, q);
  EXPECT_GE(d.np.value, 1);
  EXPECT_LE(d.np.value, 2);
  EXPECT_EQ(d.np.source, Source::kAuto);
  EXPECT_LE(d.worker_memory * static_cast<uint64_t>(d.np.value), d.memory_budget);
  EXPECT_LE(d.max_size_mb.value, 64);
}

TEST_F(ResourcesTest, CgroupV2AncestorLimitIsTheTightest) {
  env_.CgroupV2("/a/b");
  env_.files["/sys/fs/cgroup/a/b/memory.max"] = fmt::format("{}\n", 4 * kGiB);
  env_.files["/sys/fs/cgroup/a/memory.max"] = fmt::format("{}\n", 1 * kGiB);
  env_.files["/sys/fs/cgroup/a/cpu.max"] = "50000 100000\n";
  Resources r = DetectResources(&env_);
  EXPECT_EQ(r.cgroup_memory_limit, 1 * kGiB);
  EXPECT_EQ(r.usable_memory, 1 * kGiB);
  EXPECT_DOUBLE_EQ(r.cgroup_cpu_quota, 0.5);
  EXPECT_EQ(r.usable_cpus, 1);  // never below one
}

TEST_F(ResourcesTest, CgroupV1Layout) {
  // Docker on a v1 host: the container sees its own cgroup as the mount root of the memory hierarchy.
  env_.files["/proc/self/cgroup"] = "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:pids:/docker/abc\n";
  env_.files["/proc/self/mountinfo"] =
      "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";
  env_.files["/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us"] = "300000\n";
  env_.files["/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us"] = "100000\n";
  env_.files["/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us"] = "-1\n";
  env_.files["/sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_period_us"] = "100000\n";
  env_.files["/sys/fs/cgroup/memory/memory.limit_in_bytes"] = fmt::format("{}\n", 3 * kGiB);
  env_.files["/sys/fs/cgroup/memory/memory.usage_in_bytes"] = fmt::format("{}\n", 1 * kGiB);
  env_.files["/sys/fs/cgroup/memory/memory.stat"] = fmt::format("cache 5\ntotal_inactive_file {}\n", 512 * kMiB);
  Resources r = DetectResources(&env_);
  EXPECT_EQ(r.cgroup_version, "v1");
  EXPECT_DOUBLE_EQ(r.cgroup_cpu_quota, 3.0);
  EXPECT_EQ(r.usable_cpus, 3);
  EXPECT_EQ(r.cgroup_memory_limit, 3 * kGiB);
  EXPECT_EQ(r.usable_memory, 3 * kGiB - 512 * kMiB);
  EXPECT_EQ(r.cgroup_memory_source, "/sys/fs/cgroup/memory/memory.limit_in_bytes");
}

TEST_F(ResourcesTest, CgroupV1UnlimitedIsNoLimit) {
  env_.files["/proc/self/cgroup"] = "4:memory:/\n1:cpu:/\n0::/\n";
  env_.files["/proc/self/mountinfo"] =
      "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
      "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
  env_.files["/sys/fs/cgroup/memory/memory.limit_in_bytes"] = "9223372036854771712\n";
  env_.files["/sys/fs/cgroup/cpu/cpu.cfs_quota_us"] = "-1\n";
  env_.files["/sys/fs/cgroup/cpu/cpu.cfs_period_us"] = "100000\n";
  Resources r = DetectResources(&env_);
  EXPECT_EQ(r.cgroup_version, "hybrid");
  EXPECT_EQ(r.cgroup_memory_limit, 0u);
  EXPECT_EQ(r.cgroup_cpu_quota, 0);
  EXPECT_EQ(r.usable_cpus, 8);
  EXPECT_EQ(r.usable_memory, 48 * kGiB);
}

TEST_F(ResourcesTest, NoLimits) {
  env_.CgroupV2("/");
  env_.cpus = 4;
  env_.MemAvailable(8 * kGiB);
  Resources r = DetectResources(&env_);
  EXPECT_EQ(r.cgroup_cpu_quota, 0);
  EXPECT_EQ(r.cgroup_memory_limit, 0u);
  EXPECT_EQ(r.usable_cpus, 4);
  EXPECT_EQ(r.usable_memory, 8 * kGiB);
  EXPECT_TRUE(r.slurm_job_id.empty());
  EXPECT_TRUE(r.mpi_kind.empty());
  EXPECT_TRUE(r.gpus.devices.empty());

  // Nothing readable at all: physical memory, affinity, no cgroups; still a usable answer.
  FakeMachineEnv bare;
  bare.vars["SLUICE_NVML_LIBRARY"] = "/nonexistent/nvml.so";
  Resources b = DetectResources(&bare);
  EXPECT_EQ(b.cgroup_version, "none");
  EXPECT_EQ(b.usable_memory, 64 * kGiB);
  EXPECT_EQ(b.usable_cpus, 8);
}

TEST_F(ResourcesTest, SlurmAllocation) {
  env_.vars["SLURM_JOB_ID"] = "4242";
  env_.vars["SLURM_NTASKS"] = "1";
  env_.vars["SLURM_CPUS_PER_TASK"] = "3";
  env_.vars["SLURM_CPUS_ON_NODE"] = "16";
  env_.vars["SLURM_MEM_PER_NODE"] = "4096";  // MB
  Resources r = DetectResources(&env_);
  EXPECT_EQ(r.slurm_job_id, "4242");
  EXPECT_EQ(r.slurm_cpus, 3);
  EXPECT_EQ(r.usable_cpus, 3);
  EXPECT_EQ(r.slurm_memory, 4096 * kMiB);
  EXPECT_EQ(r.usable_memory, 4096 * kMiB);

  // Memory per CPU, CPUs of the node shared by two tasks.
  env_.vars.erase("SLURM_CPUS_PER_TASK");
  env_.vars.erase("SLURM_MEM_PER_NODE");
  env_.vars["SLURM_CPUS_ON_NODE"] = "4";
  env_.vars["SLURM_NTASKS_PER_NODE"] = "2";
  env_.vars["SLURM_MEM_PER_CPU"] = "1000";
  r = DetectResources(&env_);
  EXPECT_EQ(r.usable_cpus, 2);
  EXPECT_EQ(r.usable_memory, 2000 * kMiB);
}

TEST_F(ResourcesTest, MpiRanksShareTheNode) {
  env_.cpus = 16;
  env_.MemAvailable(32 * kGiB);
  env_.vars["OMPI_COMM_WORLD_SIZE"] = "8";
  env_.vars["OMPI_COMM_WORLD_RANK"] = "3";
  env_.vars["OMPI_COMM_WORLD_LOCAL_SIZE"] = "4";
  Resources r = DetectResources(&env_);
  EXPECT_EQ(r.mpi_kind, "openmpi");
  EXPECT_EQ(r.mpi_world_size, 8);
  EXPECT_EQ(r.mpi_rank, 3);
  EXPECT_EQ(r.mpi_local_size, 4);
  EXPECT_EQ(r.usable_cpus, 4);
  EXPECT_EQ(r.usable_memory, 8 * kGiB);
  ASSERT_EQ(r.notes.size(), 1u);

  FakeMachineEnv pmi;
  pmi.MemAvailable(8 * kGiB);
  pmi.vars = {{"PMI_SIZE", "2"}, {"PMI_RANK", "1"}, {"SLUICE_NVML_LIBRARY", "/nonexistent"}};
  Resources p = DetectResources(&pmi);
  EXPECT_EQ(p.mpi_kind, "pmi");
  EXPECT_EQ(p.mpi_world_size, 2);
  EXPECT_EQ(p.mpi_rank, 1);
  EXPECT_EQ(p.usable_cpus, 8);  // one rank on this node
}

TEST_F(ResourcesTest, FakeNvmlReportsItsGpus) {
  env_.vars["SLUICE_NVML_LIBRARY"] = SLUICE_FAKE_NVML;
  GpuProbe g = ProbeGpus(&env_);
  EXPECT_EQ(g.error, "");
  ASSERT_EQ(g.devices.size(), 2u);
  EXPECT_EQ(g.devices[0].name, "Fake GPU A100");
  EXPECT_EQ(g.devices[0].memory_total, 80 * kGiB);
  EXPECT_EQ(g.devices[0].memory_free, 79 * kGiB);
  EXPECT_EQ(g.devices[0].uuid, "GPU-0a1b2c3d-0000-1111-2222-333344445555");
  EXPECT_EQ(g.devices[0].pci_bus_id, "00000000:3B:00.0");
  EXPECT_EQ(g.devices[1].name, "Fake GPU T4");
  EXPECT_EQ(g.devices[1].index, 1);
  EXPECT_EQ(g.visible, 2);
  env_.vars["CUDA_VISIBLE_DEVICES"] = "1";
  EXPECT_EQ(ProbeGpus(&env_).visible, 1);
  env_.vars["CUDA_VISIBLE_DEVICES"] = "GPU-9f8e,7";  // a UUID prefix, then an index that is no device
  EXPECT_EQ(ProbeGpus(&env_).visible, 1);
  env_.vars["CUDA_VISIBLE_DEVICES"] = "";
  EXPECT_EQ(ProbeGpus(&env_).visible, 0);

  // Through the whole detection and into the decision's record.
  env_.vars.erase("CUDA_VISIBLE_DEVICES");
  Resources r = DetectResources(&env_);
  EXPECT_EQ(r.gpus.devices.size(), 2u);
  JsonWriter w;
  r.ToJson(w);
  EXPECT_NE(w.str().find("\"name\":\"Fake GPU T4\""), std::string::npos);
}

TEST_F(ResourcesTest, NvmlInitFailureMeansNoGpus) {
  env_.vars["SLUICE_NVML_LIBRARY"] = SLUICE_FAKE_NVML;
  ::setenv("FAKE_NVML_INIT_FAIL", "1", 1);  // read by the fake library itself, not through Env
  GpuProbe g = ProbeGpus(&env_);
  ::unsetenv("FAKE_NVML_INIT_FAIL");
  EXPECT_TRUE(g.devices.empty());
  EXPECT_NE(g.error.find("nvmlInit_v2 failed: Driver Not Loaded (code 9)"), std::string::npos) << g.error;
}

TEST_F(ResourcesTest, MissingNvmlMeansNoGpus) {
  env_.vars["SLUICE_NVML_LIBRARY"] = (dir_ / "libnvidia-ml.so.1").string();
  GpuProbe g = ProbeGpus(&env_);
  EXPECT_TRUE(g.devices.empty());
  EXPECT_NE(g.error.find("NVML not loaded"), std::string::npos) << g.error;
  EXPECT_NE(g.error.find("libnvidia-ml.so.1"), std::string::npos) << g.error;
  // A library without NVML's entry points is not taken for one.
  env_.vars["SLUICE_NVML_LIBRARY"] = "libz.so.1";
  g = ProbeGpus(&env_);
  EXPECT_TRUE(g.devices.empty());
  EXPECT_NE(g.error.find("lacks NVML entry points"), std::string::npos) << g.error;
}

TEST(VisibleGpus, FollowsCudaVisibleDevicesRules) {
  std::vector<GpuDevice> d(3);
  for (int i = 0; i < 3; ++i) d[i].index = i;
  d[0].uuid = "GPU-aaaa-1";
  d[1].uuid = "GPU-aaab-2";
  d[2].uuid = "GPU-bbbb-3";
  using V = std::vector<int>;
  EXPECT_EQ(VisibleGpuIndices(d, std::nullopt), (V{0, 1, 2}));
  EXPECT_EQ(VisibleGpuIndices(d, "2,0"), (V{2, 0}));                 // mask order
  EXPECT_EQ(VisibleGpuIndices(d, "0,0,1"), (V{0, 1}));               // duplicates once
  EXPECT_EQ(VisibleGpuIndices(d, "1,5,2"), (V{1}));                  // stops at the first invalid entry
  EXPECT_EQ(VisibleGpuIndices(d, "GPU-bbbb,GPU-aaaa-1"), (V{2, 0}));  // UUIDs and unique prefixes
  EXPECT_EQ(VisibleGpuIndices(d, "GPU-aaa"), V{});                   // an ambiguous prefix names nothing
  EXPECT_EQ(VisibleGpuIndices(d, " 1 , 2 "), (V{1, 2}));
  EXPECT_EQ(VisibleGpuIndices(d, ""), V{});
  EXPECT_EQ(VisibleGpuIndices(d, "-1"), V{});
  EXPECT_EQ(VisibleGpuIndices(d, "NoDevFiles"), V{});
  EXPECT_EQ(VisibleGpuIndices(d, "MIG-1234,0"), V{});
}

// A test presents any GPUs by overriding Env::ListGpus; the detection takes them from there.
TEST(VisibleGpus, InventoryComesFromTheEnv) {
  struct TwoGpuEnv : EnvWrapper {
    TwoGpuEnv() : EnvWrapper(Env::Default()) {}
    GpuInventory ListGpus() override {
      GpuInventory g;
      g.library = "injected";
      g.devices.resize(2);
      g.devices[1].index = 1;
      g.devices[1].uuid = "GPU-x";
      return g;
    }
    std::optional<std::string> GetEnvVar(const std::string& name) override {
      if (name == "CUDA_VISIBLE_DEVICES") return "GPU-x";
      return name == "SLURM_JOB_GPUS" ? std::nullopt : EnvWrapper::GetEnvVar(name);
    }
  } env;
  GpuProbe g = ProbeGpus(&env);
  EXPECT_EQ(g.library, "injected");
  EXPECT_EQ(g.devices.size(), 2u);
  EXPECT_EQ(g.visible, 1);
}

// On a machine with an NVIDIA driver the real NVML must report its GPUs.
TEST(RealNvml, ReportsTheGpusOfThisMachine) {
  void* h = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (h != nullptr) ::dlclose(h);
  if (h == nullptr && !fs::exists("/dev/nvidiactl")) GTEST_SKIP() << "no NVIDIA driver on this machine";
  if (Env::Default()->GetEnvVar("SLUICE_NVML_LIBRARY")) GTEST_SKIP() << "SLUICE_NVML_LIBRARY is set";
  GpuProbe g = ProbeGpus(Env::Default());
  EXPECT_EQ(g.error, "");
  ASSERT_GE(g.devices.size(), 1u);
  for (const auto& d : g.devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GT(d.memory_total, 0u);
    EXPECT_EQ(d.uuid.rfind("GPU-", 0), 0u) << d.uuid;
    std::printf("GPU %d: %s, %s, %s, %llu MiB\n", d.index, d.name.c_str(), d.uuid.c_str(), d.pci_bus_id.c_str(),
                static_cast<unsigned long long>(d.memory_total >> 20));
  }
}

// --- sampling: modality from the record's fields ---

std::string JsonOf(const InputSample& s) {
  JsonWriter w;
  s.ToJson(w);
  return w.Take();
}

TEST_F(ResourcesTest, SampleModalities) {
  SampleKeys keys;
  auto text = Write("text.jsonl", {R"({"text":"héllo wörld"})", R"({"text":"plain"})"});
  InputSample s = SampleInput(&env_, text, keys);
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.modality, Modality::kText);
  EXPECT_DOUBLE_EQ(s.mean_text_bytes, (13.0 + 5.0) / 2);  // UTF-8 bytes
  EXPECT_DOUBLE_EQ(s.mean_text_chars, (11.0 + 5.0) / 2);  // code points
  EXPECT_EQ(s.media_bytes_per_record, 0);

  auto img = Write("img.jsonl", {R"({"images":["a.jpg","b.jpg"]})", R"({"images":["c.jpg"],"text":""})"});
  s = SampleInput(&env_, img, keys);
  EXPECT_EQ(s.modality, Modality::kImage);
  EXPECT_DOUBLE_EQ(s.images_per_record, 1.5);
  EXPECT_DOUBLE_EQ(s.media_bytes_per_record, 1.5 * (kMiB / 2));

  auto audio = Write("audio.jsonl", {R"({"audios":"x.wav"})"});
  EXPECT_EQ(SampleInput(&env_, audio, keys).modality, Modality::kAudio);
  auto video = Write("video.jsonl", {R"({"videos":["v.mp4"]})", R"({"videos":[]})"});
  s = SampleInput(&env_, video, keys);
  EXPECT_EQ(s.records_by_modality[int(Modality::kVideo)], 1u);
  EXPECT_EQ(s.records_by_modality[int(Modality::kText)], 1u);  // no field set: text, as DataJuicer
  EXPECT_EQ(s.modality, Modality::kVideo);                      // the tie goes to the heavier
  EXPECT_EQ(s.sizing_modality, Modality::kVideo);

  auto mm = Write("mm.jsonl", {R"({"text":"<__dj__image> a cat","images":["cat.jpg"]})", R"({"text":"t"})",
                               R"({"text":"x","images":["y.png"]})"});
  s = SampleInput(&env_, mm, keys);
  EXPECT_EQ(s.modality, Modality::kMultimodal);
  EXPECT_EQ(s.sizing_modality, Modality::kMultimodal);

  // Recipe keys name the fields; a bad line is counted, not fatal.
  SampleKeys custom;
  custom.text_keys = {"content"};
  custom.image_key = "pics";
  auto own = Write("own.jsonl", {R"({"content":"abc","pics":["p.jpg"]})", "not json"});
  s = SampleInput(&env_, own, custom);
  EXPECT_EQ(s.records, 1u);
  EXPECT_EQ(s.bad_lines, 1u);
  EXPECT_EQ(s.modality, Modality::kMultimodal);
}

TEST_F(ResourcesTest, SampleIsBoundedAndDeterministic) {
  std::string rec = fmt::format(R"({{"text":"{}"}})", std::string(1000, 'a'));
  auto files = Write("big.jsonl", {rec}, 10000);  // ~10 MB
  SampleLimits lim;
  lim.max_bytes = 256 << 10;
  lim.max_records = 100000;
  InputSample a = SampleInput(&env_, files, {}, lim);
  EXPECT_LE(a.sampled_bytes, lim.max_bytes + rec.size() + 1);
  EXPECT_GT(a.records, 100u);
  EXPECT_DOUBLE_EQ(a.mean_record_bytes, rec.size() + 1.0);
  EXPECT_EQ(a.plain_bytes, files[0].size);
  lim.max_records = 50;
  InputSample b = SampleInput(&env_, files, {}, lim);
  EXPECT_EQ(b.records, 50u);
  InputSample c = SampleInput(&env_, files, {}, lim);
  EXPECT_EQ(JsonOf(b), JsonOf(c));
}

// --- the decision ---

Resources Machine(int cpus, uint64_t memory) {
  Resources r;
  r.usable_cpus = cpus;
  r.usable_memory = memory;
  return r;
}

InputSample Data(uint64_t total, double record_bytes, Modality m = Modality::kText, double media = 0) {
  InputSample s;
  s.files = 1;
  s.total_bytes = s.plain_bytes = total;
  s.records = 100;
  s.mean_record_bytes = record_bytes;
  s.max_record_bytes = static_cast<uint64_t>(record_bytes);
  s.records_by_modality[int(m)] = 100;
  s.modality = s.sizing_modality = m;
  s.media_bytes_per_record = media;
  return s;
}

AutoRequest On() {
  AutoRequest q;
  q.enabled = true;
  return q;
}

TEST_F(ResourcesTest, DecisionTextOnABigMachine) {
  AutoDecision d = Decide(Machine(16, 64 * kGiB), Data(100 * kGiB, 2000), On());
  EXPECT_EQ(d.np.value, 16);
  EXPECT_EQ(d.max_size_mb.value, 64);  // the target
  EXPECT_EQ(d.partition_records.value, 0);  // text: no record cap
  EXPECT_EQ(d.estimated_partitions, 1600u);
  EXPECT_DOUBLE_EQ(d.expansion, 2.125);  // two partitions' output per worker, each with the journal's 1/16 slack
  // Small input: partitions shrink so every worker gets one.
  d = Decide(Machine(8, 64 * kGiB), Data(80 * kMiB, 2000), On());
  EXPECT_EQ(d.np.value, 8);
  EXPECT_EQ(d.max_size_mb.value, 10);
  // Tiny input: one partition, one worker.
  d = Decide(Machine(8, 64 * kGiB), Data(100 * 1024, 2000), On());
  EXPECT_EQ(d.np.value, 1);
  EXPECT_EQ(d.estimated_partitions, 1u);
}

TEST_F(ResourcesTest, DecisionMemoryBoundsWorkersAndSize) {
  // 1 GiB usable: a 512 MiB budget; 16 CPUs but 16 x (32 MiB + 2 x 64 MiB) would not fit.
  AutoDecision d = Decide(Machine(16, 1 * kGiB), Data(100 * kGiB, 2000), On());
  EXPECT_LE(d.np.value, 15);
  EXPECT_GE(d.np.value, 1);
  EXPECT_LT(d.max_size_mb.value, 64);
  EXPECT_LE(d.worker_memory * static_cast<uint64_t>(d.np.value), d.memory_budget);
  EXPECT_NE(d.max_size_mb.reason.find("memory"), std::string::npos) << d.max_size_mb.reason;
}

TEST_F(ResourcesTest, DecisionPerModality) {
  Resources m = Machine(8, 16 * kGiB);
  double img = 0.5 * kMiB, aud = 2.0 * kMiB, vid = 10.0 * kMiB;
  AutoDecision t = Decide(m, Data(10 * kGiB, 2000), On());
  AutoDecision i = Decide(m, Data(10 * kGiB, 2000, Modality::kImage, img), On());
  AutoDecision a = Decide(m, Data(10 * kGiB, 2000, Modality::kAudio, aud), On());
  AutoDecision v = Decide(m, Data(10 * kGiB, 2000, Modality::kVideo, vid), On());
  AutoDecision mm = Decide(m, Data(10 * kGiB, 2000, Modality::kMultimodal, img), On());
  EXPECT_EQ(i.partition_records.value, 5000);
  EXPECT_EQ(a.partition_records.value, 2000);
  EXPECT_EQ(v.partition_records.value, 1000);
  EXPECT_EQ(mm.partition_records.value, 3000);
  // Heavier media per record: more memory per input byte, smaller partitions.
  EXPECT_GT(i.expansion, t.expansion);
  EXPECT_GT(a.expansion, i.expansion);
  EXPECT_GT(v.expansion, a.expansion);
  EXPECT_GT(t.max_size_mb.value, i.max_size_mb.value);
  EXPECT_GT(i.max_size_mb.value, a.max_size_mb.value);
  EXPECT_GT(a.max_size_mb.value, v.max_size_mb.value);
  for (const auto* d : {&t, &i, &a, &v, &mm}) EXPECT_LE(d->worker_memory * static_cast<uint64_t>(d->np.value), d->memory_budget);
}

TEST_F(ResourcesTest, DecisionBigVersusSmallRecords) {
  Resources m = Machine(4, 8 * kGiB);
  // Image records: a path (200 bytes) versus a long caption with the image (200 KB). The same image
  // per record weighs far more per byte of small records, so their partitions hold fewer bytes.
  AutoDecision small = Decide(m, Data(10 * kGiB, 200, Modality::kImage, 0.5 * kMiB), On());
  AutoDecision big = Decide(m, Data(10 * kGiB, 200000, Modality::kImage, 0.5 * kMiB), On());
  EXPECT_GT(small.expansion, 100 * big.expansion / 10);
  EXPECT_LT(small.max_size_mb.value, big.max_size_mb.value);
  // Text records bigger than the partition: reported.
  InputSample huge = Data(10 * kGiB, 100 * kMiB);
  AutoDecision h = Decide(m, huge, On());
  bool noted = false;
  for (const auto& n : h.notes) noted = noted || n.find("exceeds the partition size") != std::string::npos;
  EXPECT_TRUE(noted);
}

TEST_F(ResourcesTest, ExplicitSettingsWin) {
  Resources m = Machine(16, 64 * kGiB);
  AutoRequest q = On();
  q.np = 3;
  q.np_source = Source::kRecipe;
  q.max_size_mb = 8;
  q.size_source = Source::kCommandLine;
  AutoDecision d = Decide(m, Data(100 * kGiB, 2000), q);
  EXPECT_EQ(d.np.value, 3);
  EXPECT_EQ(d.np.source, Source::kRecipe);
  EXPECT_EQ(d.np.recommended, 16);
  EXPECT_NE(d.np.reason.find("np 3 given (recipe): kept"), std::string::npos) << d.np.reason;
  EXPECT_EQ(d.max_size_mb.value, 8);
  EXPECT_EQ(d.max_size_mb.source, Source::kCommandLine);
  EXPECT_EQ(d.max_size_mb.recommended, 64);
  // partition.size given: no modality cap replaces it.
  q = On();
  q.partition_records = 123;
  q.records_source = Source::kRecipe;
  d = Decide(m, Data(10 * kGiB, 200, Modality::kVideo, 10 * kMiB), q);
  EXPECT_EQ(d.partition_records.value, 123);
  EXPECT_EQ(d.partition_records.source, Source::kRecipe);
  // auto_configure off: the recipe's values, with the recommendation beside them.
  AutoRequest off;
  d = Decide(m, Data(100 * kGiB, 2000), off);
  EXPECT_EQ(d.np.value, 4);
  EXPECT_EQ(d.np.source, Source::kDefault);
  EXPECT_EQ(d.np.recommended, 16);
  EXPECT_EQ(d.max_size_mb.source, Source::kDefault);
}

TEST_F(ResourcesTest, StoredPlanWinsOnResume) {
  AutoRequest q = On();
  q.stored_max_partition_bytes = 3 * kMiB;
  q.stored_partitions = 2;
  AutoDecision d = Decide(Machine(16, 64 * kGiB), Data(6 * kMiB, 2000), q);
  EXPECT_EQ(d.max_size_mb.source, Source::kStoredPlan);
  EXPECT_EQ(d.max_size_mb.value, 3);
  EXPECT_EQ(d.estimated_partitions, 2u);
  EXPECT_EQ(d.np.value, 2);  // no more workers than stored partitions
}

TEST_F(ResourcesTest, EstimatedPartitionsRoundedLikeThePlan) {
  // auto_configure off, np 2 given, 3 MiB of text at 64 MiB partitions: one part by size, but the plan
  // rounds the count up to a multiple of the workers (parts of at least 1 MiB), so 2.
  AutoRequest q;
  q.np = 2;
  q.np_source = Source::kCommandLine;
  q.max_size_mb = 64;
  AutoDecision d = Decide(Machine(2, 64 * kGiB), Data(3 * kMiB, 2000), q);
  EXPECT_EQ(d.estimated_partitions, 2u);
  // Below 2 MiB no part of at least 1 MiB can be added: one partition.
  d = Decide(Machine(2, 64 * kGiB), Data(kMiB + kMiB / 2, 2000), q);
  EXPECT_EQ(d.estimated_partitions, 1u);
  // np 3 over 130 MiB at 64 MiB parts: 3 parts, already a multiple.
  q.np = 3;
  d = Decide(Machine(4, 64 * kGiB), Data(130 * kMiB, 2000), q);
  EXPECT_EQ(d.estimated_partitions, 3u);
  q.np = 4;
  d = Decide(Machine(4, 64 * kGiB), Data(130 * kMiB, 2000), q);
  EXPECT_EQ(d.estimated_partitions, 4u);
}

TEST_F(ResourcesTest, DecisionJsonIsValid) {
  env_.CgroupV2("/x");
  env_.files["/sys/fs/cgroup/x/cpu.max"] = "150000 100000\n";
  Resources r = DetectResources(&env_);
  auto files = Write("t.jsonl", {R"({"text":"a \"quoted\" line"})"}, 10);
  InputSample s = SampleInput(&env_, files, {});
  AutoRequest q = On();
  std::string json = AutoConfigJson(r, s, q, Decide(r, s, q));
  simdjson::dom::parser p;
  simdjson::dom::element root;
  ASSERT_FALSE(p.parse(json).get(root)) << json;
  double np = 0;
  ASSERT_FALSE(root["decision"]["np"]["value"].get(np));
  EXPECT_GE(np, 1);
  EXPECT_LE(np, 2);
  std::string_view src;
  ASSERT_FALSE(root["decision"]["np"]["source"].get(src));
  EXPECT_EQ(src, "auto");
  double quota = 0;
  ASSERT_FALSE(root["resources"]["cpu"]["cgroup_quota_cores"].get(quota));
  EXPECT_EQ(quota, 1.5);
}

}  // namespace
}  // namespace sluice
