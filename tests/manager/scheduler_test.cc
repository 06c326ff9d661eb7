// The job manager's pure decisions: admission without over-commit, dependency verdicts, retry and backoff.
#include "manager/scheduler.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sluice::manager {
namespace {

Resources Req(double cpus, uint64_t mem = 0, std::map<std::string, double> custom = {}) {
  Resources r;
  r.cpus = cpus;
  r.memory = mem;
  r.custom = std::move(custom);
  return r;
}

std::vector<int64_t> Ids(const std::vector<Admission>& a) {
  std::vector<int64_t> out;
  for (const auto& x : a) out.push_back(x.id);
  return out;
}

Holding Holds(double cpus, double ends_by = 0, std::vector<std::string> gpus = {}) { return {Req(cpus), std::move(gpus), ends_by}; }

GpuDevice Gpu(int index, uint64_t total_gib, uint64_t free_gib) {
  GpuDevice d;
  d.index = index;
  d.uuid = "GPU-" + std::to_string(index);
  d.memory_total = total_gib << 30;
  d.memory_free = free_gib << 30;
  return d;
}

Resources Gpus(int n, uint64_t min_free_gib = 0) {
  Resources r = Req(0);
  r.gpus = n;
  r.gpu_memory = min_free_gib << 30;
  return r;
}

TEST(Scheduler, ArrayAggregateState) {
  using S = State;
  auto agg = [](std::map<S, int64_t> m) { return AggregateState(m); };
  EXPECT_EQ(agg({{S::kRunning, 1}, {S::kPending, 3}, {S::kFailed, 1}}), S::kRunning);
  EXPECT_EQ(agg({{S::kPending, 3}, {S::kFailed, 1}}), S::kPending);
  EXPECT_EQ(agg({{S::kCompleted, 4}}), S::kCompleted);
  EXPECT_EQ(agg({{S::kCompleted, 3}, {S::kCancelled, 1}, {S::kFailed, 1}}), S::kFailed);
  EXPECT_EQ(agg({{S::kCompleted, 3}, {S::kCancelled, 1}, {S::kRejected, 1}}), S::kCancelled);
  EXPECT_EQ(agg({{S::kRejected, 5}}), S::kRejected);
  EXPECT_EQ(agg({{S::kCompleted, 2}, {S::kPending, 0}}), S::kCompleted) << "a zero count is none";
}

TEST(Scheduler, AdmitsByPriorityThenAge) {
  Capacity cap{4, 1000, {{"lic", 1}}};
  std::vector<Candidate> c = {{1, 0, Req(1)}, {2, 5, Req(2)}, {3, 0, Req(1)}, {4, 0, Req(1)}};
  // Priority 5 first, then the oldest; job 4 does not fit and nothing ranks below it.
  EXPECT_EQ(Ids(Admit(c, cap, {}, 0)), (std::vector<int64_t>{2, 1, 3}));
  EXPECT_TRUE(Admit(c, cap, {Holds(3)}, 0).empty());  // job 2 is blocked and holds the one free cpu
}

// The first candidate that does not fit holds a reservation: smaller ones behind it may not take what it
// waits for, so a stream of small jobs never starves it (with first fit, job 1 would wait forever).
TEST(Scheduler, ABlockedJobIsNotStarvedBySmallerOnes) {
  Capacity cap{4, 0, {}};
  std::vector<Candidate> c = {{1, 0, Req(4)}, {2, 0, Req(1)}, {3, 0, Req(1)}};
  EXPECT_TRUE(Admit(c, cap, {Holds(3)}, 100).empty());  // 1 cpu free, but it is job 1's
  EXPECT_EQ(Ids(Admit(c, cap, {}, 100)), (std::vector<int64_t>{1}));  // the running job ended: job 1 first
  // Only the part beyond the reservation is handed to smaller jobs: 4 free, job 1 needs 3, one 1-cpu job runs.
  std::vector<Candidate> d = {{1, 0, Req(3)}, {2, 0, Req(1)}, {3, 0, Req(1)}};
  EXPECT_EQ(Ids(Admit(d, cap, {Holds(2)}, 100)), (std::vector<int64_t>{}));
  EXPECT_EQ(Ids(Admit(d, cap, {Holds(1)}, 100)), (std::vector<int64_t>{1}));
  Capacity eight{8, 0, {}};
  EXPECT_EQ(Ids(Admit(d, eight, {Holds(6)}, 100)), (std::vector<int64_t>{}));  // 2 free < 3: nothing passes
  EXPECT_EQ(Ids(Admit({{1, 0, Req(5)}, {2, 0, Req(1)}, {3, 0, Req(1)}}, eight, {Holds(2)}, 100)), (std::vector<int64_t>{1, 2}));
  // Higher priority still goes first: a reservation is for the first blocked job in rank order.
  EXPECT_EQ(Ids(Admit({{1, 0, Req(4)}, {2, 9, Req(1)}}, cap, {Holds(2)}, 100)), (std::vector<int64_t>{2}));
}

// A smaller job may use the reserved resources when its run limit ends it before the reservation can
// start at the latest (the run limits of the running jobs it waits for).
TEST(Scheduler, BackfillOnlyWhatEndsBeforeTheReservation) {
  Capacity cap{4, 0, {}};
  std::vector<Holding> running = {Holds(3, 200)};  // ends by t=200 at the latest
  std::vector<Candidate> c = {{1, 0, Req(4)}, {2, 0, Req(1), 50}, {3, 0, Req(1), 500}, {4, 0, Req(1)}};
  EXPECT_EQ(Ids(Admit(c, cap, running, 100)), (std::vector<int64_t>{2}));  // 100 + 50 <= 200; 3 and 4 would delay job 1
  EXPECT_EQ(Ids(Admit(c, cap, {Holds(3)}, 100)), (std::vector<int64_t>{}));  // unbounded runner: no backfill
  // Two holders; the reservation fits once the earlier one ends (t=150).
  EXPECT_EQ(Ids(Admit({{1, 0, Req(3)}, {2, 0, Req(1), 40}, {3, 0, Req(1), 60}}, cap, {Holds(2, 150), Holds(1)}, 100)),
            (std::vector<int64_t>{2}));
}

TEST(Scheduler, CpusArePickedLeastLoadedFirst) {
  std::vector<int> cpus = {0, 1, 2, 3};
  EXPECT_EQ(PickCpus(cpus, {}, 2), (std::vector<int>{0, 1}));
  EXPECT_EQ(PickCpus(cpus, {}, 0.5), (std::vector<int>{0}));
  EXPECT_EQ(PickCpus(cpus, {}, 0), (std::vector<int>{}));
  EXPECT_EQ(PickCpus(cpus, {}, 9), cpus);  // never more than the daemon's own
  Holding two{Req(2), {}, 0, {0, 1}}, half{Req(0.5), {}, 0, {2}};
  EXPECT_EQ(PickCpus(cpus, {two}, 1), (std::vector<int>{2}));
  EXPECT_EQ(PickCpus(cpus, {two, half}, 1), (std::vector<int>{3}));
  EXPECT_EQ(PickCpus(cpus, {two, half}, 2), (std::vector<int>{2, 3}));  // 2 carries 0.5, 0 and 1 carry 1 each
  EXPECT_EQ(PickCpus({5, 7}, {Holding{Req(1), {}, 0, {5}}}, 1), (std::vector<int>{7}));
}

TEST(Scheduler, MemoryAndCustomResourcesAreNeverOverCommitted) {
  Capacity cap{64, 1000, {{"lic", 1}}};
  std::vector<Candidate> c = {{1, 0, Req(1, 600)}, {3, 0, Req(1, 0, {{"lic", 1}})}, {4, 0, Req(1, 0, {{"lic", 1}})}};
  EXPECT_EQ(Ids(Admit(c, cap, {}, 0)), (std::vector<int64_t>{1, 3}));
  // Randomized: whatever is admitted sums within capacity, and no GPU is given twice.
  cap.gpus = {Gpu(0, 80, 70), Gpu(1, 16, 15), Gpu(2, 40, 10)};
  std::mt19937 rng(1);
  for (int round = 0; round < 300; ++round) {
    std::vector<Candidate> cs;
    for (int i = 0; i < 20; ++i) {
      Resources r = Req((rng() % 40) / 10.0, rng() % 300, {{"lic", double(rng() % 2)}});
      r.gpus = rng() % 3;
      r.gpu_memory = (uint64_t(rng() % 30)) << 30;
      cs.push_back({i + 1, int(rng() % 3), r, double(rng() % 3) * 10});
    }
    std::vector<Holding> running;
    if (rng() % 2) running.push_back({Req(double(rng() % 3), rng() % 200), {"GPU-1"}, double(rng() % 2) * 105});
    double cpus = 0, lic = 0;
    uint64_t mem = 0;
    std::set<std::string> gpus;
    for (const auto& h : running) {
      cpus += h.resources.cpus;
      mem += h.resources.memory;
      gpus.insert(h.gpus.begin(), h.gpus.end());
    }
    for (const Admission& a : Admit(cs, cap, running, 100)) {
      const Resources& r = cs[a.id - 1].resources;
      cpus += r.cpus;
      mem += r.memory;
      lic += r.custom.at("lic");
      EXPECT_EQ(a.gpus.size(), size_t(r.gpus));
      for (const auto& g : a.gpus) {
        EXPECT_TRUE(gpus.insert(g).second) << "GPU " << g << " given twice";
        for (const auto& d : cap.gpus)
          if (d.uuid == g) EXPECT_GE(d.memory_free, r.gpu_memory);
      }
    }
    EXPECT_LE(cpus, cap.cpus + 1e-6);
    EXPECT_LE(mem, cap.memory);
    EXPECT_LE(lic, 1.0);
  }
}

TEST(Scheduler, GpusByUuidWithMinimumFreeMemory) {
  Capacity cap{64, 0, {}, {Gpu(0, 80, 79), Gpu(1, 16, 15)}};
  // Best fit: the 15 GiB device for a job that needs none, the 79 GiB one for a job that needs 20 GiB.
  auto a = Admit({{1, 0, Gpus(1)}, {2, 0, Gpus(1, 20)}}, cap, {}, 0);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].gpus, std::vector<std::string>{"GPU-1"});
  EXPECT_EQ(a[1].gpus, std::vector<std::string>{"GPU-0"});
  // The big device is held: a second 20 GiB job waits (the small device has too little free memory).
  EXPECT_TRUE(Admit({{3, 0, Gpus(1, 20)}}, cap, {{Req(0), {"GPU-0"}, 0}}, 0).empty());
  EXPECT_EQ(Admit({{3, 0, Gpus(2)}}, cap, {}, 0).at(0).gpus, (std::vector<std::string>{"GPU-1", "GPU-0"}));
  // A GPU job blocked behind a held device reserves the device; a smaller GPU job may not take it.
  cap.gpus.push_back(Gpu(2, 80, 79));
  auto b = Admit({{4, 0, Gpus(2, 20)}, {5, 0, Gpus(1)}}, cap, {{Req(0), {"GPU-0"}, 0}}, 0);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].id, 5);
  EXPECT_EQ(b[0].gpus, std::vector<std::string>{"GPU-1"});  // not GPU-2, which job 4 waits for
  EXPECT_TRUE(Admit({{4, 0, Gpus(2, 20)}, {5, 0, Gpus(1, 20)}}, cap, {{Req(0), {"GPU-0"}, 0}}, 0).empty());
  Capacity used = InUse({{Req(2), {"GPU-0"}, 0}, {Req(1), {"GPU-2"}, 0}});
  EXPECT_DOUBLE_EQ(used.cpus, 3);
  EXPECT_EQ(used.gpus.size(), 2u);
}

