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
           R"({"command":["x"],"env":{"A=B":"1"}})", R"({"command":["x"],"shell":"yes"})",
           R"({"command":"","shell":true})", R"({"command":" \t\n ","shell":true})"}) {
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


// --array SPEC: the indices, the normalized text (which parses back to the same array) and the errors, each
// naming the field and the bad item.
TEST(JobSpec, ArraySpecs) {
  struct Case {
    const char* text;
    std::vector<int64_t> indices;
    const char* normalized;
    int64_t max_running;
  };
  for (const Case& c : std::vector<Case>{{"0-3", {0, 1, 2, 3}, "0-3", 0},
                                         {"1,3,5-7", {1, 3, 5, 6, 7}, "1-5:2,6,7", 0},
                                         {"0-9:3%2", {0, 3, 6, 9}, "0-9:3%2", 2},
                                         {"7", {7}, "7", 0},
                                         {"9,8", {8, 9}, "8,9", 0},
                                         {"5-5", {5}, "5", 0},
                                         {"1000000000", {1000000000}, "1000000000", 0}}) {
    ArrayInfo info;
    EXPECT_EQ(ParseArraySpec(c.text, &info), c.indices) << c.text;
    EXPECT_EQ(info.spec, c.normalized) << c.text;
    EXPECT_EQ(info.count, static_cast<int64_t>(c.indices.size()));
    EXPECT_EQ(info.min, c.indices.front());
    EXPECT_EQ(info.max, c.indices.back());
    EXPECT_EQ(info.max_running, c.max_running);
    ArrayInfo again;
    EXPECT_EQ(ParseArraySpec(info.spec, &again), c.indices) << "normalized " << info.spec;
    EXPECT_EQ(again.spec, info.spec);
  }
  auto error = [](const std::string& text) {
    ArrayInfo info;
    try {
      ParseArraySpec(text, &info);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error("").find("array: empty item"), std::string::npos) << error("");
  EXPECT_NE(error("1,,2").find("empty item"), std::string::npos);
  EXPECT_NE(error("1,").find("empty item"), std::string::npos);
  EXPECT_NE(error("5-2").find("item '5-2': the range starts after it ends"), std::string::npos) << error("5-2");
  EXPECT_NE(error("0-9:0").find("item '0-9:0': the step"), std::string::npos) << error("0-9:0");
  EXPECT_NE(error("0-9%0").find("'%0'"), std::string::npos) << error("0-9%0");
  EXPECT_NE(error("0-9%x").find("'%x'"), std::string::npos);
  EXPECT_NE(error("1,2,1").find("index 1 is given twice"), std::string::npos) << error("1,2,1");
  EXPECT_NE(error("0-3,2-5").find("index 2 is given twice"), std::string::npos);
  EXPECT_NE(error("-1").find("item '-1'"), std::string::npos) << error("-1");
  EXPECT_NE(error("1000000001").find("not an index in [0, 1000000000]"), std::string::npos) << error("1000000001");
  EXPECT_NE(error("a-b").find("item 'a-b'"), std::string::npos);
  EXPECT_NE(error("3:2").find("item '3:2': a step needs a range"), std::string::npos);
  EXPECT_NE(error("0-10000").find("more than 10000 tasks"), std::string::npos) << error("0-10000");
  EXPECT_EQ(error("0-9999"), "accepted");
  EXPECT_NE(error("0-99999999:7").find("more than 10000 tasks"), std::string::npos);

  JobSpec s = ParseJobSpec(R"({"command":["x"],"array":"4,0-2%2","depends_on":[{"job":"7_3"},{"job":8}]})");
  EXPECT_EQ(s.array.spec, "0-2,4%2");
  EXPECT_EQ(s.depends_on.at(0).job, 7);
  EXPECT_EQ(s.depends_on.at(0).index, 3);
  EXPECT_EQ(s.depends_on.at(1).index, -1);
  EXPECT_EQ(ParseJobSpec(s.ToJson()).ToJson(), s.ToJson()) << "a restart reads the same array back";
  EXPECT_THROW(ParseJobSpec(R"({"command":["x"],"array":5})"), Error);
  EXPECT_THROW(ParseJobSpec(R"({"command":["x"],"env":{"SLUICE_ARRAY_TASK_ID":"1"}})"), Error);
  EXPECT_THROW(ParseJobSpec(R"({"command":["x"],"depends_on":[{"job":"7_x"}]})"), Error);

  EXPECT_EQ(ParseJobRef("12")->index, -1);
  EXPECT_EQ(ParseJobRef("12_0")->index, 0);
  EXPECT_EQ(ParseJobRef("12_3")->ToString(), "12_3");
  for (const char* bad : {"", "0", "_3", "12_", "12_-1", "x", "12_3_4", "-5", "+5"}) EXPECT_FALSE(ParseJobRef(bad)) << bad;
}

// What a job's process would get cut or misread is refused at submit, naming the field; a spec already in
// the database (an older daemon accepted it) still loads, or its job could not be reconciled at a restart.
TEST(JobSpec, SubmitRefusesNulBytesRelativeCwdAndDuplicateFieldsButStoredSpecsLoad) {
  auto message = [](const std::string& body) {
    try {
      ParseJobSpec(body);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string nul = std::string("x") + '\0' + "y";
  EXPECT_EQ(message(R"({"command":["x"],"env":{"A":"x\u0000y"}})"), "env.A: must not contain NUL bytes");
  EXPECT_EQ(message(R"({"command":["x"],"name":"a\u0000"})"), "name: must not contain NUL bytes");
  EXPECT_EQ(message(R"({"command":["x"],"cwd":"/a\u0000b"})"), "cwd: must not contain NUL bytes");
  EXPECT_EQ(message(R"({"kind":"script","script":{"path":"/a\u0000.sh"}})"), "script.path: must not contain NUL bytes");
  EXPECT_EQ(message(R"({"command":["x"],"cwd":"rel/dir"})"), "cwd: must be an absolute path (got 'rel/dir')");
  EXPECT_EQ(message(R"({"command":["x"],"command":["y"]})"), "command: is given twice");
  EXPECT_EQ(message(R"({"command":["x"],"timeout":{"run":"1s","run":"2s"}})"), "timeout.run: is given twice");
  EXPECT_EQ(message(R"({"command":["x"],"depends_on":[{"job":1,"job":2}]})"), "depends_on[].job: is given twice");
  EXPECT_EQ(message(R"({"command":["x"],"cwd":"/abs"})"), "accepted");

  JobSpec stored = ParseJobSpec(R"({"command":["x"],"cwd":"rel","env":{"A":"x\u0000y"}})", SpecSource::kStored);
  EXPECT_EQ(stored.cwd, "rel");
  EXPECT_EQ(stored.env.at("A"), nul);
}

}  // namespace
}  // namespace sluice::manager
