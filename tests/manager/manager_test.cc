// The manager's scheduling over a fake machine: GPUs injected through Env::ListGpus and processes through
// a fake Processes, a clock the test moves. GPU admission by UUID without over-commit (the daemon's own
// mask respected, GPUs kept across a restart), queue timeout, hold / release / retry, and pipeline jobs
// (recipe checked at submit, the daemon's binary run as `sluice run` in the job's directory).
#include "manager/manager.h"

#include <gtest/gtest.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <set>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "manager/client.h"
#include "manager/limits.h"
#include "temp_dir.h"

namespace sluice::manager {
namespace {

// Two GPUs (the fake NVML's: an 80 GiB one with 79 free and a 16 GiB one with 15 free), a settable
// CUDA_VISIBLE_DEVICES for the daemon, and a wall clock the test sets.
struct FakeMachine : EnvWrapper {
  FakeMachine() : EnvWrapper(Env::Default()) {}
  std::optional<std::string> mask;
  double now = 1000;
  GpuInventory ListGpus() override {
    GpuInventory g;
    g.library = "injected";
    g.devices = {{0, "GPU-aaaa", "00000000:3B:00.0", "Fake A100", 80ull << 30, 79ull << 30},
                 {1, "GPU-bbbb", "00000000:AF:00.0", "Fake T4", 16ull << 30, 15ull << 30}};
    return g;
  }
  std::optional<std::string> GetEnvVar(const std::string& name) override {
    if (name == "CUDA_VISIBLE_DEVICES") return mask;
    return EnvWrapper::GetEnvVar(name);
  }
  double NowSeconds() override { return now; }
};

// Processes that never run anything: the test ends them.
struct FakeProcesses : Processes {
  struct Proc {
    LaunchRequest req;
    std::optional<ExitStatus> exit;
  };
  std::map<int64_t, Proc> procs;
  int64_t next_pid = 1000;
  ProcessIdentity Spawn(const LaunchRequest& req, int* go_fd) override {
    int64_t pid = next_pid++;
    procs[pid] = {req, std::nullopt};
    *go_fd = -1;
    return {pid, 1, "boot"};
  }
  void Release(int) override {}
  bool Alive(const ProcessIdentity& id) override { return procs.count(id.pid) && !procs[id.pid].exit; }
  std::optional<ExitStatus> Reap(int64_t pid) override { return procs.count(pid) ? procs[pid].exit : std::nullopt; }
  bool SignalGroup(const ProcessIdentity&, int) override { return true; }
  // The process running job `id` (its SLUICE_JOB_ID), if any is alive.
  Proc* Of(int64_t id) {
    for (auto& [pid, p] : procs)
      if (!p.exit && p.req.env.at("SLUICE_JOB_ID") == std::to_string(id)) return &p;
    return nullptr;
  }
  void End(int64_t id, int code) { Of(id)->exit = ExitStatus{ExitStatus::kExited, code}; }
};

struct ManagerTest : ::testing::Test {
  testing::TempDir tmp{"sluice-mgr"};
  const std::string dir = tmp.path();
  FakeMachine env;
  FakeProcesses procs;
  std::unique_ptr<Manager> m;
  std::function<void(const std::string&)> recipe_read;  // ManagerOptions::on_recipe_read
  void TearDown() override { m.reset(); }
  void Open(double cpus = 8) {
    m.reset();
    ManagerOptions o;
    o.data_dir = dir;
    o.capacity.cpus = cpus;
    o.capacity.memory = 1ull << 40;
    std::string note;
    o.capacity.gpus = ServerGpus(&env, &note);
    o.sluice_exe = "/opt/sluice/bin/sluice";
    o.seed = 1;
    o.on_recipe_read = [this](const std::string& recipe) {
      if (recipe_read) recipe_read(recipe);
    };
    m = std::make_unique<Manager>(&env, &procs, o);
  }
  SubmitResult Submit(const std::string& json) { return m->Submit(ParseJobSpec(json)); }
  State StateOf(int64_t id) { return m->GetJob(id)->state; }
  std::string Gpus(int64_t id) { return procs.Of(id)->req.env.at("CUDA_VISIBLE_DEVICES"); }
};

TEST_F(ManagerTest, GpusAreAssignedByUuidAndNeverOverCommitted) {
  Open();
  int64_t a = Submit(R"({"command":["a"],"resources":{"gpus":1}})").id;
  int64_t b = Submit(R"({"command":["b"],"resources":{"gpus":1}})").id;
  int64_t c = Submit(R"({"command":["c"],"resources":{"gpus":1}})").id;
  int64_t cpu = Submit(R"({"command":["cpu"]})").id;
  SubmitResult big = Submit(R"({"command":["big"],"resources":{"gpus":3}})");
  EXPECT_EQ(big.state, State::kRejected);
  EXPECT_NE(big.reason.find("2 visible"), std::string::npos) << big.reason;
  SubmitResult roomy = Submit(R"({"command":["x"],"resources":{"gpus":{"count":2,"min_free_memory":"20GiB"}}})");
  EXPECT_EQ(roomy.state, State::kRejected) << "only one device has 20 GiB";
  m->Tick();
  ASSERT_EQ(StateOf(a), State::kRunning);
  ASSERT_EQ(StateOf(b), State::kRunning);
  EXPECT_EQ(StateOf(c), State::kPending);
  EXPECT_EQ(m->GetJob(c)->reason, "waiting for resources");
  // Best fit: the first job gets the smaller device. Each sees only its own, in PCI bus order.
  EXPECT_EQ(Gpus(a), "GPU-bbbb");
  EXPECT_EQ(Gpus(b), "GPU-aaaa");
  EXPECT_EQ(procs.Of(a)->req.env.at("CUDA_DEVICE_ORDER"), "PCI_BUS_ID");
  EXPECT_EQ(Gpus(cpu), "") << "a job that asked for no GPU sees none";
  ResourceUse use = m->Usage();
  EXPECT_EQ(use.capacity.gpus.size(), 2u);
  EXPECT_EQ(use.gpu_holder.at("GPU-bbbb"), a);
  EXPECT_EQ(use.gpu_holder.at("GPU-aaaa"), b);
  EXPECT_NE(m->JobJson(a)->find(R"("gpus":["GPU-bbbb"])"), std::string::npos) << *m->JobJson(a);
  procs.End(a, 0);
  m->Tick();  // a ends; c gets its device
  EXPECT_EQ(StateOf(a), State::kCompleted);
  m->Tick();
  ASSERT_EQ(StateOf(c), State::kRunning);
  EXPECT_EQ(Gpus(c), "GPU-bbbb");
}

TEST_F(ManagerTest, MinimumFreeMemoryPicksTheDevice) {
  Open();
  int64_t a = Submit(R"({"command":["a"],"resources":{"gpus":{"count":1,"min_free_memory":"20GiB"}}})").id;
  int64_t b = Submit(R"({"command":["b"],"resources":{"gpus":{"count":1,"min_free_memory":"20GiB"}}})").id;
  m->Tick();
  EXPECT_EQ(Gpus(a), "GPU-aaaa");  // the only one with 20 GiB free
  EXPECT_EQ(StateOf(b), State::kPending);
}

TEST_F(ManagerTest, TheDaemonsOwnMaskLimitsTheGpus) {
  env.mask = "GPU-bbbb";
  Open();
  EXPECT_EQ(m->Usage().capacity.gpus.size(), 1u);
  EXPECT_EQ(Submit(R"({"command":["x"],"resources":{"gpus":2}})").state, State::kRejected);
  int64_t a = Submit(R"({"command":["a"],"resources":{"gpus":1}})").id;
  m->Tick();
  EXPECT_EQ(Gpus(a), "GPU-bbbb");
  env.mask = "";
  std::string note;
  EXPECT_TRUE(ServerGpus(&env, &note).empty());
  EXPECT_FALSE(note.empty());
}

TEST_F(ManagerTest, AReadoptedJobKeepsItsGpus) {
  Open();
  int64_t a = Submit(R"({"command":["a"],"resources":{"gpus":1}})").id;
  m->Tick();
  std::string held = Gpus(a);
  Open();  // the daemon restarts; a's process lives on
  m->Start();
  int64_t b = Submit(R"({"command":["b"],"resources":{"gpus":1}})").id;
  int64_t c = Submit(R"({"command":["c"],"resources":{"gpus":1}})").id;
  for (int i = 0; i < 500 && StateOf(b) != State::kRunning; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  m->Stop();  // the fake processes are the test's again
  m->Tick();
  EXPECT_EQ(StateOf(a), State::kRunning);
  ASSERT_EQ(StateOf(b), State::kRunning);
  EXPECT_NE(Gpus(b), held);
  EXPECT_EQ(StateOf(c), State::kPending);
  EXPECT_EQ(m->Usage().gpu_holder.at(held), a);
}

// Concurrent submits are grouped into shared commits; every caller gets its own id, each job is durable when
// its caller returns, and a bad submit in a group fails alone.
TEST_F(ManagerTest, ConcurrentSubmitsAreEachDurable) {
  Open();
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> ids(8);
  std::atomic<int> refused{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        try {
          ids[t].push_back(Submit(i == 7 ? R"({"command":["x"],"depends_on":[{"job":99999}]})" : R"({"command":["x"]})").id);
        } catch (const Error&) {
          ++refused;
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(refused.load(), 8);
  std::set<int64_t> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 8u * 39);
  m.reset();
  Store s(dir + "/state.db");
  EXPECT_EQ(s.ActiveJobs().size(), 8u * 39);
  for (int64_t id : all) EXPECT_EQ(s.GetJob(id)->state, State::kPending);
}

// A daemon restarted with fewer GPUs: a pending job that no longer fits waits with the reason and does not
// hold a reservation that would block the jobs behind it.
TEST_F(ManagerTest, AJobLargerThanTheRestartedServerDoesNotBlockTheQueue) {
  Open();
  int64_t hog = Submit(R"({"command":["hog"],"resources":{"gpus":1}})").id;
  int64_t two = Submit(R"({"command":["two"],"resources":{"gpus":2}})").id;
  m->Tick();
  ASSERT_EQ(StateOf(hog), State::kRunning);
  env.mask = Gpus(hog) == "GPU-aaaa" ? "GPU-bbbb" : "GPU-aaaa";  // the restarted daemon sees the other GPU only
  Open();
  m->Start();  // reconcile: hog re-adopted, two pending again
  m->Stop();
  int64_t one = Submit(R"({"command":["one"]})").id;
  m->Tick();
  EXPECT_EQ(StateOf(two), State::kPending);
  EXPECT_EQ(m->GetJob(two)->reason.rfind("exceeds this server's capacity: requests 2 GPUs", 0), 0u) << m->GetJob(two)->reason;
  EXPECT_EQ(StateOf(one), State::kRunning);
}

TEST_F(ManagerTest, QueueTimeoutCancelsAPendingJob) {
  Open(1);
  int64_t hog = Submit(R"({"command":["hog"]})").id;
  int64_t q = Submit(R"({"command":["q"],"timeout":{"queue":60}})").id;
  int64_t h = Submit(R"({"command":["h"],"timeout":{"queue":60}})").id;
  m->Tick();
  ASSERT_EQ(StateOf(hog), State::kRunning);
  ASSERT_EQ(m->Hold(h).status, ActionResult::kDone);
  env.now += 59;
  m->Tick();
  EXPECT_EQ(StateOf(q), State::kPending);
  env.now += 2;
  m->Tick();
  EXPECT_EQ(StateOf(q), State::kCancelled);
  EXPECT_EQ(m->GetJob(q)->reason, "queue timeout: pending longer than 60 s");
  EXPECT_EQ(StateOf(h), State::kPending) << "a held job's queue clock is stopped";
  env.now += 100;
  ASSERT_EQ(m->Release(h).status, ActionResult::kDone);  // queued again from now
  env.now += 59;
  m->Tick();
  EXPECT_EQ(StateOf(h), State::kPending);
  env.now += 2;
  m->Tick();
  EXPECT_EQ(StateOf(h), State::kCancelled);
}

TEST_F(ManagerTest, HoldReleaseRetry) {
  Open();
  int64_t a = Submit(R"({"command":["a"],"retry":{"max_attempts":2,"backoff":{"initial":10}}})").id;
  ASSERT_EQ(m->Hold(a).status, ActionResult::kDone);
  EXPECT_EQ(m->Hold(a).status, ActionResult::kConflict);
  m->Tick();
  EXPECT_EQ(StateOf(a), State::kPending);
  EXPECT_EQ(m->GetJob(a)->reason, "held by request");
  EXPECT_TRUE(m->GetJob(a)->held);
  ASSERT_EQ(m->Release(a).status, ActionResult::kDone);
  EXPECT_EQ(m->Release(a).status, ActionResult::kConflict);
  m->Tick();
  ASSERT_EQ(StateOf(a), State::kRunning);
  EXPECT_EQ(m->Hold(a).status, ActionResult::kConflict);
  EXPECT_EQ(m->Retry(a).status, ActionResult::kConflict);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    procs.End(a, 3);
    m->Tick();
    env.now += 11;  // the backoff
    m->Tick();
  }
  ASSERT_EQ(StateOf(a), State::kFailed);
  EXPECT_EQ(m->GetJob(a)->attempts, 2);
  // A manual retry: PENDING again with the whole retry budget; attempts keep counting under the same id.
  ASSERT_EQ(m->Retry(a).status, ActionResult::kDone);
  EXPECT_EQ(StateOf(a), State::kPending);
  m->Tick();
  ASSERT_EQ(StateOf(a), State::kRunning);
  procs.End(a, 3);
  m->Tick();
  EXPECT_EQ(StateOf(a), State::kPending) << "attempt 1 of the new budget is retried";
  env.now += 11;
  m->Tick();
  procs.End(a, 0);
  m->Tick();
  EXPECT_EQ(StateOf(a), State::kCompleted);
  EXPECT_EQ(m->GetJob(a)->attempts, 4);
  EXPECT_EQ(m->Retry(a).status, ActionResult::kConflict) << "a completed job is not retried";
  EXPECT_EQ(m->Retry(999).status, ActionResult::kNotFound);
  EXPECT_EQ(m->Hold(999).status, ActionResult::kNotFound);
}

TEST_F(ManagerTest, PipelineJobs) {
  Open();
  std::string recipe = dir + "/r.yaml", bad = dir + "/bad.yaml";
  std::ofstream(recipe) << "dataset_path: in.jsonl\nexport_path: out.jsonl\nprocess:\n  - whitespace_normalization_mapper:\n";
  std::ofstream(bad) << "dataset_path: in.jsonl\nexport_path: out.jsonl\nprocess:\n  - no_such_mapper:\n";
  SubmitResult r = Submit(R"({"kind":"pipeline","pipeline":{"recipe":")" + bad + R"("}})");
  EXPECT_EQ(r.state, State::kRejected);
  EXPECT_NE(r.reason.find("no_such_mapper"), std::string::npos) << r.reason;
  int64_t p = Submit(R"({"kind":"pipeline","pipeline":{"recipe":")" + recipe + R"(","overrides":{"np":"1"}}})").id;
  int64_t q = Submit(R"({"kind":"pipeline","pipeline":{"recipe":")" + recipe + R"(","job_dir":")" + dir + R"(/w/j7/"}})").id;
  m->Tick();
  std::string job_id = "sluice-" + DataDirTag(dir) + "-job" + std::to_string(p), run_dir = dir + "/jobs/" + std::to_string(p) + "/" + job_id;
  EXPECT_EQ(procs.Of(p)->req.argv,
            (std::vector<std::string>{"/opt/sluice/bin/sluice", "run", recipe, "--work_dir", run_dir, "--job_id", job_id, "--np", "1"}));
  EXPECT_EQ(procs.Of(q)->req.argv, (std::vector<std::string>{"/opt/sluice/bin/sluice", "run", recipe, "--work_dir", dir + "/w/j7", "--job_id", "j7"}));
  std::string json = *m->JobJson(p);
  EXPECT_NE(json.find(R"("job_dir":")" + run_dir + "\""), std::string::npos) << json;
  EXPECT_NE(json.find(R"("snapshot":{"status":"not_started")"), std::string::npos) << json;

  // A pipeline that declares no cpus asks for its recipe's np (it is pinned to that many); a declared
  // cpus count wins; a recipe leaving np to auto-configuration keeps the default of 1.
  auto cpus_of = [&](int64_t id) { return ParseJobSpec(m->GetJob(id)->spec_json).resources.cpus; };
  EXPECT_EQ(cpus_of(p), 1);  // np: 1 by override
  EXPECT_EQ(cpus_of(q), 1);  // np left to auto-configuration
  int64_t two = Submit(R"({"kind":"pipeline","pipeline":{"recipe":")" + recipe + R"(","overrides":{"np":"2"}}})").id;
  EXPECT_EQ(cpus_of(two), 2);
  int64_t declared = Submit(R"({"kind":"pipeline","resources":{"cpus":0.5},"pipeline":{"recipe":")" + recipe +
                            R"(","overrides":{"np":"2"}}})").id;
  EXPECT_EQ(cpus_of(declared), 0.5);

  // The same through the CLI's request (sluice submit --recipe): cpus are sent only when --cpus is given.
  std::string np3 = dir + "/np3.yaml";
  std::ofstream(np3) << "dataset_path: in.jsonl\nexport_path: out.jsonl\nnp: 3\nprocess:\n  - whitespace_normalization_mapper:\n";
  SubmitOptions cli;
  cli.recipe = np3;
  EXPECT_EQ(cpus_of(m->Submit(ParseJobSpec(SubmitBody(cli))).id), 3) << SubmitBody(cli);
  cli.cpus = 0;
  EXPECT_EQ(cpus_of(m->Submit(ParseJobSpec(SubmitBody(cli))).id), 0) << "--cpus 0 (not pinned) is a declaration too";
  SubmitOptions command;
  command.argv = {"true"};
  EXPECT_EQ(cpus_of(m->Submit(ParseJobSpec(SubmitBody(command))).id), 1) << "a command job's default";
}