TEST(Scheduler, RequestLargerThanMachine) {
  Capacity cap{4, 1000, {{"lic", 2}}};
  EXPECT_EQ(ExceedsMachine(Req(4, 1000, {{"lic", 2}}), cap), "");
  EXPECT_NE(ExceedsMachine(Req(5), cap), "");
  EXPECT_NE(ExceedsMachine(Req(1, 1001), cap), "");
  EXPECT_NE(ExceedsMachine(Req(1, 0, {{"lic", 3}}), cap), "");
  EXPECT_NE(ExceedsMachine(Req(1, 0, {{"gpu_slot", 1}}), cap), "");
  EXPECT_NE(ExceedsMachine(Gpus(1), cap), "");  // no GPUs at all
  cap.gpus = {Gpu(0, 80, 1), Gpu(1, 16, 15)};
  EXPECT_EQ(ExceedsMachine(Gpus(2), cap), "");
  EXPECT_EQ(ExceedsMachine(Gpus(1, 70), cap), "");  // the 80 GiB device can have 70 free (1 is free now)
  EXPECT_NE(ExceedsMachine(Gpus(3), cap), "");
  EXPECT_NE(ExceedsMachine(Gpus(2, 20), cap), "");  // only one device is that large
  EXPECT_NE(ExceedsMachine(Gpus(1, 81), cap), "");
}

