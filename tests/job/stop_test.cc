// `sluice stop` decisions (job/stop.h) against a faked process table, host, boot id and clock: a recycled
// pid, another host, a reboot or a zombie are never signalled; SIGTERM is escalated to SIGKILL only after the
// timeout; --force kills at once. The job lock is real (held by this test through another descriptor).
// tests/cli/stop_test.sh does the same with real processes.
#include "job/stop.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "temp_dir.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

class FakeProcessEnv : public EnvWrapper {
 public:
  FakeProcessEnv() : EnvWrapper(Env::Default()) {}
  std::string host = "here", boot = "boot-1";
  std::map<int64_t, ProcessInfo> procs;
  bool obeys_term = true;
  std::vector<std::pair<int64_t, int>> sent;
  double now = 1000;

  std::optional<ProcessInfo> GetProcessInfo(int64_t pid) override {
    auto it = procs.find(pid);
    if (it == procs.end()) return std::nullopt;
    return it->second;
  }
  std::string HostName() override { return host; }
  std::string BootId() override { return boot; }
  int SignalProcess(int64_t pid, int sig) override {
    sent.emplace_back(pid, sig);
    if (!procs.count(pid)) return ESRCH;
    if (sig == SIGKILL || (sig == SIGTERM && obeys_term)) procs.erase(pid);
    return 0;
  }
  double MonotonicSeconds() override { return now; }
  void SleepSeconds(double s) override { now += s; }
};

class StopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFileAtomic(Env::Default(), (dir_ / "job_summary.json").string(), "{\"status\":\"running\"}\n");
  }

  void WritePidFile(int64_t pid, uint64_t ticks, const std::string& host = "here", const std::string& boot = "boot-1") {
    PidFile f;
    f.pid = pid;
    f.start_ticks = ticks;
    f.host = host;
    f.boot_id = boot;
    f.run_id = "r1";
    f.job_id = "job";
    WriteFileAtomic(Env::Default(), Dir() + "/job.pid", f.ToJson());
  }
  void HoldLock() { lock_ = Env::Default()->LockFile(Dir() + "/job.lock", false); }
  std::string Dir() const { return dir_.string(); }
  StopResult Stop(StopOptions opt = {}) { return StopJob(&env_, Dir(), opt); }

  FakeProcessEnv env_;
  testing::TempDir tmp_{"sluice-stop-test"};
  fs::path dir_{tmp_.path()};
  std::unique_ptr<FileLock> lock_;
};

TEST_F(StopTest, PidFileRecordsThisProcessAndIsRemovedAtExit) {
  Env* env = Env::Default();
  {
    PidFileGuard guard(env, Dir(), "job", "run-7");
    std::string why;
    auto f = PidFile::Parse(ReadFile(env, Dir() + "/job.pid"), &why);
    ASSERT_TRUE(f) << why;
    EXPECT_EQ(f->pid, ::getpid());
    EXPECT_EQ(f->start_ticks, env->GetProcessInfo(::getpid())->start_ticks);
    EXPECT_EQ(f->boot_id, env->BootId());
    EXPECT_FALSE(f->boot_id.empty());
    EXPECT_EQ(f->host, env->HostName());
    EXPECT_EQ(f->run_id, "run-7");
  }
  EXPECT_FALSE(env->FileExists(Dir() + "/job.pid"));
}

TEST_F(StopTest, GracefulStopSendsOnlySigterm) {
  env_.procs[4242] = {100, 'S'};
  WritePidFile(4242, 100);
  HoldLock();
  StopResult r = Stop();
  EXPECT_EQ(r.outcome, StopOutcome::kStopped) << r.message;
  EXPECT_EQ(StopExitCode(r.outcome), 0);
  EXPECT_EQ(env_.sent, (std::vector<std::pair<int64_t, int>>{{4242, SIGTERM}}));
}

TEST_F(StopTest, EscalatesToSigkillOnlyAfterTheTimeout) {
  env_.procs[4242] = {100, 'S'};
  env_.obeys_term = false;
  WritePidFile(4242, 100);
  HoldLock();
  double t0 = env_.now;
  StopOptions opt;
  opt.timeout_seconds = 7;
  StopResult r = Stop(opt);
  EXPECT_EQ(r.outcome, StopOutcome::kKilled) << r.message;
  EXPECT_EQ(StopExitCode(r.outcome), 1);
  EXPECT_EQ(env_.sent, (std::vector<std::pair<int64_t, int>>{{4242, SIGTERM}, {4242, SIGKILL}}));
  EXPECT_GE(env_.now - t0, 7.0);
  EXPECT_LT(env_.now - t0, 7.5);
  EXPECT_NE(r.message.find("SIGKILL"), std::string::npos);
}