// Each pipeline job has a sluice job id of its own (it names the export's journal, <export>.<job_id>.partial),
// kept by its retries and across a daemon restart, so that every attempt resumes the same sluice job; a job
// an older daemon started in <id>/run stays there. Two jobs writing the same export never run at once: the
// later one waits, saying for which job, also after a restart; a pipeline array whose tasks would all write
// one export is REJECTED, one with {job_id} in its export runs its tasks side by side.
TEST_F(ManagerTest, PipelineJobsHaveTheirOwnSluiceJobAndExport) {
  Open();
  std::string recipe = dir + "/r.yaml", own = dir + "/own.yaml";
  std::ofstream(recipe) << "dataset_path: in.jsonl\nexport_path: out/result.jsonl\nprocess:\n  - whitespace_normalization_mapper:\n";
  std::ofstream(own) << "dataset_path: in.jsonl\nexport_path: out/{job_id}.jsonl\nprocess:\n  - whitespace_normalization_mapper:\n";
  auto pipeline = [&](const std::string& r) {
    return Submit(R"({"kind":"pipeline","cwd":")" + dir + R"(","retry":{"max_attempts":2,"backoff":{"initial":1}},"pipeline":{"recipe":")" + r + R"("}})");
  };
  auto job_id_of = [&](int64_t id) {  // the sluice job id its running attempt was given
    const auto& argv = procs.Of(id)->req.argv;
    return argv.at(std::find(argv.begin(), argv.end(), "--job_id") - argv.begin() + 1);
  };
  int64_t a = pipeline(recipe).id, b = pipeline(recipe).id;
  int64_t legacy = pipeline(own).id;
  std::filesystem::create_directories(dir + "/jobs/" + std::to_string(legacy) + "/run");  // as an older daemon left it
  m->Tick();
  ASSERT_EQ(StateOf(a), State::kRunning);
  std::string a_id = job_id_of(a);
  EXPECT_EQ(a_id, "sluice-" + DataDirTag(dir) + "-job" + std::to_string(a));
  EXPECT_EQ(StateOf(b), State::kPending) << "b writes the same export as a";
  EXPECT_EQ(m->GetJob(b)->reason, "waiting for job " + std::to_string(a) + ", which writes the same export " + dir + "/out/result.jsonl");
  ASSERT_EQ(StateOf(legacy), State::kRunning);
  EXPECT_EQ(job_id_of(legacy), "run");
  EXPECT_EQ(procs.Of(legacy)->req.argv.at(4), dir + "/jobs/" + std::to_string(legacy) + "/run");

  // A restart re-adopts a; b still waits for it.
  Open();
  m->Start();  // reconciles
  m->Stop();   // the fake processes are the test's again
  m->Tick();
  EXPECT_EQ(StateOf(b), State::kPending);
  EXPECT_NE(m->GetJob(b)->reason.find("waiting for job " + std::to_string(a)), std::string::npos) << m->GetJob(b)->reason;
  // a fails: while it is in its retry backoff b writes the export (their journals are apart); a's retry then
  // waits for b, and resumes the same sluice job.
  procs.End(a, 1);
  m->Tick();
  ASSERT_EQ(StateOf(b), State::kRunning) << m->GetJob(b)->reason;
  EXPECT_EQ(job_id_of(b), "sluice-" + DataDirTag(dir) + "-job" + std::to_string(b));
  env.now += 2;
  m->Tick();
  EXPECT_EQ(StateOf(a), State::kPending);
  EXPECT_EQ(m->GetJob(a)->reason, "waiting for job " + std::to_string(b) + ", which writes the same export " + dir + "/out/result.jsonl");
  // A job cancelled while it waited and then retried by hand waits again (its export is known again).
  int64_t c = pipeline(recipe).id;
  m->Tick();
  EXPECT_EQ(StateOf(c), State::kPending);
  EXPECT_EQ(m->Cancel(c), CancelResult::kCancelled);
  m->Tick();
  ASSERT_EQ(m->Retry(c).status, ActionResult::kDone);
  m->Tick();
  EXPECT_EQ(StateOf(c), State::kPending);
  EXPECT_EQ(m->GetJob(c)->reason, "waiting for job " + std::to_string(b) + ", which writes the same export " + dir + "/out/result.jsonl");
  procs.End(b, 0);
  m->Tick();
  m->Tick();
  ASSERT_EQ(StateOf(a), State::kRunning) << m->GetJob(a)->reason;
  EXPECT_EQ(m->GetJob(a)->attempts, 2);
  EXPECT_EQ(job_id_of(a), a_id) << "the retry resumes a's sluice job";
  EXPECT_EQ(StateOf(c), State::kPending) << "c waits for a in turn";

  // Arrays: one export for every task is refused; {job_id} gives each task its own, and they run together.
  SubmitResult same = Submit(R"({"kind":"pipeline","cwd":")" + dir + R"(","array":"0-1","pipeline":{"recipe":")" + recipe + R"("}})");
  EXPECT_EQ(same.state, State::kRejected);
  EXPECT_NE(same.reason.find("every task of the pipeline array would write the same export 'out/result.jsonl'"), std::string::npos) << same.reason;
  SubmitResult arr = Submit(R"({"kind":"pipeline","cwd":")" + dir + R"(","array":"0-1","pipeline":{"recipe":")" + own + R"("}})");
  ASSERT_EQ(arr.state, State::kPending) << arr.reason;
  m->Tick();
  for (int64_t t : arr.task_ids) {
    ASSERT_EQ(StateOf(t), State::kRunning) << m->GetJob(t)->reason;
    EXPECT_EQ(job_id_of(t), "sluice-" + DataDirTag(dir) + "-job" + std::to_string(t));
  }
}

