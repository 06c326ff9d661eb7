// Submit bodies: what parses, the defaults filled in, and the 400 messages for malformed fields.
#include "manager/job_spec.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace sluice::manager {
namespace {

TEST(JobSpec, ParsesAndRoundTrips) {
  JobSpec s = ParseJobSpec(R"({"name":"a","command":["echo","hi"],"priority":3,
    "resources":{"cpus":0.5,"memory":"1GiB","custom":{"lic":1}},
    "depends_on":[{"job":4,"condition":"afternotok"},{"job":5}],
    "retry":{"max_attempts":3,"backoff":{"initial":"2s","multiplier":3,"max":"1m","jitter":0.1},"retry_on":["failed"],"no_retry_exit_codes":[2]},
    "timeout":{"run":"5m","kill_grace":3},"env":{"X":"1"}})");
  EXPECT_EQ(s.argv, (std::vector<std::string>{"echo", "hi"}));
  EXPECT_EQ(s.resources.memory, 1ull << 30);
  EXPECT_EQ(s.depends_on.size(), 2u);
  EXPECT_EQ(s.depends_on[0].condition, DepCondition::kAfterNotOk);
  EXPECT_EQ(s.depends_on[1].condition, DepCondition::kAfterOk);
  EXPECT_EQ(s.retry.backoff_max, 60);
  EXPECT_FALSE(s.retry.retry_timeout);
  EXPECT_EQ(s.run_timeout, 300);
  JobSpec t = ParseJobSpec(s.ToJson());
  EXPECT_EQ(t.ToJson(), s.ToJson());
}

TEST(JobSpec, GpusQueueTimeoutAndPipeline) {
  JobSpec s = ParseJobSpec(R"({"command":["x"],"resources":{"gpus":{"count":2,"min_free_memory":"20GiB"}},"timeout":{"queue":"1h"}})");
  EXPECT_EQ(s.resources.gpus, 2);
  EXPECT_EQ(s.resources.gpu_memory, 20ull << 30);
  EXPECT_EQ(s.queue_timeout, 3600);
  EXPECT_EQ(ParseJobSpec(s.ToJson()).ToJson(), s.ToJson());
  EXPECT_EQ(ParseJobSpec(R"({"command":["x"],"resources":{"gpus":1}})").resources.gpus, 1);
  RetryPolicy oom_only = ParseJobSpec(R"({"command":["x"],"retry":{"retry_on":["oom"]}})").retry;
  EXPECT_TRUE(oom_only.retry_oom);
  EXPECT_FALSE(oom_only.retry_failed);
  JobSpec p = ParseJobSpec(R"({"kind":"pipeline","pipeline":{"recipe":"/r.yaml","job_dir":"/w/j","overrides":{"np":"2"}}})");
  EXPECT_TRUE(p.argv.empty());
  EXPECT_EQ(p.pipeline.job_dir, "/w/j");
  EXPECT_EQ(p.pipeline.overrides, (std::vector<std::pair<std::string, std::string>>{{"np", "2"}}));
  JobSpec q = ParseJobSpec(p.ToJson());  // the stored form keeps the recipe, not an argv
  EXPECT_EQ(q.kind, "pipeline");
  EXPECT_EQ(q.ToJson(), p.ToJson());
  for (const char* bad : {R"({"kind":"pipeline","pipeline":{"recipe":"r.yaml"}})", R"({"kind":"pipeline"})",
                          R"({"kind":"pipeline","pipeline":{"recipe":"/r.yaml","job_dir":"rel"}})",
                          R"({"kind":"pipeline","pipeline":{"recipe":"/r.yaml","overrides":{"job_id":"x"}}})",
                          R"({"command":["x"],"pipeline":{"recipe":"/r.yaml"}})", R"({"command":["x"],"resources":{"gpus":-1}})",
                          R"({"command":["x"],"resources":{"gpus":{"count":1,"memory":"1G"}}})",
                          R"({"command":["x"],"env":{"CUDA_VISIBLE_DEVICES":"0"}})", R"({"command":["x"],"timeout":{"queue":"never"}})"})
    EXPECT_THROW(ParseJobSpec(bad), Error) << bad;
}

TEST(JobSpec, ShellAndScript) {
  EXPECT_EQ(ParseJobSpec(R"({"shell":true,"command":"echo $X | wc"})").argv, (std::vector<std::string>{"/bin/sh", "-c", "echo $X | wc"}));
  EXPECT_EQ(ParseJobSpec(R"({"kind":"script","script":{"path":"/x.py","interpreter":"python3"},"args":["-v"]})").argv,
            (std::vector<std::string>{"python3", "/x.py", "-v"}));
}

TEST(JobSpec, RejectsMalformed) {
  for (const char* bad : {
           "", "{", "[]", "42", R"({"command":"echo hi"})", R"({"command":[]})", R"({"command":[1]})",
           R"({"command":["x"],"bogus":1})", R"({"command":["x"],"priority":"high"})", R"({"command":["x"],"resources":{"cpus":-1}})",
           R"({"command":["x"],"resources":{"memory":"lots"}})", R"({"command":["x"],"depends_on":[{"job":"1"}]})",
           R"({"command":["x"],"depends_on":[{"condition":"afterok"}]})", R"({"command":["x"],"depends_on":[{"job":1,"condition":"when"}]})",
           R"({"command":["x"],"retry":{"max_attempts":0}})", R"({"command":["x"],"retry":{"backoff":{"jitter":2}}})",
           R"({"command":["x"],"timeout":{"run":"soon"}})", R"({"kind":"pipeline","command":["x"]})", R"({"kind":"cron","command":["x"]})", R"({"command":[""]})",
           R"({"command":["x"],"env":{"A=B":"1"}})", R"({"command":["x"],"shell":"yes"})"}) {
    EXPECT_THROW(ParseJobSpec(bad), Error) << bad;
  }
}

TEST(JobSpec, DurationsAndSizes) {
  EXPECT_DOUBLE_EQ(ParseDurationText("90"), 90);
  EXPECT_DOUBLE_EQ(ParseDurationText("250ms"), 0.25);
  EXPECT_DOUBLE_EQ(ParseDurationText("2h"), 7200);
  EXPECT_EQ(ParseBytesText("512MiB"), 512ull << 20);
  EXPECT_EQ(ParseBytesText("1G"), 1ull << 30);
  EXPECT_EQ(ParseBytesText("123"), 123u);
  EXPECT_THROW(ParseBytesText("1Q"), Error);
  EXPECT_THROW(ParseDurationText("-1s"), Error);
}

}  // namespace
}  // namespace sluice::manager