TEST_F(StopTest, ForceKillsAtOnce) {
  env_.procs[4242] = {100, 'S'};
  env_.obeys_term = false;
  WritePidFile(4242, 100);
  HoldLock();
  StopOptions opt;
  opt.force = true;
  StopResult r = Stop(opt);
  EXPECT_EQ(r.outcome, StopOutcome::kStopped) << r.message;
  EXPECT_EQ(env_.sent, (std::vector<std::pair<int64_t, int>>{{4242, SIGKILL}}));
}

TEST_F(StopTest, NeverSignalsARecycledPid) {
  env_.procs[4242] = {999, 'S'};  // same pid, another start time: another process
  WritePidFile(4242, 100);
  StopResult r = Stop();
  EXPECT_EQ(r.outcome, StopOutcome::kNotRunning) << r.message;
  EXPECT_EQ(StopExitCode(r.outcome), 7);
  HoldLock();  // someone holds the job, but not the recorded process
  r = Stop();
  EXPECT_EQ(r.outcome, StopOutcome::kRefused) << r.message;
  EXPECT_EQ(StopExitCode(r.outcome), 5);
  EXPECT_TRUE(env_.sent.empty());
  EXPECT_NE(r.message.find("another process"), std::string::npos) << r.message;
}

TEST_F(StopTest, RefusesAnotherHost) {
  env_.procs[4242] = {100, 'S'};
  WritePidFile(4242, 100, "elsewhere");
  HoldLock();
  StopResult r = Stop();
  EXPECT_EQ(r.outcome, StopOutcome::kRefused) << r.message;
  EXPECT_NE(r.message.find("elsewhere"), std::string::npos) << r.message;
  EXPECT_TRUE(env_.sent.empty());
}

TEST_F(StopTest, ARebootInvalidatesThePidFile) {
  env_.procs[4242] = {100, 'S'};  // same pid and ticks, but counted since another boot
  WritePidFile(4242, 100, "here", "boot-0");
  StopResult r = Stop();
  EXPECT_EQ(r.outcome, StopOutcome::kNotRunning) << r.message;
  EXPECT_TRUE(env_.sent.empty());
}

TEST_F(StopTest, GoneOrZombieOrNoPidFileIsNotRunning) {
  WritePidFile(4242, 100);
  EXPECT_EQ(Stop().outcome, StopOutcome::kNotRunning);  // no such process
  env_.procs[4242] = {100, 'Z'};
  EXPECT_EQ(Stop().outcome, StopOutcome::kNotRunning);  // exited, not reaped
  fs::remove(dir_ / "job.pid");
  EXPECT_EQ(Stop().outcome, StopOutcome::kNotRunning);
  EXPECT_TRUE(env_.sent.empty());
}

TEST_F(StopTest, AliveButNotHoldingTheLockIsNotSignalled) {
  env_.procs[4242] = {100, 'S'};
  WritePidFile(4242, 100);
  EXPECT_EQ(Stop().outcome, StopOutcome::kNotRunning);
  EXPECT_TRUE(env_.sent.empty());
}

TEST_F(StopTest, LockHeldWithoutPidFileIsRefused) {
  HoldLock();
  StopResult r = Stop();
  EXPECT_EQ(r.outcome, StopOutcome::kRefused) << r.message;
  EXPECT_TRUE(env_.sent.empty());
}

TEST_F(StopTest, NotAJobDirectoryThrows) {
  fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  try {
    StopJob(&env_, empty.string(), {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.exit_code(), 3);
  }
}

TEST(StopSignalsTest, FirstSignalOnlySetsTheFlag) {
  StopSignals s;
  EXPECT_FALSE(s.flag().load());
  ::raise(SIGTERM);
  EXPECT_TRUE(s.flag().load());
  EXPECT_EQ(s.signal(), SIGTERM);
  EXPECT_STREQ(SignalName(s.signal()), "SIGTERM");
}

}  // namespace
}  // namespace sluice
