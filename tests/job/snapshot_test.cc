// TakeSnapshot / ToJson / ListJobs on a job this test runs itself (RunJob), and on copies of it altered the
// way crashes, corruption and concurrent runs alter a job directory: a held job lock, a log cut off
// mid-run, a torn checkpoint, a damaged event line, a restart. OS access goes through a counting Env so
// the test can check that every file is read once and that a failing lock probe is survived.
#include "job/snapshot.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "job/job_runner.h"
#include "job/jobs_list.h"
#include "temp_dir.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// Delegates to the real Env; counts reads per path and can make LockFile fail.
class CountingEnv : public EnvWrapper {
 public:
  explicit CountingEnv(Env* base) : EnvWrapper(base) {}
  size_t ReadAt(const std::string& path, uint64_t offset, size_t n, char* buf) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++reads_[path];
    }
    return target()->ReadAt(path, offset, n, buf);
  }
  std::unique_ptr<RandomAccessFile> NewRandomAccessFile(const std::string& path) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++reads_[path];
    }
    return target()->NewRandomAccessFile(path);
  }
  std::unique_ptr<WritableFile> NewWritableFile(const std::string& path, bool append) override {
    ++writes_;
    return target()->NewWritableFile(path, append);
  }
  void RenameFile(const std::string& from, const std::string& to) override {
    ++writes_;
    target()->RenameFile(from, to);
  }
  void RemoveFile(const std::string& path) override {
    ++writes_;
    target()->RemoveFile(path);
  }
  void RemoveTree(const std::string& path) override {
    ++writes_;
    target()->RemoveTree(path);
  }
  void CreateDirs(const std::string& path) override {
    ++writes_;
    target()->CreateDirs(path);
  }
  void TruncateFile(const std::string& path, uint64_t size) override {
    ++writes_;
    target()->TruncateFile(path, size);
  }
  std::unique_ptr<FileLock> LockFile(const std::string& path, bool wait, LockMode mode = LockMode::kExclusive) override {
    if (fail_lock_) Fail(ErrorKind::kOutput, "cannot open lock file '{}': Permission denied (injected)", path);
    return target()->LockFile(path, wait, mode);
  }

  std::map<std::string, int> reads_;
  int writes_ = 0;
  bool fail_lock_ = false;

 private:
  std::mutex mu_;
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class SnapshotTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_.emplace("sluice-snapshot");
    root_ = tmp_->path();
    {
      std::ofstream data(root_ / "data.jsonl");
      for (int i = 0; i < 100; ++i) {
        // Every 10th record repeats an earlier text (the deduplicator drops it), every 7th is short
        // (text_length_filter drops it).
        std::string text = i % 10 == 9 ? fmt::format("record number {} says hello to the world", i - 1)
                                       : i % 7 == 3 ? "tiny" : fmt::format("record number {} says hello to the world", i);
        data << fmt::format("{{\"id\":{},\"text\":\"{}\"}}\n", i, text);
      }
    }
    {
      std::ofstream r(root_ / "r.yaml");
      r << "project_name: snaptest\n"
        << "dataset_path: " << (root_ / "data.jsonl").string() << "\n"
        << "export_path: " << (root_ / "out" / "out.jsonl").string() << "\n"
        << "np: 2\npartition:\n  size: 20\ncheckpoint:\n  strategy: every_op\n"
        << "process:\n  - whitespace_normalization_mapper:\n  - text_length_filter:\n      min_len: 10\n"
        << "  - document_deduplicator:\n  - words_num_filter:\n      min_num: 3\n";
    }
    RunOptions opt;
    opt.recipe_path = (root_ / "r.yaml").string();
    opt.overrides.push_back({"job_id", "j"});
    ASSERT_EQ(RunJob(Env::Default(), opt), 0);
    job_ = root_ / "out" / "j";
  }
  static void TearDownTestSuite() { tmp_.reset(); }

  // A copy of the finished job to alter; the export path recorded in its summary stays the original's.
  fs::path Copy(const std::string& name) {
    fs::path d = root_ / "copies" / name;
    fs::remove_all(d);
    fs::create_directories(d.parent_path());
    fs::copy(job_, d, fs::copy_options::recursive);
    // The summary names the original events.jsonl: point it at the copy's.
    std::string summary = Slurp(d / "job_summary.json");
    std::string from = (job_ / "events.jsonl").string();
    summary.replace(summary.find(from), from.size(), (d / "events.jsonl").string());
    std::ofstream(d / "job_summary.json", std::ios::trunc) << summary;
    return d;
  }

  static std::optional<testing::TempDir> tmp_;
  static fs::path root_, job_;
};
std::optional<testing::TempDir> SnapshotTest::tmp_;
fs::path SnapshotTest::root_, SnapshotTest::job_;