TEST(Scheduler, DependencyConditions) {
  auto V = [](DepCondition c, State s, bool started) { return EvaluateDependency(c, {s, started}); };
  using enum DepVerdict;
  EXPECT_EQ(V(DepCondition::kAfterOk, State::kPending, false), kWaiting);
  EXPECT_EQ(V(DepCondition::kAfterOk, State::kRunning, true), kWaiting);
  EXPECT_EQ(V(DepCondition::kAfterOk, State::kCompleted, true), kSatisfied);
  EXPECT_EQ(V(DepCondition::kAfterOk, State::kFailed, true), kNeverSatisfied);
  EXPECT_EQ(V(DepCondition::kAfterOk, State::kCancelled, false), kNeverSatisfied);
  EXPECT_EQ(V(DepCondition::kAfterOk, State::kRejected, false), kNeverSatisfied);
  EXPECT_EQ(V(DepCondition::kAfterNotOk, State::kFailed, true), kSatisfied);
  EXPECT_EQ(V(DepCondition::kAfterNotOk, State::kCancelled, true), kSatisfied);
  EXPECT_EQ(V(DepCondition::kAfterNotOk, State::kCompleted, true), kNeverSatisfied);
  EXPECT_EQ(V(DepCondition::kAfterNotOk, State::kPending, true), kWaiting);  // in a retry backoff
  EXPECT_EQ(V(DepCondition::kAfterAny, State::kFailed, true), kSatisfied);
  EXPECT_EQ(V(DepCondition::kAfterAny, State::kRunning, true), kWaiting);
  EXPECT_EQ(V(DepCondition::kAfter, State::kRunning, true), kSatisfied);
  EXPECT_EQ(V(DepCondition::kAfter, State::kPending, true), kSatisfied);  // ran once, now in backoff
  EXPECT_EQ(V(DepCondition::kAfter, State::kPending, false), kWaiting);
  EXPECT_EQ(V(DepCondition::kAfter, State::kCancelled, false), kSatisfied);
}

