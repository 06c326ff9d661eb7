// The scheduler with real worker processes (small shell scripts that filter the input table by range):
// retries, GPU waiting on injected inventories, plan refusals and re-planning, resume of shards a dead
// scheduler left running, and the merge (coverage, de-duplication, spilled sorting, refusals).
#include "shard/scheduler.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simdjson.h>

#include <xxhash.h>

#include "core/error.h"
#include "shard/merge.h"
#include "shard/state.h"
#include "shard_fixture.h"

namespace sluice::shard {
namespace {

struct Ran {
  int rc = -1;
  std::string out, err;
};

std::string Slurp(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
  std::fclose(f);
  return s;
}

struct SchedulerTest : TempDirTest {
  std::string input, out_dir, worker;
  ShardOptions opt;

  void SetUp() override {
    TempDirTest::SetUp();
    // 50 keys, each on two rows (the worker copies both: the merge keeps one per key), in shuffled order.
    std::string csv = "data_id,text\n";
    for (int i = 0; i < 100; ++i) csv += std::to_string((i * 37) % 50) + ",\"row " + std::to_string(i) + ", quoted\"\n";
    input = Write("in.csv", csv);
    out_dir = dir + "/out";
    // worker LOW HIGH OUT INPUT: the rows of the range, by awk (keys are the first column). Behaviour is
    // switched by files in the test directory: fail_once_<low> fails the first attempt of that shard,
    // fail_<low> every attempt, gpu_lock makes two concurrent workers fail, reverse writes rows backwards,
    // stray_<low> adds a key outside the range.
    worker = Write("worker.sh",
                   "#!/bin/sh\n"
                   "d=" + dir + "\n"
                   "echo \"worker $1-$2 starting on ${CUDA_VISIBLE_DEVICES:-cpu}\"\n"
                   "echo \"$CUDA_VISIBLE_DEVICES\" > $d/cuda_$1\n"
                   "if [ -e $d/fail_once_$1 ]; then rm $d/fail_once_$1; echo 'failing once' >&2; exit 3; fi\n"
                   "if [ -e $d/fail_$1 ]; then exit 4; fi\n"
                   "if [ -e $d/gpu_lock ]; then mkdir $d/busy || exit 9; sleep 0.2; rmdir $d/busy; fi\n"
                   "awk -F, -v lo=$1 -v hi=$2 'NR==1 || ($1+0>=lo && $1+0<hi)' $4 > $3.tmp\n"
                   "if [ -e $d/reverse ]; then (head -n1 $3.tmp; tail -n +2 $3.tmp | sort -t, -k1,1nr) > $3.rev; mv $3.rev $3.tmp; fi\n"
                   "if [ -e $d/stray_$1 ]; then echo '999,stray' >> $3.tmp; fi\n"
                   "mv $3.tmp $3\n"
                   "echo \"worker $1-$2 done\"\n");
    chmod(worker.c_str(), 0755);
    opt.input = input;
    opt.key_column = "data_id";
    opt.output_dir = out_dir;
    opt.num_workers = 4;
    opt.gpus_per_worker = 0;
    opt.max_parallel_workers = 2;
    opt.retry_backoff_seconds = 0.01;
    opt.kill_grace_seconds = 1;
    opt.worker_argv = {worker, "{low}", "{high}", "{out}", "{input}"};
  }