TEST_F(SnapshotTest, CompletedJobMatchesItsEventsAndPlan) {
  Snapshot s = TakeSnapshot(Env::Default(), job_.string());
  EXPECT_EQ(s.format, "sluice");
  EXPECT_EQ(s.status, JobStatus::kCompleted);
  EXPECT_EQ(s.job_id, "j");
  EXPECT_EQ(s.total_partitions, 5u);
  EXPECT_EQ(s.ops_per_partition, 4u);
  EXPECT_EQ(s.total_operations, 20u);
  EXPECT_EQ(s.completed_partitions, 5u);
  EXPECT_EQ(s.completed_operations, 20u);
  EXPECT_EQ(s.failed_operations, 0u);
  EXPECT_DOUBLE_EQ(s.overall_percentage, 100.0);
  EXPECT_EQ(s.checkpoint_strategy, "every_op");
  // every_op: after ops 0, 1 and the deduplicator (2, the stage output); the last op's output is the result.
  EXPECT_EQ(s.checkpointed_operations, 15u);
  EXPECT_DOUBLE_EQ(s.checkpoint_coverage, 1.0);
  EXPECT_FALSE(s.resumable);  // nothing left to resume
  EXPECT_EQ(s.timing_source, "events");
  ASSERT_TRUE(s.start_time && s.end_time && s.duration_seconds);
  EXPECT_DOUBLE_EQ(*s.duration_seconds, *s.end_time - *s.start_time);
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();

  // Row counts: op_complete events, summed, equal the summary's per-op totals.
  simdjson::dom::parser parser;
  std::string summary = Slurp(job_ / "job_summary.json");
  simdjson::dom::array ops = parser.parse(summary)["ops"].get_array();
  size_t i = 0;
  uint64_t rows_in = 0;
  for (auto o : ops) {
    uint64_t in = 0, out = 0;
    for (const auto& p : s.partitions) {
      ASSERT_TRUE(p.ops[i].input_rows && p.ops[i].output_rows);
      in += *p.ops[i].input_rows;
      out += *p.ops[i].output_rows;
    }
    if (i != 2) {  // the deduplicator's op_complete counts are before the global decision (docs/events.md)
      EXPECT_EQ(in, uint64_t(o["input_rows"])) << i;
      EXPECT_EQ(out, uint64_t(o["output_rows"])) << i;
    }
    ++i;
  }
  for (const auto& p : s.partitions) rows_in += p.sample_count.value_or(0);
  EXPECT_EQ(rows_in, 100u);
}

TEST_F(SnapshotTest, JsonHasTheSeedStructure) {
  Snapshot s = TakeSnapshot(Env::Default(), job_.string());
  for (bool pretty : {true, false}) {
    std::string json = ToJson(s, pretty);
    simdjson::dom::parser parser;
    simdjson::dom::object root;
    ASSERT_EQ(parser.parse(json).get(root), simdjson::SUCCESS) << json.substr(0, 200);
    std::vector<std::string> keys;
    for (auto [k, v] : root) keys.emplace_back(k);
    EXPECT_EQ(keys, (std::vector<std::string>{"job_info", "overall_status", "overall_progress", "timing", "progress_summary",
                                              "checkpointing", "partition_progress", "operation_progress", "file_paths",
                                              "metadata"}));
    EXPECT_EQ(std::string_view(root["operation_progress"]["p3_op1_text_length_filter"]["status"]), "completed");
    EXPECT_EQ(uint64_t(root["metadata"]["events_analyzed"]), s.events_analyzed);
  }
}