// A pipeline job's sluice job id is its job directory's basename: a second directory of one name is refused
// (400), naming the job that holds it, while the same directory again (the same sluice job) is taken. A
// REJECTED job holds no name; a default directory's name (sluice-TAG-job<id>) is its job's only; the names
// held survive a restart; and of concurrent submits of one name (committed together) exactly one is taken.
TEST_F(ManagerTest, ExplicitJobDirectoriesOfOneNameAreRefused) {
  Open();
  std::string recipe = dir + "/r.yaml", bad = dir + "/bad.yaml";
  std::ofstream(recipe) << "dataset_path: in.jsonl\nexport_path: out/{job_id}.jsonl\nprocess:\n  - whitespace_normalization_mapper:\n";
  std::ofstream(bad) << "dataset_path: in.jsonl\nexport_path: out.jsonl\nprocess:\n  - no_such_mapper:\n";
  auto in_dir = [&](const std::string& d, const std::string& r = "") {
    return Submit(R"({"kind":"pipeline","pipeline":{"recipe":")" + (r.empty() ? recipe : r) + R"(","job_dir":")" + d + R"("}})");
  };
  auto refusal = [&](const std::string& d) -> std::string {
    try {
      in_dir(d);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << e.what();
      return e.what();
    }
    return "accepted";
  };
  int64_t a = in_dir(dir + "/a/x").id;
  EXPECT_EQ(refusal(dir + "/b/x"), "pipeline.job_dir " + dir + "/b/x: job " + std::to_string(a) + "'s directory " + dir +
                                       "/a/x has the same name 'x', which would be the sluice job id of both (it names the export's "
                                       "journal, {job_id} and the recipe's checkpoint and event log directories): give the directory "
                                       "another name, or " + dir + "/a/x itself to resume that sluice job");
  EXPECT_NE(refusal(dir + "/b/./x/"), "accepted") << "compared as normal paths";
  SubmitResult again = in_dir(dir + "/a/x/");
  EXPECT_EQ(again.state, State::kPending) << "the same directory is the same sluice job";
  EXPECT_EQ(in_dir(dir + "/b/x2").state, State::kPending);
  EXPECT_EQ(in_dir(dir + "/c/y", bad).state, State::kRejected);
  EXPECT_EQ(in_dir(dir + "/d/y").state, State::kPending) << "a REJECTED job holds no name";
  EXPECT_NE(refusal(dir + "/c/y"), "accepted") << "the name is /d/y's now";
  m->Tick();
  EXPECT_EQ(procs.Of(a)->req.argv.at(6), "x");

  // Default directories: sluice-TAG-job<id> is job <id>'s (its own directory may be given to resume it).
  int64_t p = Submit(R"({"kind":"pipeline","pipeline":{"recipe":")" + recipe + R"("}})").id;
  std::string own = "sluice-" + DataDirTag(dir) + "-job" + std::to_string(p);
  EXPECT_EQ(refusal(dir + "/e/" + own), "pipeline.job_dir " + dir + "/e/" + own + ": '" + own + "' is the sluice job id of job " +
                                            std::to_string(p) + "'s default job directory: give the directory another name");
  EXPECT_NE(refusal(dir + "/jobs/999/sluice-" + DataDirTag(dir) + "-job999"), "accepted") << "a job to come";
  EXPECT_EQ(in_dir(dir + "/jobs/" + std::to_string(p) + "/" + own).state, State::kPending);
  EXPECT_EQ(in_dir(dir + "/e/sluice-" + DataDirTag(dir) + "-jobs").state, State::kPending) << "not the default form";

  // A restart keeps the names (from the database).
  Open();
  EXPECT_NE(refusal(dir + "/b/x"), "accepted");
  EXPECT_NE(refusal(dir + "/e/y"), "accepted");
  EXPECT_EQ(in_dir(dir + "/a/x").state, State::kPending);

  // Submits that queue while another commits are committed together, in one transaction: the name check
  // sees that batch too. The manager's lock is held (ReadStore) while a command job leads a commit and blocks
  // on it; eight submits of one name in eight directories queue behind it, then the lock is let go.
  std::promise<void> held, release;
  std::shared_future<void> released = release.get_future().share();
  std::thread holder([&] { m->ReadStore([&](Store&) { held.set_value(); released.wait(); }); });
  held.get_future().wait();
  std::atomic<pid_t> leader_tid{0};
  std::thread leader([&] {
    leader_tid = static_cast<pid_t>(syscall(SYS_gettid));
    Submit(R"({"command":["lead"]})");
  });
  std::atomic<int> taken{0}, refused{0};
  std::vector<std::thread> threads;
  std::vector<std::atomic<pid_t>> tids(8);
  auto blocked = [](std::atomic<pid_t>& tid) {  // the thread sleeps (on the lock or the queue), up to 30 s
    for (int i = 0; i < 3000; ++i, std::this_thread::sleep_for(std::chrono::milliseconds(10))) {
      if (tid == 0) continue;
      std::ifstream stat("/proc/self/task/" + std::to_string(tid.load()) + "/stat");
      std::string line;
      std::getline(stat, line);
      if (line.size() > line.rfind(')') + 2 && line[line.rfind(')') + 2] == 'S') return true;
    }
    return false;
  };
  ASSERT_TRUE(blocked(leader_tid));
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      tids[i] = static_cast<pid_t>(syscall(SYS_gettid));
      try {
        in_dir(dir + "/race" + std::to_string(i) + "/same");
        ++taken;
      } catch (const Error&) {
        ++refused;
      }
    });
  for (auto& tid : tids) EXPECT_TRUE(blocked(tid));
  release.set_value();
  for (auto& t : threads) t.join();
  leader.join();
  holder.join();
  EXPECT_EQ(taken, 1);
  EXPECT_EQ(refused, 7);
}

