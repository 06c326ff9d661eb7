// Memory limits with the kernel's own cgroups (skipped where this process cannot create one): an attempt
// past its limit is OOM-killed inside its cgroup and reported as such; one within it is not; the cgroup
// is gone afterwards.
#include "manager/limits.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "io/process.h"

namespace sluice::manager {
namespace {

struct LimitsTest : ::testing::Test {
  std::string dir;
  std::unique_ptr<MemoryLimits> limits;
  PosixProcesses procs{Env::Default()};
  void SetUp() override {
    char tmpl[] = "/tmp/sluice-limits-XXXXXX";
    dir = mkdtemp(tmpl);
    std::string note;
    limits = OpenMemoryLimits(Env::Default(), dir, &note);
    if (!limits) GTEST_SKIP() << "no memory cgroup to use here: " << note;
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  // Runs `python3 -c code` confined to `bytes` as attempt `n` of job 1; returns its exit status.
  ExitStatus Run(int n, uint64_t bytes, const std::string& code) {
    int go = -1;
    LaunchRequest req{{"python3", "-c", code}, dir, {}, dir + "/out", dir + "/err", dir + "/status"};
    ProcessIdentity id = procs.Spawn(req, &go);
    limits->Confine(1, n, bytes, id.pid);
    procs.Release(go);
    for (int i = 0; i < 3000; ++i) {
      if (auto s = procs.Reap(id.pid)) return *ReadStatusFile(dir + "/status");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the attempt did not end";
    return {};
  }
};

TEST_F(LimitsTest, PastTheLimitIsAnOomKill) {
  ExitStatus s = Run(1, 64 << 20, "x = bytearray(512 << 20)");
  EXPECT_EQ(s.kind, ExitStatus::kSignaled);
  EXPECT_EQ(s.value, 9);
  EXPECT_TRUE(limits->Release(1, 1));
  EXPECT_FALSE(limits->Release(1, 1)) << "the cgroup is gone";
}

TEST_F(LimitsTest, WithinTheLimitIsNot) {
  ExitStatus s = Run(2, 256 << 20, "x = bytearray(16 << 20)");
  EXPECT_EQ(s.kind, ExitStatus::kExited);
  EXPECT_EQ(s.value, 0);
  EXPECT_FALSE(limits->Release(1, 2));
}

}  // namespace
}  // namespace sluice::manager