TEST_F(SnapshotTest, ReadsEachFileOnceAndWritesNothing) {
  CountingEnv env(Env::Default());
  Snapshot s = TakeSnapshot(&env, job_.string());
  EXPECT_EQ(s.status, JobStatus::kCompleted);
  EXPECT_EQ(env.writes_, 0);
  ASSERT_EQ(env.reads_.count((job_ / "events.jsonl").string()), 1u);
  uint64_t size = fs::file_size(job_ / "events.jsonl");
  EXPECT_LE(env.reads_[(job_ / "events.jsonl").string()], 1 + int(size >> 30)) << "the event log is read in one pass";
  for (const auto& [path, n] : env.reads_) EXPECT_EQ(n, 1) << path;
}

TEST_F(SnapshotTest, HeldJobLockMeansRunning) {
  fs::path d = Copy("running");
  // Cut the log where the job was mid-run: partition 3 has started its ops and not finished them.
  auto lines = SplitLines(Slurp(d / "events.jsonl"));
  size_t cut = 0;
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find("\"op_start\"") != std::string::npos && lines[i].find("\"partition_id\":3,") != std::string::npos) {
      cut = i + 1;
      break;
    }
  ASSERT_GT(cut, 0u);
  {
    std::ofstream out(d / "events.jsonl", std::ios::trunc);
    for (size_t i = 0; i < cut; ++i) out << lines[i] << "\n";
    out << lines[cut].substr(0, lines[cut].size() / 2);  // a line being appended right now
  }
  auto lock = Env::Default()->LockFile((d / "job.lock").string(), false);
  ASSERT_NE(lock, nullptr);
  Snapshot s = TakeSnapshot(Env::Default(), d.string());
  EXPECT_EQ(s.status, JobStatus::kRunning);
  EXPECT_EQ(s.partitions[3].status, WorkStatus::kInProgress);
  EXPECT_FALSE(s.resumable);  // a running job is not resumed
  EXPECT_FALSE(s.end_time);
  ASSERT_TRUE(s.duration_seconds);
  EXPECT_GE(*s.duration_seconds, s.generated_at - *s.start_time - 1e-6);
  EXPECT_TRUE(s.warnings.empty()) << "a half-written last line of a running job is not an error: " << s.warnings.front();

  lock.reset();  // the process is gone
  Snapshot after = TakeSnapshot(Env::Default(), d.string());
  EXPECT_EQ(after.status, JobStatus::kInterrupted);
  EXPECT_EQ(after.partitions[3].status, WorkStatus::kInterrupted);
  for (const auto& op : after.partitions[3].ops) EXPECT_NE(op.status, WorkStatus::kInProgress);
  EXPECT_TRUE(after.resumable);
  EXPECT_GT(after.checkpoint_coverage, 0.0);
  EXPECT_FALSE(after.end_time);
  EXPECT_EQ(after.warnings.size(), 1u) << "the torn last line of a dead writer is reported";
}

TEST_F(SnapshotTest, InvalidCheckpointsAreNotCounted) {
  fs::path d = Copy("torn");
  // Checkpoints are valid when the snapshot looks at them through the summary's checkpoint_dir, which is
  // the original's; a moved job directory falls back to its own checkpoints/ only when that one is gone.
  std::string summary = Slurp(d / "job_summary.json");
  std::string from = (job_ / "checkpoints").string();
  summary.replace(summary.find(from), from.size(), (d / "checkpoints").string());
  std::ofstream(d / "job_summary.json", std::ios::trunc) << summary;
  fs::path ck = d / "checkpoints" / "partition_000001";
  int damaged = 0;
  for (const auto& e : fs::directory_iterator(ck)) {
    std::string name = e.path().filename().string();
    if (name.starts_with("op_000_") && name.ends_with(".zst")) {
      std::ofstream(e.path(), std::ios::app) << "x";  // size no longer matches the manifest
      ++damaged;
    }
    if (name.starts_with("op_001_") && name.ends_with(".manifest.json")) {
      fs::remove(e.path());  // data without a manifest: never committed
      ++damaged;
    }
  }
  ASSERT_EQ(damaged, 2);
  Snapshot s = TakeSnapshot(Env::Default(), d.string());
  EXPECT_EQ(s.checkpointed_operations, 13u);
  EXPECT_FALSE(s.partitions[1].ops[0].checkpoint_time);
  EXPECT_FALSE(s.partitions[1].ops[1].checkpoint_time);
  EXPECT_TRUE(s.partitions[1].ops[2].checkpoint_time);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("data file has"), std::string::npos) << s.warnings[0];
}

