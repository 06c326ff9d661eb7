// RotatingLog and Logger on the real file system: rotation at a tiny size, retention (the oldest files
// dropped), gzip of every rotated file (decompressed with zlib here, independently of sluice's codec),
// nothing lost or duplicated across rotations with several threads and two writers on one path, a crash's
// leftovers finished, and the per-level files.
#include "io/rotating_log.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "temp_dir.h"

namespace sluice {
namespace {
namespace fs = std::filesystem;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Gunzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr) << path;
  if (f == nullptr) return "";
  std::string out;
  char buf[4096];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(n, 0) << "corrupt gzip " << path;
  gzclose(f);
  return out;
}

// The whole history, oldest first: path.N.gz .. path.1.gz, then path.
std::string History(const std::string& path, int n) {
  std::string all;
  for (int i = n; i >= 1; --i) {
    std::string gz = fmt::format("{}.{}.gz", path, i);
    EXPECT_FALSE(fs::exists(fmt::format("{}.{}", path, i))) << "an uncompressed rotated file is left: " << i;
    if (fs::exists(gz)) all += Gunzip(gz);
  }
  return all + Slurp(path);
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);) out.push_back(l);
  return out;
}

TEST(RotatingLog, RotatesAtTheSizeKeepsBackupCountAndGzips) {
  testing::TempDir tmp("sluice-rotating-log-retention");
  const std::string& dir = tmp.path();
  std::string path = dir + "/log.txt";
  std::vector<std::string> records;
  {
    RotatingLog log(Env::Default(), path, {.max_bytes = 1000, .backup_count = 3});
    for (int i = 0; i < 400; ++i) {
      records.push_back(fmt::format("record {:04d} {}\n", i, std::string(static_cast<size_t>(i % 37), 'x')));
      log.Append(records.back());
    }
    log.Drain();
  }
  // Exactly backup_count compressed files, none beyond, each a complete gzip of at most max_bytes.
  for (int i = 1; i <= 3; ++i) {
    std::string gz = fmt::format("{}.{}.gz", path, i);
    ASSERT_TRUE(fs::exists(gz)) << gz;
    std::string content = Gunzip(gz);
    EXPECT_LE(content.size(), 1000u);
    EXPECT_GT(content.size(), 900u) << "rotated only when the next record would not fit";
    EXPECT_EQ(content.back(), '\n') << "a record is never split across files";
  }
  EXPECT_FALSE(fs::exists(path + ".4.gz"));
  EXPECT_FALSE(fs::exists(path + ".4"));
  EXPECT_LE(fs::file_size(path), 1000u);
  // What is kept is the newest records, contiguous and in order: the oldest were dropped.
  std::vector<std::string> kept = Lines(History(path, 3));
  ASSERT_GT(kept.size(), 40u);
  size_t first = records.size() - kept.size();
  for (size_t i = 0; i < kept.size(); ++i) EXPECT_EQ(kept[i] + "\n", records[first + i]) << i;
}

// Checks the history of `path` (n rotated files) holds records "t<thread> <i> <padding>" of every thread
// exactly once and in order.
void ExpectEveryRecordOnce(const std::string& path, int threads, int records) {
  int n = 0;
  while (fs::exists(fmt::format("{}.{}.gz", path, n + 1))) ++n;
  EXPECT_GT(n, 20) << "many rotations happened";
  std::map<int, int> next;
  size_t total = 0;
  for (const auto& line : Lines(History(path, n))) {
    int t = -1, i = -1;
    ASSERT_EQ(std::sscanf(line.c_str(), "t%d %d", &t, &i), 2) << "torn line: " << line;
    ASSERT_EQ(line.size(), 9 + static_cast<size_t>(i % 50)) << "torn line: " << line;
    EXPECT_EQ(i, next[t]) << "thread " << t << ": lost, duplicated or reordered";
    next[t] = i + 1;
    ++total;
  }
  EXPECT_EQ(total, static_cast<size_t>(threads * records));
}

std::string Record(int t, int i) { return fmt::format("t{} {:05d} {}\n", t, i, std::string(static_cast<size_t>(i % 50), '.')); }

TEST(RotatingLog, NothingLostOrDuplicatedWithManyThreads) {
  testing::TempDir tmp("sluice-rotating-log-threads");
  const std::string& dir = tmp.path();
  std::string path = dir + "/events.log";
  const int kThreads = 6, kRecords = 1500;
  {
    RotatingLog log(Env::Default(), path, {.max_bytes = 4096, .backup_count = 100000});
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kRecords; ++i) log.Append(Record(t, i));
      });
    for (auto& th : threads) th.join();
    log.Drain();
  }
  ExpectEveryRecordOnce(path, kThreads, kRecords);
}

