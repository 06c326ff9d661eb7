// The job database: transitions with their events, attempts, dependencies, and what survives a reopen.
#include "manager/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "core/error.h"
#include "temp_dir.h"

namespace sluice::manager {
namespace {

TEST(Store, TransitionsAreRecordedWithEventsAndSurviveReopen) {
  testing::TempDir d("sluice-store");
  std::string db = d.path() + "/state.db";
  int64_t a, b;
  {
    Store s(db);
    JobSpec spec = ParseJobSpec(R"({"name":"a","command":["true"]})");
    a = s.Submit(spec, State::kPending, "", 1.0, {});
    JobSpec spec_b = ParseJobSpec(R"({"name":"b","command":["true"],"depends_on":[{"job":1,"condition":"afterany"}]})");
    b = s.Submit(spec_b, State::kPending, "", 2.0, spec_b.depends_on);
    EXPECT_EQ(s.Deps(b).size(), 1u);
    EXPECT_EQ(s.Dependents(a), std::vector<int64_t>{b});
    int n = s.BeginAttempt(a, 3.0);
    EXPECT_EQ(n, 1);
    s.RecordLaunch(a, n, 4242, 99, "boot");
    s.EndAttempt(a, n, "failed", 3, std::nullopt, State::kPending, "backoff", 10.0, 4.0);
    n = s.BeginAttempt(a, 11.0);
    EXPECT_EQ(n, 2);
    s.DropAttempt(a, n, "daemon restarted", 12.0);  // never started: removed, job PENDING again
    n = s.BeginAttempt(a, 13.0);
    EXPECT_EQ(n, 2);
    s.RecordKill(a, n, "cancel", 14.0);
    s.EndAttempt(a, n, "cancelled", std::nullopt, 15, State::kCancelled, "cancelled by request", 0, 15.0);
  }
  Store s(db);  // reopened: everything committed is there
  auto j = s.GetJob(a);
  ASSERT_TRUE(j);
  EXPECT_EQ(j->state, State::kCancelled);
  EXPECT_EQ(j->attempts, 2);
  EXPECT_EQ(j->signal, 15);
  auto at = s.Attempts(a);
  ASSERT_EQ(at.size(), 2u);
  EXPECT_EQ(at[0].pid, 4242);
  EXPECT_EQ(at[0].start_ticks, 99u);
  EXPECT_EQ(at[0].exit_code, 3);
  EXPECT_EQ(at[1].kill_reason, "cancel");
  std::vector<std::string> states;
  for (const auto& e : s.Events(0, 100))
    if (e.job_id == a) states.push_back(e.state);
  EXPECT_EQ(states, (std::vector<std::string>{"SUBMITTED", "PENDING", "RUNNING", "PENDING", "RUNNING", "PENDING", "RUNNING", "CANCELLED"}));
  auto active = s.ActiveJobs();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].id, b);
  JobFilter f;
  f.state = State::kCancelled;
  EXPECT_EQ(s.ListJobs(f).size(), 1u);
  f = {};
  f.limit = 1;
  f.after_id = a;
  EXPECT_EQ(s.ListJobs(f).at(0).id, b);
  EXPECT_TRUE(s.Writable());
}

// Nested transactions join the outermost: one commit for all, or nothing when it is left by an exception.
TEST(Store, NestedTransactionsCommitOnceOrNotAtAll) {
  testing::TempDir d("sluice-store");
  Store s(d.path() + "/state.db");
  JobSpec spec = ParseJobSpec(R"({"command":["true"]})");
  try {
    Store::Txn outer(&s);
    s.Submit(spec, State::kPending, "", 1.0, {});  // its own Txn joins the outer one
    throw Error(ErrorKind::kOutput, "disk full");
  } catch (const Error&) {
  }
  EXPECT_TRUE(s.ActiveJobs().empty());
  {
    Store::Txn outer(&s);
    s.Submit(spec, State::kPending, "", 1.0, {});
    s.Submit(spec, State::kPending, "", 1.0, {});
    outer.Commit();
  }
  EXPECT_EQ(s.ActiveJobs().size(), 2u);
  EXPECT_TRUE(s.Writable());  // no transaction left open
}

