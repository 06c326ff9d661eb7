// JobFollower (job/monitor.h): the incremental reader of `sluice monitor`, fed an event log line by line
// as a running job appends it: a line written in two pieces counts once it is complete, per-stage counts
// and rows, retried / failed / in-progress partitions, a restart, a log that is replaced by a shorter one,
// and rates and ETA from the latest run; without an event log, the snapshot's counts. tests/cli/monitor_test.sh
// runs the command on real jobs.
#include "job/monitor.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "io/atomic_file.h"
#include "temp_dir.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two stages: ops 0-1 (the first ends with a deduplicator), op 2.
    WriteFileAtomic(Env::Default(), (dir_ / "dag_execution_plan.json").string(),
                    R"({"stages":[{"stage":0,"ops":[{"operation_idx":0},{"operation_idx":1}]},{"stage":1,"ops":[{"operation_idx":2}]}]})");
    snap_.job_dir = dir_.string();
    snap_.event_log_file = (dir_ / "events.jsonl").string();
    snap_.job_id = "j";
    snap_.format = "sluice";
    snap_.total_partitions = 3;
  }
  void Append(const std::string& text, bool truncate = false) {
    std::ofstream f(snap_.event_log_file, truncate ? std::ios::trunc : std::ios::app);
    f << text;
  }

  testing::TempDir tmp_{"sluice-monitor-test"};
  fs::path dir_{tmp_.path()};
  Snapshot snap_;
};

TEST_F(FollowerTest, FollowsAGrowingLog) {
  JobFollower f(Env::Default(), snap_);
  f.Poll();  // no log yet
  Append(R"({"event_type":"job_start","timestamp":100,"is_resuming":false,"total_partitions":3})" "\n"
         R"({"event_type":"partition_start","timestamp":100,"partition_id":0,"stage":0})" "\n"
         R"({"event_type":"op_complete","timestamp":101,"partition_id":0,"operation_idx":0,"input_rows":10})" "\n"
         R"({"event_type":"partition_complete","timestamp":102,"partition_id":0,"stage":0})" "\n"
         R"({"event_type":"partition_start","timestamp":102,"part)");
  f.Poll();
  FollowState s = f.State(110, true);
  ASSERT_EQ(s.stages.size(), 2u);
  EXPECT_EQ(s.stages[0].done, 1u);
  EXPECT_EQ(s.stages[0].rows, 10u);
  EXPECT_EQ(s.stages[1].done, 0u);
  EXPECT_EQ(s.in_progress, 0u) << "the half-written line must not count yet";
  EXPECT_DOUBLE_EQ(s.elapsed, 10);
  EXPECT_DOUBLE_EQ(s.rows_per_second, 1);
  EXPECT_FALSE(s.has_bytes);  // no plan: each (partition, stage) weighs 1
  ASSERT_TRUE(s.eta_seconds);
  EXPECT_DOUBLE_EQ(*s.eta_seconds, 50);  // 1 of 6 units in 10 s

  Append(R"(ition_id":1,"stage":0})" "\n");
  f.Poll();
  EXPECT_EQ(f.State(110, true).in_progress, 1u);
  EXPECT_EQ(f.State(110, false).in_progress, 0u) << "nothing is in progress when nobody runs the job";

  Append(R"({"event_type":"partition_failed","timestamp":103,"partition_id":1,"stage":0,"will_retry":true})" "\n"
         R"({"event_type":"partition_failed","timestamp":104,"partition_id":1,"stage":0,"will_retry":false})" "\n");
  f.Poll();
  s = f.State(110, true);
  EXPECT_EQ(s.retried, 1u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.in_progress, 0u);

  // A resume restarts the failed partition; partition 2 was committed by an earlier run.
  Append(R"({"event_type":"job_start","timestamp":200,"is_resuming":true,"total_partitions":3})" "\n"
         R"({"event_type":"partition_start","timestamp":200,"partition_id":1,"stage":0})" "\n"
         R"({"event_type":"partition_skipped","timestamp":200,"partition_id":2})" "\n");
  f.Poll();
  s = f.State(210, true);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.retried, 1u);
  EXPECT_EQ(s.in_progress, 1u);
  EXPECT_EQ(s.stages[0].done, 2u);
  EXPECT_EQ(s.stages[1].done, 1u);
  EXPECT_DOUBLE_EQ(s.rows_per_second, 0) << "the latest run did nothing yet";
  EXPECT_FALSE(s.eta_seconds);

  Append(R"({"event_type":"job_stopped","timestamp":205})" "\n");
  f.Poll();
  s = f.State(300, true);
  EXPECT_TRUE(s.ended);
  EXPECT_DOUBLE_EQ(s.elapsed, 5);
  EXPECT_EQ(s.in_progress, 0u);
  EXPECT_EQ(f.bytes_read(), fs::file_size(snap_.event_log_file));
}