// A manual retry of a 1,000-task pipeline array reads its recipe once, not once per task, and not under the
// manager's lock; a retry of one job reads it once too. The retry still applies only to the tasks that
// ended FAILED or CANCELLED, and gives each its export back: the task whose export another job now writes
// waits for that job.
TEST_F(ManagerTest, RetryOfAPipelineArrayReadsTheRecipeOnceOutsideTheLock) {
  Open();
  int reads = 0, under_lock = 0;
  std::vector<std::thread> probes;
  recipe_read = [&](const std::string&) {
    ++reads;
    if (under_lock > 0) return;  // seen once: no more 30 s waits
    // Another thread takes the manager's lock (Usage): if our caller held it, that thread would wait for us.
    auto taken = std::make_shared<std::promise<void>>();
    std::future<void> f = taken->get_future();
    probes.emplace_back([this, taken] {
      m->Usage();
      taken->set_value();
    });
    if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) ++under_lock;
  };
  std::string recipe = dir + "/r.yaml";
  std::ofstream(recipe) << "dataset_path: in.jsonl\nexport_path: out/{job_id}.jsonl\nprocess:\n  - whitespace_normalization_mapper:\n";
  SubmitResult arr = Submit(R"({"kind":"pipeline","cwd":")" + dir + R"(","array":"0-999","pipeline":{"recipe":")" + recipe + R"("}})");
  ASSERT_EQ(arr.state, State::kPending) << arr.reason;
  ASSERT_EQ(arr.task_ids.size(), 1000u);
  int64_t first = arr.task_ids.front(), second = arr.task_ids[1], last = arr.task_ids.back();
  // A single job writing the last task's export (a literal path in its recipe).
  std::string last_export = dir + "/out/sluice-" + DataDirTag(dir) + "-job" + std::to_string(last) + ".jsonl";
  std::string fixed = dir + "/fixed.yaml";
  std::ofstream(fixed) << "dataset_path: in.jsonl\nexport_path: " << last_export << "\nprocess:\n  - whitespace_normalization_mapper:\n";
  int64_t writer = Submit(R"({"kind":"pipeline","cwd":")" + dir + R"(","pipeline":{"recipe":")" + fixed + R"("}})").id;
  m->Tick();
  ASSERT_EQ(StateOf(first), State::kRunning);
  procs.End(first, 0);
  procs.End(second, 1);
  m->Tick();
  ASSERT_EQ(StateOf(first), State::kCompleted);
  ASSERT_EQ(StateOf(second), State::kFailed);
  ArrayActionResult cancel = m->ArrayAction(Verb::kCancel, first);
  EXPECT_EQ(cancel.applied, 998);
  for (int64_t t : arr.task_ids)
    if (procs.Of(t)) procs.End(t, 143);
  m->Tick();
  m->Tick();
  ASSERT_EQ(StateOf(last), State::kCancelled);
  ASSERT_EQ(StateOf(writer), State::kRunning) << m->GetJob(writer)->reason;
  EXPECT_EQ(reads, 0) << "a submit's and a cancel's reads are not a retry's";

  ASSERT_EQ(m->Retry(second).status, ActionResult::kDone);
  EXPECT_EQ(reads, 1);
  ArrayActionResult retry = m->ArrayAction(Verb::kRetry, first);
  EXPECT_EQ(retry.tasks, 1000);
  EXPECT_EQ(retry.applied, 998) << "the COMPLETED task and the one retried already are not";
  EXPECT_EQ(reads, 2) << "one read for the whole array";
  EXPECT_EQ(under_lock, 0);

  m->Tick();
  EXPECT_EQ(StateOf(first), State::kCompleted);
  EXPECT_EQ(StateOf(last), State::kPending);
  EXPECT_EQ(m->GetJob(last)->reason, "waiting for job " + std::to_string(writer) + ", which writes the same export " + last_export);
  int running = 0;
  for (int64_t t : arr.task_ids) running += StateOf(t) == State::kRunning;
  EXPECT_EQ(running, 7) << "8 CPUs, one of them the writer's";
  for (auto& p : probes) p.join();
}