// An array is one transaction: consecutive ids in index order, the first one's id the array's, and
// dependencies on every task; all of it read back after a reopen.
TEST(Store, ArraySubmitIsOneTransactionAndSurvivesReopen) {
  testing::TempDir d("sluice-store");
  std::string db = d.path() + "/state.db";
  std::vector<int64_t> ids;
  {
    Store s(db);
    int64_t before = s.Submit(ParseJobSpec(R"({"command":["true"]})"), State::kPending, "", 1.0, {});
    JobSpec spec = ParseJobSpec(R"({"command":["x"],"array":"2,4-6%2"})");
    std::vector<Dependency> deps{{before, DepCondition::kAfterOk}, {before, DepCondition::kAfterAny}};
    int64_t seq = s.LastEventSeq();
    try {
      Store::Txn t(&s);
      s.SubmitArray(spec, {2, 4, 5, 6}, State::kPending, "", 2.0, deps);
      throw Error(ErrorKind::kOutput, "disk full");
    } catch (const Error&) {
    }
    EXPECT_EQ(s.ArraySize(before + 1), 0) << "nothing of a failed array is left";
    EXPECT_EQ(s.LastEventSeq(), seq);
    ids = s.SubmitArray(spec, {2, 4, 5, 6}, State::kPending, "", 2.0, deps);
    EXPECT_EQ(s.LastEventSeq(), seq + 8) << "SUBMITTED and PENDING of each task";
  }
  Store s(db);
  ASSERT_EQ(ids.size(), 4u);
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_EQ(ids[i], ids[0] + static_cast<int64_t>(i));
  auto tasks = s.ArrayTasks(ids[0]);
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(s.ArraySize(ids[0]), 4);
  EXPECT_EQ(tasks[1].id, ids[1]);
  EXPECT_EQ(tasks[1].array_id, ids[0]);
  EXPECT_EQ(tasks[1].array_index, 4);
  EXPECT_EQ(s.ArrayTask(ids[0], 6)->id, ids[3]);
  EXPECT_FALSE(s.ArrayTask(ids[0], 3));
  EXPECT_TRUE(s.ArrayTasks(ids[1]).empty()) << "only the first task's id is the array's";
  EXPECT_EQ(s.ArrayTaskIds(ids[0]), ids) << "the same tasks, ids only, in index order";
  EXPECT_TRUE(s.ArrayTaskIds(ids[1]).empty());
  for (int64_t id : ids) EXPECT_EQ(s.Deps(id).size(), 2u);
  EXPECT_EQ(s.Deps(ids[3]).at(0).job, 1);
  EXPECT_EQ(tasks[0].spec_json, tasks[3].spec_json);
  EXPECT_EQ(ParseJobSpec(tasks[3].spec_json).array.spec, "2,4-6%2");
  JobFilter f;
  f.array_id = ids[0];
  EXPECT_EQ(s.ListJobs(f).size(), 4u);
}

// A database of schema version 1 (before hold, queue timeout, retry, GPUs and arrays) gets the new columns.
TEST(Store, Version1DatabaseIsMigrated) {
  testing::TempDir d("sluice-store");
  std::string db = d.path() + "/state.db";
  { Store s(db); }
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  for (const char* sql : {"ALTER TABLE jobs DROP COLUMN held", "ALTER TABLE jobs DROP COLUMN queued_at", "ALTER TABLE jobs DROP COLUMN retry_base",
                          "ALTER TABLE attempts DROP COLUMN gpus", "ALTER TABLE attempts DROP COLUMN cpus", "DROP INDEX jobs_array",
                          "ALTER TABLE jobs DROP COLUMN array_id", "ALTER TABLE jobs DROP COLUMN array_index",
                          "UPDATE meta SET value='1' WHERE key='schema_version'"})
    ASSERT_EQ(sqlite3_exec(h, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  sqlite3_close(h);
  Store s(db);
  int64_t id = s.Submit(ParseJobSpec(R"({"command":["true"]})"), State::kPending, "", 5.0, {});
  s.BeginAttempt(id, 6.0, {"GPU-a", "GPU-b"}, {0, 3});
  EXPECT_EQ(s.Attempts(id).at(0).gpus, (std::vector<std::string>{"GPU-a", "GPU-b"}));
  EXPECT_EQ(s.Attempts(id).at(0).cpus, (std::vector<int>{0, 3}));
  EXPECT_EQ(s.GetJob(id)->queued_at, 5.0);
  EXPECT_EQ(s.GetJob(id)->array_id, 0);
  auto ids = s.SubmitArray(ParseJobSpec(R"({"command":["true"],"array":"0-1"})"), {0, 1}, State::kPending, "", 7.0, {});
  EXPECT_EQ(s.ArrayTask(ids[0], 1)->id, ids[1]);
}

}  // namespace
}  // namespace sluice::manager