  Ran Run(Env* env = Env::Default()) {
    Ran r;
    std::FILE* o = std::tmpfile();
    std::FILE* e = std::tmpfile();
    r.rc = RunShards(env, opt, o, e);
    r.out = Slurp(o);
    r.err = Slurp(e);
    return r;
  }
  Error RunError() {
    try {
      Run();
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "no error";
    return Error(ErrorKind::kInternal, "");
  }
  std::vector<ShardState> States() {
    std::vector<ShardState> out;
    for (const auto& f : std::filesystem::directory_iterator(out_dir))
      if (f.path().filename().string().rfind("worker_args_", 0) == 0) out.push_back(*ReadState(Env::Default(), f.path()));
    std::sort(out.begin(), out.end(), [](const ShardState& a, const ShardState& b) { return std::stoll(a.low) < std::stoll(b.low); });
    return out;
  }
  // The merged table's keys in order, checking each row appears once.
  std::vector<int> MergedKeys() {
    std::string m = Read(out_dir + "/generation_results_data_all_real_merged.csv");
    std::vector<int> keys;
    size_t pos = m.find('\n') + 1;
    EXPECT_EQ(m.substr(0, pos), "data_id,text\n");
    while (pos < m.size()) {
      keys.push_back(std::stoi(m.substr(pos)));
      pos = m.find('\n', pos) + 1;
    }
    return keys;
  }
  static std::vector<int> Range(int n) {
    std::vector<int> v(n);
    for (int i = 0; i < n; ++i) v[i] = i;
    return v;
  }
  std::string Summary(const std::string& field) {
    simdjson::dom::parser p;
    simdjson::dom::element e = p.load(out_dir + "/merge_summary.json");
    return simdjson::minify(e[field]);
  }
};

TEST_F(SchedulerTest, RetriesAFailureAndMergesOneRowPerKeyWithFullCoverage) {
  Write("fail_once_13", "");
  Ran r = Run();
  ASSERT_EQ(r.rc, 0) << r.err;
  auto st = States();
  ASSERT_EQ(st.size(), 4u);
  EXPECT_EQ(st[0].low + "-" + st[0].high, "0-13");
  EXPECT_EQ(st[3].low + "-" + st[3].high, "38-50");
  for (const auto& s : st) {
    EXPECT_EQ(s.status, ShardStatus::kCompleted);
    EXPECT_EQ(s.attempt, s.low == "13" ? 2 : 1) << s.low;
    ASSERT_TRUE(s.result);
    EXPECT_EQ(s.result->rows, 2 * (std::stoi(s.high) - std::stoi(s.low)));
    EXPECT_EQ(s.exit_code, 0);
    EXPECT_GT(s.proc_starttime, 0u);
    EXPECT_TRUE(std::filesystem::exists(s.log_path));
  }
  EXPECT_NE(Read(out_dir + "/logs/shard_13_26.attempt1.log").find("failing once"), std::string::npos);
  EXPECT_NE(r.err.find("[13-26) failed (exit code 3); attempt 2 of 3"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("[38-50) worker 38-50 starting on cpu\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("progress: 4/4 done, 0 running, 0 pending, 0 failed"), std::string::npos) << r.err;
  EXPECT_EQ(MergedKeys(), Range(50));
  EXPECT_EQ(Summary("total_rows"), "50");
  EXPECT_EQ(Summary("duplicates_dropped"), "50");
  EXPECT_EQ(Summary("missing_shards"), "[]");
  EXPECT_EQ(Summary("expected_shards"), "[\"[0-13)\",\"[13-26)\",\"[26-38)\",\"[38-50)\"]");

  // A rerun skips every verified shard and runs nothing.
  Ran again = Run();
  EXPECT_EQ(again.rc, 0);
  EXPECT_EQ(again.out, "");
  EXPECT_NE(again.err.find("0 to run, 4 completed"), std::string::npos) << again.err;
  // A changed result is noticed: that shard runs again.
  Write("out/generation_results_data_0_to_13_real.csv", "data_id,text\n");
  Ran third = Run();
  EXPECT_EQ(third.rc, 0);
  EXPECT_NE(third.err.find("[0-13) was completed but its result"), std::string::npos) << third.err;
  EXPECT_EQ(States()[0].attempt, 2);
  EXPECT_EQ(MergedKeys(), Range(50));
}

TEST_F(SchedulerTest, WaitsForAGpuInsteadOfDroppingShards) {
  FakeGpuEnv env;
  env.gpus = [] { return std::vector<GpuDevice>{FakeGpu(0, 40), FakeGpu(1, 2)}; };  // GPU 1: too little free memory
  Write("gpu_lock", "");  // two workers at once fail
  opt.gpus_per_worker = 1;
  opt.max_parallel_workers = 3;
  opt.num_workers = 3;
  opt.max_attempts = 1;
  opt.gpu_wait_max_seconds = 0.05;
  Ran r = Run(&env);
  ASSERT_EQ(r.rc, 0) << r.err;
  auto st = States();
  ASSERT_EQ(st.size(), 3u);
  for (const auto& s : st) {
    EXPECT_EQ(s.status, ShardStatus::kCompleted);
    ASSERT_EQ(s.gpus.size(), 1u);
    EXPECT_EQ(s.gpus[0].uuid, "GPU-fake-0");
    EXPECT_EQ(s.env_overrides.at("CUDA_VISIBLE_DEVICES"), "GPU-fake-0");
    EXPECT_EQ(Read(dir + "/cuda_" + s.low), "GPU-fake-0\n");
  }
  EXPECT_NE(r.err.find("waits for GPUs: 0 GPU(s) usable, 1 needed: 1 held by running workers, 1 with less than 10.0 GiB free"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("on GPU 0 Fake GPU 0 (GPU-fake-0)"), std::string::npos) << r.err;
  EXPECT_EQ(MergedKeys(), Range(50));
}

TEST_F(SchedulerTest, AGpuThatFreesMemoryLaterIsUsedAndTheMaskIsRespected) {
  FakeGpuEnv env;
  env.gpus = [&env] { return std::vector<GpuDevice>{FakeGpu(0, 40), FakeGpu(1, env.probes < 4 ? 1 : 30)}; };
  env.vars["CUDA_VISIBLE_DEVICES"] = "1";  // GPU 0 belongs to someone else
  opt.gpus_per_worker = 1;
  opt.num_workers = 2;
  opt.gpu_wait_max_seconds = 0.05;
  Ran r = Run(&env);
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_GE(env.probes, 4);
  for (const auto& s : States()) EXPECT_EQ(s.env_overrides.at("CUDA_VISIBLE_DEVICES"), "GPU-fake-1");
  EXPECT_NE(r.err.find("1 with less than 10.0 GiB free"), std::string::npos) << r.err;
}

TEST_F(SchedulerTest, FailedShardsBlockTheMergeUnlessPartialAndChangedPlansAreRefused) {
  Write("fail_26", "");
  opt.max_attempts = 2;
  Ran r = Run();
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("[26-38) failed (exit code 4) after 2 attempt(s)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not merging: 1 shard(s) failed, 0 missing"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(out_dir + "/generation_results_data_all_real_merged.csv"));
  EXPECT_EQ(Summary("merged"), "false");
  EXPECT_EQ(Summary("failed_shards"), "[\"[26-38)\"]");
  opt.allow_partial = true;
  r = Run();
  EXPECT_EQ(r.rc, 1);  // still a failed shard
  EXPECT_EQ(Summary("merged"), "true");
  EXPECT_EQ(Summary("merged_shards"), "[\"[0-13)\",\"[13-26)\",\"[38-50)\"]");
  EXPECT_EQ(MergedKeys().size(), 38u);
  opt.allow_partial = false;

  // Another N: refused, saying why and what to do.
  opt.num_workers = 3;
  Error e = RunError();
  EXPECT_EQ(e.kind(), ErrorKind::kState);
  EXPECT_NE(std::string(e.what()).find("it was planned for --num-workers 4, not 3"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("--replan"), std::string::npos);
  // --replan keeps the three completed shards and splits the failed one's 12 keys into 3 new ranges.
  std::filesystem::remove(dir + "/fail_26");
  opt.replan = true;
  r = Run();
  ASSERT_EQ(r.rc, 0) << r.err;
  auto st = States();
  ASSERT_EQ(st.size(), 6u);
  EXPECT_EQ(st[2].low + "-" + st[2].high, "26-30");
  EXPECT_EQ(st[4].low + "-" + st[4].high, "34-38");
  EXPECT_EQ(st[0].attempt, 1);  // kept, not run again
  EXPECT_FALSE(std::filesystem::exists(out_dir + "/worker_args_26_38.json"));
  EXPECT_EQ(MergedKeys(), Range(50));

  // A changed input: refused without --replan.
  opt.replan = false;
  Write("in.csv", Read(input) + "50,new\n");
  e = RunError();
  EXPECT_EQ(e.kind(), ErrorKind::kState);
  EXPECT_NE(std::string(e.what()).find("the input changed since it was planned"), std::string::npos) << e.what();
  opt.replan = true;
  r = Run();
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(MergedKeys(), Range(51));
}

TEST_F(SchedulerTest, MergeSortsLargeUnsortedResultsAndRejectsKeysOutsideTheRange) {
  Write("reverse", "");
  opt.merge_run_bytes = 300;  // a few rows per run: the spilled k-way merge
  opt.num_workers = 2;
  Ran r = Run();
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(MergedKeys(), Range(50));
  EXPECT_FALSE(std::filesystem::exists(out_dir + "/.merge_tmp"));

  // A worker that writes another range's key has not completed its shard: every attempt fails, so nothing
  // is merged (before, the shard counted as completed and every merge of the directory failed).
  std::filesystem::remove_all(out_dir);
  Write("stray_25", "");
  opt.max_attempts = 2;
  r = Run();
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("[25-50) failed (exited 0 but its result is unusable: " + out_dir +
                       "/generation_results_data_25_to_50_real.csv:52: key '999' lies outside the shard's range [25-50)) after 2 attempt(s)"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(out_dir + "/generation_results_data_all_real_merged.csv"));
  // Once the worker behaves, the rerun completes.
  std::filesystem::remove(dir + "/stray_25");
  ASSERT_EQ(Run().rc, 0);
  EXPECT_EQ(MergedKeys(), Range(50));
}

// The merge checks the range itself too (a state file written by hand or by an older sluice).
TEST_F(SchedulerTest, TheMergeRefusesAResultWithAKeyOutsideItsRange) {
  Plan plan;
  plan.key_column = "data_id";
  plan.key_type = KeyType::kInt;
  ShardRange range;
  range.range.low = *EncodeKey(KeyType::kInt, "0");
  range.range.high = *EncodeKey(KeyType::kInt, "10");
  std::string path = Write("r.csv", "data_id,text\n3,a\n12,b\n");
  std::string text = Read(path);
  MergeShard s{range, ShardStatus::kCompleted, ShardResult{path, 2, text.size(), fmt::format("{:016x}", XXH3_64bits(text.data(), text.size()))}};
  MergeOptions mo{dir + "/m.csv", dir + "/summary.json", dir + "/tmp"};
  try {
    MergeResults(Env::Default(), plan, {s}, mo);
    ADD_FAILURE() << "merged";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kData);
    EXPECT_NE(std::string(e.what()).find(path + ":3: key '12' lies outside the shard's range [0-10)"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/m.csv"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/tmp")) << "the spill directory is removed on failure too";
}

// A result completes its shard only if its distinct keys are exactly the input's keys of the range.
TEST_F(SchedulerTest, VerifyResultRequiresExactlyTheInputKeysOfTheRange) {
  Plan plan;
  plan.input = "/in.csv";
  plan.key_column = "data_id";
  plan.key_type = KeyType::kInt;
  ShardRange range;
  range.range.low = *EncodeKey(KeyType::kInt, "2");
  range.range.high = *EncodeKey(KeyType::kInt, "8");
  std::vector<std::string> keys;
  for (const char* k : {"0", "2", "4", "6", "8"}) keys.push_back(*EncodeKey(KeyType::kInt, k));
  auto verify = [&](const std::string& content) {
    return VerifyResult(Env::Default(), Write("v.csv", content), plan, range, keys);
  };
  auto error = [&](const std::string& content) {
    try {
      verify(content);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  ShardResult ok = verify("data_id,text\n6,c\n2,a\n4,b\n4,b again\n");
  EXPECT_EQ(ok.rows, 4u);
  EXPECT_EQ(ok.size, 35u);
  EXPECT_EQ(ok.xxh3.size(), 16u);
  EXPECT_NE(error("data_id,text\n2,a\n6,c\n"), "no error");
  EXPECT_NE(error("data_id,text\n2,a\n6,c\n").find("v.csv: 1 of the 3 input key(s) of the shard's range [2-8) are missing from it (the first: '4')"),
            std::string::npos);
  EXPECT_NE(error("data_id,text\n2,a\n3,x\n4,b\n6,c\n").find("v.csv:3: key '3' is not a key of the input /in.csv"), std::string::npos);
  EXPECT_NE(error("data_id,text\n2,a\n4,b\n6,c\n8,d\n").find("v.csv:5: key '8' lies outside the shard's range [2-8)"), std::string::npos);
  EXPECT_NE(error("data_id,text\n2,a\nx,b\n").find("v.csv:3: key 'x' is not an integer"), std::string::npos);
  EXPECT_NE(error("id,text\n2,a\n").find("no key column 'data_id'"), std::string::npos);
  range.range.unbounded = true;  // the whole tail: 8 must be there now
  EXPECT_NE(error("data_id,text\n2,a\n4,b\n6,c\n").find("(the first: '8')"), std::string::npos);
}

TEST_F(SchedulerTest, ShardsADeadSchedulerLeftRunningAreReconciled) {
  opt.num_workers = 3;
  ASSERT_EQ(Run().rc, 0);
  auto st = States();
  // Shard 0: "running" under a pid that has exited, no exit status: lost, run again.
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  st[0].status = ShardStatus::kRunning;
  st[0].pid = st[0].pgid = gone;
  st[0].status_path = dir + "/none.status";
  WriteState(Env::Default(), out_dir + "/worker_args_0_17.json", st[0]);
  // Shard 1: "running", but its wrapper recorded exit 0 and the result is there: completed as it is.
  st[1].status = ShardStatus::kRunning;
  st[1].pid = gone;
  Write("ok.status", "exit 0\n");
  st[1].status_path = dir + "/ok.status";
  WriteState(Env::Default(), out_dir + "/worker_args_17_34.json", st[1]);
  // Shard 2: "running", wrapper recorded a failure: failed, run again.
  st[2].status = ShardStatus::kRunning;
  st[2].pid = gone;
  Write("bad.status", "signal 9\n");
  st[2].status_path = dir + "/bad.status";
  WriteState(Env::Default(), out_dir + "/worker_args_34_50.json", st[2]);
  Ran r = Run();
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.err.find("[0-17): recorded as lost"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[17-34): recorded as completed (result verified)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[34-50): recorded as failed (ended while no scheduler watched: killed by signal 9"), std::string::npos) << r.err;
  st = States();
  EXPECT_EQ(st[0].attempt, 2);
  EXPECT_EQ(st[1].attempt, 1);
  EXPECT_EQ(st[2].attempt, 2);
  EXPECT_EQ(MergedKeys(), Range(50));
}

TEST_F(SchedulerTest, BadOptionsAndTablesAreClearErrors) {
  opt.worker_argv = {worker, "{lo}"};
  Error e = RunError();
  EXPECT_EQ(e.kind(), ErrorKind::kUsage);
  EXPECT_NE(std::string(e.what()).find("unknown placeholder {lo}"), std::string::npos) << e.what();
  opt.worker_argv = {"true"};
  opt.key_column = "id";
  e = RunError();
  EXPECT_EQ(e.kind(), ErrorKind::kData);
  EXPECT_NE(std::string(e.what()).find("in.csv:1: no key column 'id'"), std::string::npos) << e.what();
  opt.key_column = "data_id";
  opt.gpus_per_worker = 1;
  FakeGpuEnv none;
  std::FILE* o = std::tmpfile();
  EXPECT_THROW(RunShards(&none, opt, o, o), Error);  // no GPU at all: refused, not waited for
  std::fclose(o);
}

// A run refused before any work writes nothing: not OUT itself when it is new, not plan.json, args.json or
// scheduler_config.json when it exists.
TEST_F(SchedulerTest, ARunRefusedBeforeAnyWorkWritesNothing) {
  FakeGpuEnv none;
  opt.gpus_per_worker = 1;
  std::FILE* o = std::tmpfile();
  try {
    RunShards(&none, opt, o, o);
    ADD_FAILURE() << "no GPU at all: refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(std::string(e.what()).find("--gpus-per-worker 0 runs CPU workers"), std::string::npos) << e.what();
  }
  std::fclose(o);
  EXPECT_FALSE(std::filesystem::exists(out_dir)) << "refused for GPUs";
  opt.gpus_per_worker = 0;
  opt.key_column = "id";
  EXPECT_EQ(RunError().kind(), ErrorKind::kData);
  EXPECT_FALSE(std::filesystem::exists(out_dir)) << "refused for the table";
  opt.key_column = "data_id";

  ASSERT_EQ(Run().rc, 0);
  std::string plan = Read(out_dir + "/plan.json"), args = Read(out_dir + "/args.json"), config = Read(out_dir + "/scheduler_config.json");
  // Every shard completed: nothing needs a GPU, so the rerun merges.
  opt.gpus_per_worker = 1;
  EXPECT_EQ(Run(&none).rc, 0);
  args = Read(out_dir + "/args.json");
  config = Read(out_dir + "/scheduler_config.json");
  // A shard to run again and no GPU: refused, and the directory's records are as they were.
  std::filesystem::remove(out_dir + "/generation_results_data_0_to_13_real.csv");
  o = std::tmpfile();
  EXPECT_THROW(RunShards(&none, opt, o, o), Error);
  std::fclose(o);
  EXPECT_EQ(Read(out_dir + "/plan.json"), plan);
  EXPECT_EQ(Read(out_dir + "/args.json"), args);
  EXPECT_EQ(Read(out_dir + "/scheduler_config.json"), config);
  EXPECT_EQ(States()[0].status, ShardStatus::kCompleted) << "not yet reconciled: its state file is untouched";
}

// A directory in use is refused saying who holds it, in words: the recorded scheduler if that very process
// still runs, else that the last one recorded has ended.
TEST_F(SchedulerTest, ADirectoryInUseIsRefusedNamingItsHolder) {
  ASSERT_EQ(Run().rc, 0);
  auto lock = Env::Default()->LockFile(out_dir + "/.lock", false);  // another open file: flock conflicts
  ASSERT_TRUE(lock);
  Error e = RunError();
  EXPECT_EQ(e.kind(), ErrorKind::kState);
  std::string held = e.what();
  EXPECT_NE(held.find(fmt::format("another sluice shard scheduler, submitter or merge is running on {}: pid {} on host {}, started ",
                                  out_dir, getpid(), Env::Default()->HostName())),
            std::string::npos)
      << held;
  EXPECT_NE(held.find(" UTC, scheduler id sluice_shard_"), std::string::npos) << held;
  EXPECT_NE(held.find(fmt::format("kill -TERM {}", getpid())), std::string::npos) << held;
  EXPECT_EQ(held.find('{'), std::string::npos) << "no raw JSON: " << held;

  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, nullptr, 0);
  std::string config = Read(out_dir + "/scheduler_config.json");
  std::string mine = fmt::format("\"process_id\":{},", getpid());
  ASSERT_NE(config.find(mine), std::string::npos) << config;
  Write("out/scheduler_config.json", config.replace(config.find(mine), mine.size(), fmt::format("\"process_id\":{},", gone)));
  std::string ended = RunError().what();
  EXPECT_NE(ended.find(fmt::format(": a merge or a scheduler that has not recorded itself yet (the last recorded one, pid {} on host ", gone)),
            std::string::npos)
      << ended;
  EXPECT_NE(ended.find("has ended)"), std::string::npos) << ended;
}

// args.json, which array tasks and the merge read back: every option written is read back as it was. The
// fixture sets each written field to a value other than its default (checked), so a field written but not
// read comes back as the default and the re-written JSON differs; each key left out is refused by name, so
// the reader reads every key the writer writes.
TEST(ShardOptionsJsonTest, EveryWrittenOptionIsReadBack) {
  ShardOptions o;
  o.input = "/data/in.csv";
  o.key_column = "k";
  o.output_dir = "/was/here";
  o.key_type = KeyType::kString;
  o.num_workers = 7;
  o.gpus_per_worker = 3;
  o.min_gpu_memory_gib = 2.5;
  o.max_parallel_workers = 5;
  o.quiet = true;
  o.max_attempts = 9;
  o.retry_backoff_seconds = 1.5;
  o.kill_grace_seconds = 4.25;
  o.worker_argv = {"python", "w.py", "{low}", R"({"a": 1})"};
  o.result_pattern = "r_{low}.jsonl";
  o.merged_output = "/was/here/m.jsonl";
  o.replan = o.allow_partial = o.no_merge = o.submit = true;
  std::string json = ShardOptionsJson(o);

  simdjson::dom::parser p1, p2;
  simdjson::dom::object written = p1.parse(json), defaults = p2.parse(ShardOptionsJson(ShardOptions{}));
  ASSERT_GE(written.size(), 19u);
  for (auto [key, value] : written)
    EXPECT_NE(simdjson::to_string(value), simdjson::to_string(defaults[key].value())) << key << ": give it a value other than its default";

  ShardOptions back = ParseShardOptions(json, "/now/here", "args.json");
  EXPECT_EQ(back.output_dir, "/now/here") << "where the directory is now";
  EXPECT_EQ(back.key_type, KeyType::kString);
  EXPECT_EQ(back.worker_argv, o.worker_argv);
  EXPECT_EQ(back.min_gpu_memory_gib, 2.5);
  back.output_dir = o.output_dir;
  EXPECT_EQ(ShardOptionsJson(back), json);

  for (auto [key, value] : written) {
    std::string without = "{";
    for (auto [k, v] : written)
      if (k != key) without += (without.size() > 1 ? "," : "") + fmt::format("\"{}\":{}", k, simdjson::to_string(v));
    without += "}";
    try {
      ParseShardOptions(without, "/d", "/d/args.json");
      ADD_FAILURE() << key << " is written but not required when read";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fmt::format("/d/args.json: not the options of a sluice shard run ({} is missing", key)),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(ParseShardOptions(R"({"input": 1})", "/d", "/d/args.json"), Error);
}

}  // namespace
}  // namespace sluice::shard
