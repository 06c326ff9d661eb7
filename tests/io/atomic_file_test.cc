// AtomicFile's temporary naming, formatted in one place (FormatTemporaryName) for AtomicFile itself and for
// the process wrapper that may only make async-signal-safe calls: the name an open AtomicFile has on disk is
// the formatter's, its bounds (pid, buffer size) are exact, and RemoveAbandonedTemporaries parses what it
// writes, removing a gone writer's temporary and keeping a live one's.
#include "io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace sluice {
namespace {

std::string Format(std::string_view target, int64_t pid, uint64_t n, size_t cap) {
  std::string out(cap, 'x');
  size_t len = FormatTemporaryName(target, pid, n, out.data(), cap);
  if (len == 0) return "<none>";
  EXPECT_LT(len, cap);
  EXPECT_EQ(out[len], '\0') << "not terminated";
  return out.substr(0, len);
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

TEST(TemporaryName, AnOpenAtomicFileHasTheFormattedName) {
  testing::TempDir tmp("sluice-atomic");
  const std::string target = tmp.path() + "/data.jsonl";
  uint64_t first = 0;
  for (int k = 0; k < 2; ++k) {
    AtomicFile f(Env::Default(), target);
    std::vector<std::string> names = Names(tmp.path());
    ASSERT_EQ(names.size(), 1u);
    // The counter is the process's: read it from the name, then check the whole name is the formatter's,
    // and that the second file takes the next number.
    const std::string prefix = "data.jsonl.tmp-" + std::to_string(::getpid()) + "-";
    ASSERT_EQ(names[0].rfind(prefix, 0), 0u) << names[0];
    uint64_t n = std::stoull(names[0].substr(prefix.size()));
    if (k == 0) first = n;
    else EXPECT_EQ(n, first + 1);
    EXPECT_EQ(tmp.path() + "/" + names[0], Format(target, ::getpid(), n, target.size() + kTemporaryNameExtra));
  }
  EXPECT_TRUE(Names(tmp.path()).empty());  // uncommitted: removed
}

TEST(TemporaryName, BoundsAreExact) {
  EXPECT_EQ(Format("/a/b", 42, 7, 64), "/a/b.tmp-42-7");
  EXPECT_EQ(Format("", 1, 0, 16), ".tmp-1-0");
  // Exactly the length plus the terminator fits; one byte less does not.
  EXPECT_EQ(Format("/a/b", 42, 7, 14), "/a/b.tmp-42-7");
  EXPECT_EQ(Format("/a/b", 42, 7, 13), "<none>");
  for (size_t cap = 0; cap < 13; ++cap) EXPECT_EQ(Format("/a/b", 42, 7, cap), "<none>") << cap;
  EXPECT_EQ(Format("/a/b", 0, 7, 64), "<none>");
  EXPECT_EQ(Format("/a/b", -5, 7, 64), "<none>");
  // The largest pid and counter fit in kTemporaryNameExtra more bytes than the target.
  const std::string big = Format("/t", std::numeric_limits<int64_t>::max(), std::numeric_limits<uint64_t>::max(),
                                 2 + kTemporaryNameExtra);
  EXPECT_EQ(big, "/t.tmp-9223372036854775807-18446744073709551615");
  EXPECT_LE(big.size() + 1, 2 + kTemporaryNameExtra);
}

TEST(TemporaryName, RemoveAbandonedTemporariesParsesTheFormattedName) {
  testing::TempDir tmp("sluice-atomic");
  pid_t gone = ::fork();
  if (gone == 0) ::_exit(0);
  ASSERT_GT(gone, 0);
  ASSERT_EQ(::waitpid(gone, nullptr, 0), gone);  // reaped: no process has that pid now (or a later one: kept)
  const std::string target = tmp.path() + "/part.jsonl";
  std::vector<char> buf(target.size() + kTemporaryNameExtra);
  ASSERT_GT(FormatTemporaryName(target, gone, 3, buf.data(), buf.size()), 0u);
  const std::string dead(buf.data());
  ASSERT_GT(FormatTemporaryName(target, ::getpid(), 4, buf.data(), buf.size()), 0u);
  const std::string live(buf.data());
  for (const auto& p : {dead, live}) std::ofstream(p) << "partial";
  bool reused = Env::Default()->GetProcessInfo(gone).has_value();
  auto removed = RemoveAbandonedTemporaries(Env::Default(), tmp.path(), false, [](std::string_view t) { return t == "part.jsonl"; });
  EXPECT_EQ(removed, reused ? std::vector<std::string>{} : std::vector<std::string>{dead});
  EXPECT_TRUE(std::filesystem::exists(live));
}

}  // namespace
}  // namespace sluice