// An array: one task per index with consecutive ids, its environment, the %M limit on running tasks kept
// by admission (and after a restart), a dependency on the array expanded to every task, and the whole
// array's view, cancel and aggregate state.
TEST_F(ManagerTest, ArrayJobs) {
  Open();
  SubmitResult r = Submit(R"({"name":"arr","command":["t"],"array":"0-4%2"})");
  ASSERT_EQ(r.state, State::kPending);
  ASSERT_EQ(r.task_ids.size(), 5u);
  int64_t arr = r.id;
  EXPECT_EQ(r.task_ids.front(), arr);
  EXPECT_EQ(r.task_ids.back(), arr + 4);
  int64_t after = Submit(R"({"command":["after"],"depends_on":[{"job":)" + std::to_string(arr) + "}]}").id;
  int64_t after_one = Submit(R"({"command":["one"],"depends_on":[{"job":")" + std::to_string(arr) + R"(_1"}]})").id;
  EXPECT_EQ(m->GetJob(after)->state, State::kPending);
  EXPECT_THROW(Submit(R"({"command":["x"],"depends_on":[{"job":")" + std::to_string(arr) + R"(_9"}]})"), Error);
  EXPECT_EQ(m->Resolve({arr, -1}).kind, Resolved::kArray);
  EXPECT_EQ(m->Resolve({arr, -1}).size, 5);
  EXPECT_EQ(m->Resolve({arr, 0}).kind, Resolved::kJob);
  EXPECT_EQ(m->Resolve({arr + 1, -1}).kind, Resolved::kJob) << "a later task's id is that task";
  EXPECT_EQ(m->Resolve({arr, 5}).kind, Resolved::kNone);

  auto running = [&] {
    int n = 0;
    for (int64_t id : r.task_ids) n += StateOf(id) == State::kRunning;
    return n;
  };
  m->Tick();
  EXPECT_EQ(running(), 2);
  ASSERT_EQ(StateOf(arr), State::kRunning);
  auto& env0 = procs.Of(arr + 1)->req.env;
  EXPECT_EQ(env0.at("SLUICE_ARRAY_JOB_ID"), std::to_string(arr));
  EXPECT_EQ(env0.at("SLUICE_ARRAY_TASK_ID"), "1");
  EXPECT_EQ(env0.at("SLUICE_ARRAY_TASK_COUNT"), "5");
  EXPECT_EQ(env0.at("SLUICE_ARRAY_TASK_MIN"), "0");
  EXPECT_EQ(env0.at("SLUICE_ARRAY_TASK_MAX"), "4");
  EXPECT_EQ(m->GetJob(arr + 2)->reason, fmt::format("array {}: 2 of 2 tasks running or next to start (%2)", arr));
  EXPECT_EQ(StateOf(after_one), State::kPending);

  // A restart keeps the limit: the running tasks are re-adopted and counted.
  Open();
  m->Start();
  m->Tick();
  EXPECT_EQ(running(), 2);
  // A re-adopted process is no child to reap: its wrapper's status file says how it ended. The file is
  // written before the process ends, as the wrapper does, or a supervisor tick in between finds it LOST.
  for (int64_t id : {arr, arr + 1}) {
    std::ofstream(fmt::format("{}/jobs/{}/attempt-1.status", dir, id)) << "exit 0\n";
    procs.End(id, 0);
  }
  m->Tick();  // both end; their places are taken within the same tick's admission
  EXPECT_EQ(running(), 2) << *m->ArrayJson(arr);
  m->Tick();
  EXPECT_EQ(StateOf(after_one), State::kRunning) << "ID_K waits for that task only";
  EXPECT_EQ(StateOf(after), State::kPending) << "ID waits for every task";
  EXPECT_EQ(m->GetJob(after)->reason.rfind("waiting for dependency afterok", 0), 0u) << m->GetJob(after)->reason;

  std::string view = *m->ArrayJson(arr);
  EXPECT_NE(view.find(R"("state":"RUNNING")"), std::string::npos) << view;
  EXPECT_NE(view.find(R"("size":5,"max_running":2,"spec":"0-4%2")"), std::string::npos) << view;
  EXPECT_NE(view.find(R"("COMPLETED":2)"), std::string::npos) << view;
  EXPECT_FALSE(m->ArrayJson(arr + 1)) << "not an array's id";
  EXPECT_NE(m->JobJson(arr + 3)->find(fmt::format(R"("array_id":{},"array_index":3)", arr)), std::string::npos);

  // Cancel of the whole array: the pending task at once, the running ones asked to stop.
  ArrayActionResult c = m->ArrayAction(Verb::kCancel, arr);
  EXPECT_EQ(c.tasks, 5);
  EXPECT_EQ(c.applied, 3);
  EXPECT_EQ(c.stopping, 2);
  EXPECT_EQ(StateOf(arr + 4), State::kCancelled);
  m->Tick();  // SIGTERM; the fake processes end as killed
  for (int64_t id : {arr + 2, arr + 3}) procs.Of(id)->exit = ExitStatus{ExitStatus::kSignaled, 15};
  m->Tick();
  m->Tick();
  view = *m->ArrayJson(arr);
  EXPECT_NE(view.find(R"("state":"CANCELLED")"), std::string::npos) << view;
  EXPECT_EQ(StateOf(after), State::kCancelled) << "afterok on a cancelled task can never hold";
  EXPECT_EQ(m->ArrayAction(Verb::kCancel, arr).applied, 0);
  // Retry of the whole array: only its cancelled tasks run again.
  EXPECT_EQ(m->ArrayAction(Verb::kRetry, arr).applied, 3);
  EXPECT_EQ(StateOf(arr), State::kCompleted);
  EXPECT_EQ(StateOf(arr + 4), State::kPending);
}

