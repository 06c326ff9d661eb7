// The attempt wrapper with real processes: exit status files, a held wrapper that runs nothing when the
// daemon never releases it, and a process-group kill that reaches grandchildren.
#include "io/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "io/atomic_file.h"
#include "temp_dir.h"

namespace sluice {
namespace {

struct Fixture : ::testing::Test {
  testing::TempDir tmp{"sluice-proc"};
  const std::string dir = tmp.path();
  PosixProcesses procs{Env::Default()};
  LaunchRequest Req(std::vector<std::string> argv) {
    return {std::move(argv), dir, {{"GREETING", "hi"}}, dir + "/out", dir + "/err", dir + "/status"};
  }
  ExitStatus WaitEnd(int64_t pid) {
    for (int i = 0; i < 1000; ++i) {
      if (auto s = procs.Reap(pid)) return *s;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "process did not end";
    return {};
  }
  std::string Read(const std::string& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // The pid a command wrote to `path` (0 if it did not within 5 s).
  pid_t WaitForPid(const std::string& path) {
    for (int i = 0; i < 500; ++i) {
      std::string text = Read(path);
      if (!text.empty() && text.back() == '\n') return std::stoi(text);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return 0;
  }
  // Whether `pid` ends (or is a zombie, which runs nothing) within 2 s.
  static bool Ends(pid_t pid) {
    for (int i = 0; i < 200; ++i) {
      if (kill(pid, 0) != 0 || Env::Default()->GetProcessInfo(pid).value_or(Env::ProcessInfo{}).state == 'Z') return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
};

TEST_F(Fixture, RecordsExitCodeAndOutput) {
  int go = -1;
  auto id = procs.Spawn(Req({"sh", "-c", "echo $GREETING; echo oops >&2; exit 3"}), &go);
  EXPECT_GT(id.start_ticks, 0u);
  EXPECT_TRUE(procs.Alive(id));
  procs.Release(go);
  ExitStatus st = WaitEnd(id.pid);
  EXPECT_EQ(st.kind, ExitStatus::kExited);
  EXPECT_EQ(st.value, 3);
  auto file = ReadStatusFile(dir + "/status");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->kind, ExitStatus::kExited);
  EXPECT_EQ(file->value, 3);
  EXPECT_EQ(Read(dir + "/out"), "hi\n");
  EXPECT_EQ(Read(dir + "/err"), "oops\n");
  EXPECT_FALSE(procs.Alive(id));
}

TEST_F(Fixture, UnreleasedWrapperRunsNothing) {
  int go = -1;
  auto id = procs.Spawn(Req({"sh", "-c", "echo ran > " + dir + "/ran"}), &go);
  close(go);  // as if the daemon died before recording the attempt
  WaitEnd(id.pid);
  auto file = ReadStatusFile(dir + "/status");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->kind, ExitStatus::kNotStarted);
  EXPECT_FALSE(std::filesystem::exists(dir + "/ran"));
}

TEST_F(Fixture, GroupSignalReachesGrandchildrenAndIsRecorded) {
  int go = -1;
  auto id = procs.Spawn(Req({"sh", "-c", "sleep 30 & echo $! > " + dir + "/gc; wait"}), &go);
  procs.Release(go);
  pid_t grandchild = WaitForPid(dir + "/gc");
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(procs.SignalGroup(id, SIGTERM));
  ExitStatus st = WaitEnd(id.pid);  // the wrapper ignores SIGTERM and reports the command's end
  EXPECT_EQ(st.kind, ExitStatus::kExited);
  EXPECT_EQ(st.value, 128 + SIGTERM);
  auto file = ReadStatusFile(dir + "/status");
  ASSERT_TRUE(file);
  EXPECT_EQ(file->kind, ExitStatus::kSignaled);
  EXPECT_EQ(file->value, SIGTERM);
  EXPECT_TRUE(Ends(grandchild));
  EXPECT_FALSE(procs.SignalGroup(id, SIGKILL));  // a dead identity is never signalled
}

// A grandchild that ignores SIGTERM outlives its parent's command; while the wrapper is an unreaped zombie
// its group can still be signalled, so the owner kills what the worker left behind before reaping it.
TEST_F(Fixture, GroupOfAnUnreapedWrapperCanStillBeKilled) {
  int go = -1;
  auto id = procs.Spawn(Req({"sh", "-c", "(trap '' TERM; sleep 30) & echo $! > " + dir + "/gc; exit 0"}), &go);
  procs.Release(go);
  pid_t grandchild = WaitForPid(dir + "/gc");
  ASSERT_GT(grandchild, 0);
  for (int i = 0; i < 500 && procs.Alive(id); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE(procs.Alive(id));  // the wrapper has exited (a zombie: not reaped yet)
  EXPECT_EQ(kill(grandchild, 0), 0);
  EXPECT_TRUE(procs.SignalGroup(id, SIGKILL));
  EXPECT_TRUE(Ends(grandchild));
  WaitEnd(id.pid);
  EXPECT_FALSE(procs.SignalGroup(id, SIGKILL));  // reaped: never signalled again
}

// The status file is written as AtomicFile writes: through "<status>.tmp-<wrapper pid>-0", renamed, so a
// finished attempt leaves nothing else; a wrapper that died before its rename (here: the rename fails, as
// `status` is a directory) leaves a temporary in AtomicFile's naming, which the owner's ReadStatusFile
// removes once the wrapper has ended, and RemoveAbandonedTemporaries recognises.
TEST_F(Fixture, StatusTemporaryHasAtomicFileNamingAndIsRemoved) {
  int go = -1;
  auto id = procs.Spawn(Req({"sh", "-c", "exit 0"}), &go);
  procs.Release(go);
  WaitEnd(id.pid);
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"err", "out", "status"}));

  std::filesystem::remove(dir + "/status");
  std::filesystem::create_directory(dir + "/status");
  for (bool sweep : {false, true}) {
    go = -1;
    id = procs.Spawn(Req({"sh", "-c", "exit 4"}), &go);
    procs.Release(go);
    EXPECT_EQ(WaitEnd(id.pid).value, 4);
    const std::string left = dir + "/status.tmp-" + std::to_string(id.pid) + "-0";
    char name[512];
    ASSERT_EQ(StatusTempName((dir + "/status").c_str(), id.pid, name, sizeof name), left.size());
    EXPECT_EQ(std::string(name), left);
    ASSERT_TRUE(std::filesystem::exists(left)) << "the wrapper's temporary is not named as AtomicFile's";
    if (sweep) {
      auto removed = RemoveAbandonedTemporaries(Env::Default(), dir, false, [](std::string_view t) { return t == "status"; });
      EXPECT_EQ(removed, std::vector<std::string>{left});
    } else {
      EXPECT_FALSE(ReadStatusFile(dir + "/status", id.pid));
    }
    EXPECT_FALSE(std::filesystem::exists(left));
  }
  char tiny[8];
  EXPECT_EQ(StatusTempName("/a/long/path", 1, tiny, sizeof tiny), 0u);
}

// Wrappers of older sluice versions wrote the status through "<status>.tmp", which nothing removed: the
// owner's ReadStatusFile removes it with the new-style temporary once the attempt's wrapper has ended, and
// leaves it while the wrapper is not known to have ended (no pid given).
TEST_F(Fixture, LegacyStatusTemporaryIsRemovedOnceTheWrapperEnded) {
  int go = -1;
  auto id = procs.Spawn(Req({"sh", "-c", "exit 5"}), &go);
  procs.Release(go);
  EXPECT_EQ(WaitEnd(id.pid).value, 5);
  const std::string legacy = dir + "/status.tmp";
  std::ofstream(legacy) << "exit ";  // a torn write an old wrapper left
  auto file = ReadStatusFile(dir + "/status");
  ASSERT_TRUE(file);
  EXPECT_TRUE(std::filesystem::exists(legacy));
  file = ReadStatusFile(dir + "/status", id.pid);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->value, 5);
  EXPECT_FALSE(std::filesystem::exists(legacy));
  // Nor is it needed that the status file exists (an old wrapper killed before its rename left only that).
  std::filesystem::remove(dir + "/status");
  std::ofstream(legacy) << "exit ";
  EXPECT_FALSE(ReadStatusFile(dir + "/status", id.pid));
  EXPECT_FALSE(std::filesystem::exists(legacy));
}

TEST_F(Fixture, ExecFailureIs127) {
  int go = -1;
  auto id = procs.Spawn(Req({"/nonexistent/cmd"}), &go);
  procs.Release(go);
  EXPECT_EQ(WaitEnd(id.pid).value, 127);
  EXPECT_NE(Read(dir + "/err").find("cannot execute /nonexistent/cmd"), std::string::npos);
}

}  // namespace
}  // namespace sluice
