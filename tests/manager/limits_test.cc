// Runtime limits with the kernel's own mechanisms: memory cgroups (skipped where this process cannot create
// one): an attempt past its limit is OOM-killed inside its cgroup and reported as such, one within it is
// not, and the cgroup is gone afterwards; CPU pinning of a held wrapper reaches the command it starts.
#include "manager/limits.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "io/process.h"
#include "temp_dir.h"

namespace sluice::manager {
namespace {

struct LimitsTest : ::testing::Test {
  testing::TempDir tmp{"sluice-limits"};
  const std::string dir = tmp.path();
  std::string note;
  std::unique_ptr<JobLimits> limits;
  PosixProcesses procs{Env::Default()};
  void SetUp() override { limits = OpenJobLimits(Env::Default(), dir, &note); }
  // Runs `argv` as attempt `n` of job 1, confined to `bytes` (0: no cgroup) and pinned to `cpus`.
  ExitStatus Run(int n, uint64_t bytes, const std::vector<int>& cpus, std::vector<std::string> argv) {
    int go = -1;
    LaunchRequest req{std::move(argv), dir, {}, dir + "/out", dir + "/err", dir + "/status"};
    ProcessIdentity id = procs.Spawn(req, &go);
    if (bytes > 0) limits->Confine(1, n, bytes, id.pid);
    if (!cpus.empty()) limits->Pin(id.pid, cpus);
    procs.Release(go);
    for (int i = 0; i < 3000; ++i) {
      if (procs.Reap(id.pid)) return *ReadStatusFile(dir + "/status");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the attempt did not end";
    return {};
  }
};

TEST_F(LimitsTest, PastTheMemoryLimitIsAnOomKill) {
  if (!limits->memory()) GTEST_SKIP() << "no memory cgroup to use here: " << note;
  ExitStatus s = Run(1, 64 << 20, {}, {"python3", "-c", "x = bytearray(512 << 20)"});
  EXPECT_EQ(s.kind, ExitStatus::kSignaled);
  EXPECT_EQ(s.value, 9);
  EXPECT_TRUE(limits->Release(1, 1));
  EXPECT_FALSE(limits->Release(1, 1)) << "the cgroup is gone";
}

TEST_F(LimitsTest, WithinTheMemoryLimitIsNot) {
  if (!limits->memory()) GTEST_SKIP() << "no memory cgroup to use here: " << note;
  ExitStatus s = Run(2, 256 << 20, {}, {"python3", "-c", "x = bytearray(16 << 20)"});
  EXPECT_EQ(s.kind, ExitStatus::kExited);
  EXPECT_EQ(s.value, 0);
  EXPECT_FALSE(limits->Release(1, 2));
}

TEST_F(LimitsTest, PinningReachesTheCommand) {
  ASSERT_FALSE(limits->cpus().empty()) << "this process's affinity mask";
  int cpu = limits->cpus().back();
  ExitStatus s = Run(3, 0, {cpu}, {"sh", "-c", "grep Cpus_allowed_list /proc/self/status"});
  EXPECT_EQ(s.value, 0);
  std::ifstream out(dir + "/out");
  std::string line;
  std::getline(out, line);
  EXPECT_EQ(line, "Cpus_allowed_list:\t" + std::to_string(cpu));
}

}  // namespace
}  // namespace sluice::manager