TEST_F(ManagerTest, HoldAndReleaseAWholeArray) {
  Open();
  SubmitResult r = Submit(R"({"command":["t"],"array":"3,5,7"})");
  ArrayActionResult h = m->ArrayAction(Verb::kHold, r.id);
  EXPECT_EQ(h.applied, 3);
  m->Tick();
  for (int64_t id : r.task_ids) EXPECT_EQ(m->GetJob(id)->reason, "held by request");
  EXPECT_EQ(m->ArrayAction(Verb::kHold, r.id).applied, 0) << "all are held already";
  EXPECT_EQ(m->ArrayAction(Verb::kRelease, r.id).applied, 3);
  m->Tick();
  for (int64_t id : r.task_ids) EXPECT_EQ(StateOf(id), State::kRunning);
  EXPECT_EQ(procs.Of(r.task_ids[2])->req.env.at("SLUICE_ARRAY_TASK_ID"), "7");
}

// A dependent array gets every dependency row once per task, so the bound on dependency rows is on the
// product: 400 task dependencies for each of 300 tasks (120,000 rows) is refused with the numbers, and
// nothing of it is written; 400 for each of 250 (100,000) is accepted.
TEST_F(ManagerTest, DependencyRowsOfADependentArrayAreBounded) {
  Open();
  int64_t arr = Submit(R"({"command":["t"],"array":"0-399"})").id;
  std::string after = R"(,"depends_on":[{"job":)" + std::to_string(arr) + "}]}";
  try {
    Submit(R"({"command":["x"],"array":"0-299")" + after);
    ADD_FAILURE() << "120,000 dependency rows accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("400 dependencies for each of 300 array tasks make 120000 dependency rows, more than 100000"),
              std::string::npos)
        << e.what();
  }
  SubmitResult ok = Submit(R"({"command":["x"],"array":"0-249")" + after);
  EXPECT_EQ(ok.state, State::kPending);
  EXPECT_EQ(ok.id, arr + 400) << "the refused array wrote no job";
}