TEST(Scheduler, RetryDecision) {
  RetryPolicy p;
  p.max_attempts = 3;
  p.no_retry_exit_codes = {2};
  EXPECT_TRUE(ShouldRetry(p, 1, Outcome::kFailed, 1));
  EXPECT_TRUE(ShouldRetry(p, 2, Outcome::kFailed, std::nullopt));  // a signal
  EXPECT_FALSE(ShouldRetry(p, 3, Outcome::kFailed, 1));            // attempts used up
  EXPECT_FALSE(ShouldRetry(p, 1, Outcome::kFailed, 2));            // non-retryable exit code
  EXPECT_FALSE(ShouldRetry(p, 1, Outcome::kCancelled, std::nullopt));
  EXPECT_FALSE(ShouldRetry(p, 1, Outcome::kCompleted, 0));
  EXPECT_TRUE(ShouldRetry(p, 1, Outcome::kTimeout, std::nullopt));
  EXPECT_TRUE(ShouldRetry(p, 1, Outcome::kLost, std::nullopt));
  EXPECT_TRUE(ShouldRetry(p, 1, Outcome::kOom, std::nullopt));
  p.retry_oom = false;
  EXPECT_FALSE(ShouldRetry(p, 1, Outcome::kOom, std::nullopt));
  p.retry_timeout = false;
  p.retry_lost = false;
  EXPECT_FALSE(ShouldRetry(p, 1, Outcome::kTimeout, std::nullopt));
  EXPECT_FALSE(ShouldRetry(p, 1, Outcome::kLost, std::nullopt));
}

TEST(Scheduler, BackoffSchedule) {
  RetryPolicy p;
  p.backoff_initial = 1;
  p.backoff_multiplier = 2;
  p.backoff_max = 10;
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 1, 0.5), 1);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 2, 0.5), 2);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 3, 0.5), 4);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 4, 0.5), 8);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 5, 0.5), 10);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 50, 0.5), 10);
  p.jitter = 0.25;
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 2, 0.0), 1.5);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 2, 1.0), 2.5);
  EXPECT_DOUBLE_EQ(BackoffSeconds(p, 5, 1.0), 10);  // jitter never exceeds max
}

}  // namespace
}  // namespace sluice::manager