TEST(RotatingLog, TwoWritersOnOnePathFollowEachOthersRotations) {
  // Two RotatingLogs on one path stand for two processes (separate descriptors and flocks) appending in
  // turns: each must notice the other's rotation and write to the new file, never into a rotated one.
  testing::TempDir tmp("sluice-rotating-log-two_writers");
  const std::string& dir = tmp.path();
  std::string path = dir + "/log.txt";
  const int kRecords = 3000;
  {
    RotatingLog a(Env::Default(), path, {.max_bytes = 2048, .backup_count = 100000});
    RotatingLog b(Env::Default(), path, {.max_bytes = 2048, .backup_count = 100000});
    for (int i = 0; i < kRecords; ++i) {
      (i % 3 ? a : b).Append(Record(0, i));
      if (i % 7 == 0) (i % 2 ? a : b).Drain();
    }
    a.Drain();
    b.Drain();
  }
  ExpectEveryRecordOnce(path, 1, kRecords);
}

TEST(RotatingLog, AReopenedLogContinuesAndFinishesACrashedRotation) {
  testing::TempDir tmp("sluice-rotating-log-leftovers");
  const std::string& dir = tmp.path();
  std::string path = dir + "/log.txt";
  std::ofstream(path) << "current\n";
  std::ofstream(path + ".1") << "rotated, not yet compressed\n";  // a crash before the gzip
  std::ofstream(path + ".2") << "stale copy\n";                   // a crash after the gzip's rename
  {
    RotatingLog log(Env::Default(), path, {.max_bytes = 1 << 20, .backup_count = 2});
  }
  std::ofstream(path + ".2.gz.tmp-1-0") << "torn";  // a temporary a crashed compression left
  std::ofstream(path + ".3.gz") << "beyond backup_count";
  {
    RotatingLog log(Env::Default(), path, {.max_bytes = 20, .backup_count = 2});
    log.Append("after restart\n");  // 8 + 14 > 20: rotates the file written before
    log.Drain();
  }
  EXPECT_EQ(Slurp(path), "after restart\n");
  EXPECT_EQ(Gunzip(path + ".1.gz"), "current\n");
  EXPECT_EQ(Gunzip(path + ".2.gz"), "rotated, not yet compressed\n");
  EXPECT_FALSE(fs::exists(path + ".3.gz"));
  EXPECT_FALSE(fs::exists(path + ".2.gz.tmp-1-0"));
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "log.txt" || name == "log.txt.1.gz" || name == "log.txt.2.gz" || name == ".log.txt.lock") << name;
  }
}

TEST(RotatingLog, BackupCountZeroKeepsNoOldFile) {
  testing::TempDir tmp("sluice-rotating-log-zero");
  const std::string& dir = tmp.path();
  std::string path = dir + "/log.txt";
  RotatingLog log(Env::Default(), path, {.max_bytes = 10, .backup_count = 0});
  log.Append("aaaaaaaa\n");
  log.Append("bbbbbbbb\n");
  log.Drain();
  EXPECT_EQ(Slurp(path), "bbbbbbbb\n");
  EXPECT_FALSE(fs::exists(path + ".1"));
  EXPECT_FALSE(fs::exists(path + ".1.gz"));
}

TEST(Logger, MainFileAndOneFilePerLevel) {
  testing::TempDir tmp("sluice-rotating-log-levels");
  const std::string& dir = tmp.path();
  {
    Logger log(Env::Default(), {.dir = dir, .name = "log.txt", .main_level = LogLevel::kInfo, .rotation = {}});
    log.Log(LogLevel::kDebug, "partition 3: details");
    log.Log(LogLevel::kInfo, "EVENT[job_start] | starting job");
    log.Log(LogLevel::kWarning, "op 'x' has no parameter 'y'");
    log.Log(LogLevel::kError, "partition 1 failed:\nsecond line");
  }
  std::vector<std::string> main = Lines(Slurp(dir + "/log.txt"));
  ASSERT_EQ(main.size(), 3u) << "INFO and above, one line per record";
  EXPECT_NE(main[0].find("| INFO     | EVENT[job_start] | starting job"), std::string::npos) << main[0];
  EXPECT_NE(main[1].find("| WARNING  | op 'x' has no parameter 'y'"), std::string::npos) << main[1];
  EXPECT_NE(main[2].find("| ERROR    | partition 1 failed:\\nsecond line"), std::string::npos) << main[2];
  auto level_file = [&](const char* level, const char* message) {
    std::vector<std::string> lines = Lines(Slurp(fmt::format("{}/log_{}.txt", dir, level)));
    ASSERT_EQ(lines.size(), 1u) << level << " holds exactly its own level";
    EXPECT_NE(lines[0].find(fmt::format("\"level\":{{\"name\":\"{}\"", level)), std::string::npos) << lines[0];
    EXPECT_NE(lines[0].find(message), std::string::npos) << lines[0];
    EXPECT_EQ(lines[0].find("{\"text\":"), 0u) << lines[0];
  };
  level_file("DEBUG", "\"message\":\"partition 3: details\"");
  level_file("WARNING", "\"message\":\"op 'x' has no parameter 'y'\"");
  level_file("ERROR", "\"message\":\"partition 1 failed:\\nsecond line\"");
  EXPECT_FALSE(fs::exists(dir + "/log_INFO.txt"));
}

}  // namespace
}  // namespace sluice