// A job is cancelled in the tick its dependency can no longer hold, even behind dependencies still
// waiting (the scan stops at the first waiting one only while no job has ended since the last full one).
TEST_F(ManagerTest, AFailedDependencyBehindAWaitingOneCancelsAtOnce) {
  Open();
  int64_t a = Submit(R"({"command":["a"]})").id;
  int64_t b = Submit(R"({"command":["b"]})").id;
  int64_t c = Submit(R"({"command":["c"]})").id;
  int64_t j = Submit(fmt::format(R"({{"command":["j"],"depends_on":[{{"job":{}}},{{"job":{}}},{{"job":{}}}]}})", a, b, c)).id;
  m->Tick();
  m->Tick();
  EXPECT_EQ(m->GetJob(j)->reason, fmt::format("waiting for dependency afterok {}", a));
  procs.End(b, 0);  // satisfied: j still waits for a
  m->Tick();
  EXPECT_EQ(StateOf(j), State::kPending);
  EXPECT_EQ(m->GetJob(j)->reason, fmt::format("waiting for dependency afterok {}", a));
  procs.End(c, 1);
  m->Tick();
  EXPECT_EQ(StateOf(j), State::kCancelled);
  EXPECT_EQ(m->GetJob(j)->reason, fmt::format("dependency afterok {} can never be satisfied: job {} is FAILED", c, c));
  EXPECT_EQ(StateOf(a), State::kRunning);
}

// An array larger than the machine is rejected whole.
TEST_F(ManagerTest, RejectedArrayRejectsEveryTask) {
  Open(2);
  SubmitResult r = Submit(R"({"command":["t"],"resources":{"cpus":3},"array":"0-2"})");
  EXPECT_EQ(r.state, State::kRejected);
  ASSERT_EQ(r.task_ids.size(), 3u);
  for (int64_t id : r.task_ids) EXPECT_EQ(StateOf(id), State::kRejected);
  EXPECT_NE(m->ArrayJson(r.id)->find(R"("state":"REJECTED")"), std::string::npos);
}

}  // namespace
}  // namespace sluice::manager