TEST_F(SnapshotTest, DamagedEventLinesAreSkippedAndNamed) {
  fs::path d = Copy("damaged");
  auto lines = SplitLines(Slurp(d / "events.jsonl"));
  lines.insert(lines.begin() + 3, "{\"event_type\": \"op_start\", \"timest");
  {
    std::ofstream out(d / "events.jsonl", std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }
  Snapshot s = TakeSnapshot(Env::Default(), d.string());
  EXPECT_EQ(s.status, JobStatus::kCompleted);
  EXPECT_EQ(s.completed_operations, 20u);
  EXPECT_EQ(s.events_analyzed, lines.size() - 1);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("events.jsonl:4: event skipped"), std::string::npos) << s.warnings[0];
}

TEST_F(SnapshotTest, ARestartBeginsANewIncarnation) {
  fs::path d = Copy("restart");
  auto lines = SplitLines(Slurp(d / "events.jsonl"));
  std::string start = lines.front();
  ASSERT_NE(start.find("\"is_resuming\":false"), std::string::npos);
  {
    std::ofstream out(d / "events.jsonl", std::ios::app);
    out << start << "\n";  // `sluice run --restart` logs a fresh start and begins again
  }
  Snapshot s = TakeSnapshot(Env::Default(), d.string());
  EXPECT_EQ(s.status, JobStatus::kInterrupted);
  EXPECT_EQ(s.completed_partitions, 0u);
  EXPECT_EQ(s.completed_operations, 0u);
}

TEST_F(SnapshotTest, AFailingLockProbeFallsBackToTheLog) {
  CountingEnv env(Env::Default());
  env.fail_lock_ = true;
  Snapshot s = TakeSnapshot(&env, job_.string());
  EXPECT_EQ(s.status, JobStatus::kCompleted);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].find("Permission denied (injected)"), std::string::npos);
}

TEST_F(SnapshotTest, NotAJobDirectory) {
  fs::path d = root_ / "empty";
  fs::create_directories(d);
  try {
    TakeSnapshot(Env::Default(), d.string());
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("is not a job directory"), std::string::npos) << e.what();
  }
  EXPECT_THROW(TakeSnapshot(Env::Default(), (root_ / "missing").string()), Error);
}

TEST_F(SnapshotTest, ListJobs) {
  std::vector<std::string> warnings;
  auto jobs = ListJobs(Env::Default(), (root_ / "out").string(), false, &warnings);
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].job_id, "j");
  EXPECT_EQ(jobs[0].status, "completed");
  EXPECT_EQ(jobs[0].total_partitions, 5u);
  EXPECT_TRUE(ListJobs(Env::Default(), (root_ / "out").string(), true, &warnings).empty());
  EXPECT_TRUE(warnings.empty());
  std::string text = JobsToText(jobs);
  EXPECT_EQ(text.rfind("JOB_ID", 0), 0u) << text;
  EXPECT_NE(text.find("completed  100.0%"), std::string::npos) << text;
}

TEST(SnapshotFormat, Durations) {
  EXPECT_EQ(FormatDuration(0.345), "0.34s");
  EXPECT_EQ(FormatDuration(12.9), "12s");
  EXPECT_EQ(FormatDuration(271.8), "4m 31s");
  EXPECT_EQ(FormatDuration(7205), "2h 0m 5s");
  EXPECT_EQ(FormatTime(0), "1970-01-01 00:00:00 UTC");
}

}  // namespace
}  // namespace sluice