TEST_F(FollowerTest, ARestartAndAReplacedLogStartOver) {
  JobFollower f(Env::Default(), snap_);
  Append(R"({"event_type":"job_start","timestamp":100,"is_resuming":false})" "\n"
         R"({"event_type":"partition_complete","timestamp":101,"partition_id":0,"stage":0})" "\n");
  f.Poll();
  EXPECT_EQ(f.State(110, true).stages[0].done, 1u);
  Append(R"({"event_type":"job_start","timestamp":120,"is_resuming":false})" "\n");
  f.Poll();
  EXPECT_EQ(f.State(130, true).stages[0].done, 0u) << "--restart discarded the state";
  Append(R"({"event_type":"job_start","timestamp":100,"is_resuming":false})" "\n"
         R"({"event_type":"partition_skipped","timestamp":101,"partition_id":2})" "\n", true);
  f.Poll();
  FollowState s = f.State(110, true);
  EXPECT_EQ(s.stages[0].done, 1u);
  EXPECT_EQ(s.stages[1].done, 1u);
}

// Without an event log (event_logging.enabled: false) the counts are the snapshot's partitions, until a
// log appears: then its events replace them.
TEST_F(FollowerTest, WithoutAnEventLogTheSnapshotsPartitionsCount) {
  JobFollower f(Env::Default(), snap_);
  EXPECT_FALSE(f.Poll()) << "no event log";
  snap_.partitions.resize(3);
  snap_.partitions[0].status = WorkStatus::kCompleted;
  snap_.partitions[0].sample_count = 7;
  snap_.partitions[2].status = WorkStatus::kCompleted;
  snap_.partitions[2].sample_count = 5;
  snap_.partitions[1].status = WorkStatus::kFailed;
  snap_.duration_seconds = 12;
  f.Seed(snap_);
  FollowState s = f.State(500, false);
  EXPECT_FALSE(s.from_events);
  EXPECT_EQ(s.total_partitions, 3u);
  ASSERT_EQ(s.stages.size(), 2u);
  EXPECT_EQ(s.stages[0].done, 2u);
  EXPECT_EQ(s.stages[1].done, 2u) << "a completed partition is through every stage";
  EXPECT_EQ(s.stages[0].rows, 12u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_DOUBLE_EQ(s.elapsed, 12);
  EXPECT_TRUE(s.ended);
  EXPECT_FALSE(s.eta_seconds);
  std::string line = MonitorLine(s, JobStatus::kCompletedWithFailures, 0);
  EXPECT_NE(line.find(" partitions=2/3 stages=2/3,2/3 rows=12 rows_per_s=- eta_s=- in_progress=0 retried=0 failed=1\n"),
            std::string::npos)
      << line;
  EXPECT_NE(MonitorBlock(s, JobStatus::kCompletedWithFailures, 100).find("no event log: no rates"), std::string::npos);
  f.Seed(snap_);  // taken again at the next interval: not counted twice
  EXPECT_EQ(f.State(500, false).stages[0].done, 2u);
  EXPECT_EQ(f.State(500, false).failed, 1u);

  Append(R"({"event_type":"job_start","timestamp":100,"is_resuming":true,"total_partitions":3})" "\n"
         R"({"event_type":"partition_complete","timestamp":101,"partition_id":1,"stage":0})" "\n");
  EXPECT_TRUE(f.Poll());
  s = f.State(110, true);
  EXPECT_TRUE(s.from_events);
  EXPECT_EQ(s.stages[0].done, 1u) << "the log's events replace the snapshot's counts";
  EXPECT_EQ(s.failed, 0u);
}

TEST(MonitorFormatTest, LineHasEveryField) {
  FollowState s;
  s.job_id = "j";
  s.total_partitions = 4;
  s.stages = {{4, 40}, {1, 30}};
  s.rows_per_second = 12.5;
  s.has_bytes = true;
  s.bytes_per_second = 2.5e6;
  s.eta_seconds = 7.4;
  s.in_progress = 2;
  std::string line = MonitorLine(s, JobStatus::kRunning, 0);
  EXPECT_NE(line.find(" job=j status=running partitions=1/4 stages=4/4,1/4 rows=40 rows_per_s=12.5 mb_per_s=2.50 eta_s=7 "
                      "in_progress=2 retried=0 failed=0\n"),
            std::string::npos)
      << line;
  EXPECT_EQ(MonitorExitCode(JobStatus::kStopped), 6);
  EXPECT_EQ(MonitorExitCode(JobStatus::kInterrupted), 7);
  EXPECT_EQ(MonitorExitCode(JobStatus::kCompletedWithFailures), 1);
}

}  // namespace
}  // namespace sluice
