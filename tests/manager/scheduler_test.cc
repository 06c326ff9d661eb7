// The job manager's pure decisions: admission without over-commit, dependency verdicts, retry and backoff.
#include "manager/scheduler.h"

#include <gtest/gtest.h>

#include <random>

namespace sluice::manager {
namespace {

Resources Req(double cpus, uint64_t mem = 0, std::map<std::string, double> custom = {}) {
  Resources r;
  r.cpus = cpus;
  r.memory = mem;
  r.custom = std::move(custom);
  return r;
}

TEST(Scheduler, AdmitsByPriorityThenAgeWithoutOverCommit) {
  Capacity cap{4, 1000, {{"lic", 1}}};
  std::vector<Candidate> c = {{1, 0, Req(2)}, {2, 5, Req(3)}, {3, 0, Req(1)}, {4, 0, Req(1)}};
  // Priority 5 first (3 cpus), then oldest first-fit: job 1 (2) does not fit, 3 (1) does.
  EXPECT_EQ(Admit(c, cap, {}), (std::vector<int64_t>{2, 3}));
  Capacity used{3, 0, {}};
  EXPECT_EQ(Admit(c, cap, used), (std::vector<int64_t>{3}));
}

TEST(Scheduler, MemoryAndCustomResourcesAreNeverOverCommitted) {
  Capacity cap{64, 1000, {{"lic", 1}}};
  std::vector<Candidate> c = {{1, 0, Req(1, 600)}, {2, 0, Req(1, 600)}, {3, 0, Req(1, 0, {{"lic", 1}})}, {4, 0, Req(1, 0, {{"lic", 1}})}};
  EXPECT_EQ(Admit(c, cap, {}), (std::vector<int64_t>{1, 3}));
  // Randomized: whatever is admitted sums within capacity.
  std::mt19937 rng(1);
  for (int round = 0; round < 200; ++round) {
    std::vector<Candidate> cs;
    for (int i = 0; i < 20; ++i) cs.push_back({i + 1, int(rng() % 3), Req((rng() % 40) / 10.0, rng() % 300, {{"lic", double(rng() % 2)}})});
    Capacity used{double(rng() % 3), rng() % 200, {{"lic", 0}}};
    double cpus = used.cpus, lic = 0;
    uint64_t mem = used.memory;
    for (int64_t id : Admit(cs, cap, used)) {
      cpus += cs[id - 1].resources.cpus;
      mem += cs[id - 1].resources.memory;
      lic += cs[id - 1].resources.custom["lic"];
    }
    EXPECT_LE(cpus, cap.cpus + 1e-6);
    EXPECT_LE(mem, cap.memory);
    EXPECT_LE(lic, 1.0);
  }
}

TEST(Scheduler, RequestLargerThanMachine) {
  Capacity cap{4, 1000, {{"lic", 2}}};
  EXPECT_EQ(ExceedsMachine(Req(4, 1000, {{"lic", 2}}), cap), "");
  EXPECT_NE(ExceedsMachine(Req(5), cap), "");
  EXPECT_NE(ExceedsMachine(Req(1, 1001), cap), "");
  EXPECT_NE(ExceedsMachine(Req(1, 0, {{"lic", 3}}), cap), "");
  EXPECT_NE(ExceedsMachine(Req(1, 0, {{"gpu_slot", 1}}), cap), "");
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
