// The live/observability pieces that need no daemon: SSE framing and parsing, base64, the store's event
// reads and aggregates, percentiles, route labels and the Prometheus histogram. The streams themselves run
// against a real daemon in tests/cli/manager_live_test.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "manager/sse.h"
#include "manager/stats.h"
#include "manager/store.h"
#include "temp_dir.h"

namespace sluice::manager {
namespace {

std::vector<SseMessageParsed> ParseAll(const std::string& wire, size_t step) {
  SseParser p;
  std::vector<SseMessageParsed> out;
  for (size_t i = 0; i < wire.size(); i += step)
    p.Feed(std::string_view(wire).substr(i, step), [&](const SseMessageParsed& m) { out.push_back(m); });
  return out;
}

TEST(Sse, MessageSplitsDataIntoLinesAndParsesBackAtAnySplit) {
  std::string wire = SseMessage("log", "2:17", "one\ntwo\n") + ":\n\n" + SseMessage("", "5", "{}");
  EXPECT_EQ(SseMessage("log", "2:17", "one\ntwo\n"), "event: log\nid: 2:17\ndata: one\ndata: two\ndata: \n\n");
  for (size_t step : {1u, 2u, 7u, 1000u}) {
    auto msgs = ParseAll(wire, step);
    ASSERT_EQ(msgs.size(), 2u) << step;
    EXPECT_EQ(msgs[0].event, "log");
    EXPECT_EQ(msgs[0].id, "2:17");
    EXPECT_EQ(msgs[0].data, "one\ntwo\n");
    EXPECT_EQ(msgs[1].event, "");
    EXPECT_EQ(msgs[1].id, "5");
    EXPECT_EQ(msgs[1].data, "{}");
  }
}

TEST(Sse, ParserTakesCrlfAndCrLineEndsAndKeepsTheLastId) {
  auto msgs = ParseAll("id: 7\r\ndata: a\r\n\r\ndata:b\r\rretry: 10\n: comment\n\n", 3);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].data, "a");
  EXPECT_EQ(msgs[1].data, "b");
  EXPECT_EQ(msgs[1].id, "7");  // as EventSource's lastEventId: it persists until a new id: line
}

TEST(Base64, KnownVectorsAndEveryByteRoundTrip) {
  const char* plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char* coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(Base64Encode(plain[i]), coded[i]);
    EXPECT_EQ(Base64Decode(coded[i]), std::string(plain[i]));
  }
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  for (size_t n = 0; n <= all.size(); n += 37) EXPECT_EQ(Base64Decode(Base64Encode(all.substr(0, n))), all.substr(0, n));
  EXPECT_FALSE(Base64Decode("Zm9"));
  EXPECT_FALSE(Base64Decode("Zm9*"));
  EXPECT_FALSE(Base64Decode("Zg==Zg=="));  // padding only at the end
}

TEST(Store, EventsOfOneJobAndAggregates) {
  testing::TempDir d("sluice-observe");
  Store s(d.path() + "/state.db");
  EXPECT_EQ(s.LastEventSeq(), 0);
  JobSpec spec = ParseJobSpec(R"({"command":["true"]})");
  int64_t a = s.Submit(spec, State::kPending, "", 100.0, {});
  int64_t b = s.Submit(ParseJobSpec(R"({"command":["true"],"resources":{"cpus":1}})"), State::kPending, "", 101.0, {});
  s.Submit(spec, State::kRejected, "too big", 102.0, {});
  int n = s.BeginAttempt(a, 110.0);  // waited 10 s
  s.RecordLaunch(a, n, 1, 1, "boot");
  s.EndAttempt(a, n, "failed", 1, std::nullopt, State::kPending, "backoff", 121.0, 120.0);  // ran 10 s
  n = s.BeginAttempt(a, 121.0);
  s.RecordLaunch(a, n, 2, 2, "boot");
  s.EndAttempt(a, n, "completed", 0, std::nullopt, State::kCompleted, "exit code 0", 0, 151.0);  // ran 30 s
  n = s.BeginAttempt(b, 131.0);  // waited 30 s, still running
  s.RecordLaunch(b, n, 3, 3, "boot");

  std::vector<std::string> states;
  for (const auto& e : s.Events(0, 100, a)) {
    EXPECT_EQ(e.job_id, a);
    states.push_back(e.state);
  }
  EXPECT_EQ(states, (std::vector<std::string>{"SUBMITTED", "PENDING", "RUNNING", "PENDING", "RUNNING", "COMPLETED"}));
  auto all = s.Events(0, 1000);
  EXPECT_EQ(s.LastEventSeq(), all.back().seq);
  auto later = s.Events(all[2].seq, 2, a);  // resumes after a sequence number, limited
  ASSERT_EQ(later.size(), 2u);
  EXPECT_GT(later[0].seq, all[2].seq);

  auto agg = s.Aggregate(0, 200.0, {100.5, 150.0}, true);
  EXPECT_EQ(agg.jobs_by_state["COMPLETED"], 1);
  EXPECT_EQ(agg.jobs_by_state["RUNNING"], 1);
  EXPECT_EQ(agg.jobs_by_state["REJECTED"], 1);
  EXPECT_EQ(agg.attempts_total, 3);
  EXPECT_EQ(agg.submitted_since, (std::vector<int64_t>{2, 0}));
  std::sort(agg.queue_waits.begin(), agg.queue_waits.end());
  EXPECT_EQ(agg.queue_waits, (std::vector<double>{10, 30}));  // first attempts only
  std::sort(agg.run_times.begin(), agg.run_times.end());
  EXPECT_EQ(agg.run_times, (std::vector<double>{10, 30}));  // ended attempts only
  EXPECT_EQ(agg.gpu_seconds, 0);
  EXPECT_TRUE(s.Aggregate(0, 200.0, {}, false).run_times.empty());
  auto recent = s.Aggregate(140.0, 200.0, {}, true);  // only what started / ended since 140
  EXPECT_TRUE(recent.queue_waits.empty());
  EXPECT_EQ(recent.run_times, std::vector<double>{30});
}

TEST(Stats, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 1; i <= 100; ++i) v.push_back(i);
  EXPECT_EQ(Percentile(v, 50), 50);
  EXPECT_EQ(Percentile(v, 90), 90);
  EXPECT_EQ(Percentile(v, 99), 99);
  EXPECT_EQ(Percentile(v, 100), 100);
  EXPECT_EQ(Percentile({7}, 99), 7);
  EXPECT_EQ(Percentile({1, 2, 3}, 50), 2);
}

TEST(Stats, StatsJsonSummarizes) {
  Store::Aggregates agg;
  agg.jobs_by_state = {{"PENDING", 2}, {"COMPLETED", 3}};
  agg.submitted_since = {5, 5, 5};
  agg.queue_waits = {3, 1, 2};
  agg.gpu_seconds = 7200;
  std::string j = StatsJson(agg, 1000, 0, 4);
  EXPECT_NE(j.find(R"("jobs":{"SUBMITTED":0,"PENDING":2,"RUNNING":0,"COMPLETED":3,"FAILED":0,"CANCELLED":0,"REJECTED":0})"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("submitted":{"total":5,"last_60s":5,"last_300s":5,"last_900s":5})"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("queue_wait_s":{"count":3,"mean":2.0,"p50":2.0,"p90":3.0,"p99":3.0,"max":3.0})"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("run_time_s":{"count":0})"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("gpu_hours":2.0)"), std::string::npos) << j;
}

TEST(Stats, RouteLabelsNeverCarryIds) {
  EXPECT_EQ(RouteLabel("/v1/jobs/17/logs"), "/v1/jobs/{id}/logs");
  EXPECT_EQ(RouteLabel("/v1/jobs/abc"), "/v1/jobs/{id}");
  EXPECT_EQ(RouteLabel("/v1/jobs"), "/v1/jobs");
  EXPECT_EQ(RouteLabel("/metrics"), "/metrics");
}

TEST(Stats, HistogramIsCumulative) {
  HttpMetrics m;
  m.Record("GET", "/healthz", 200, 0.0004);
  m.Record("GET", "/healthz", 200, 0.02);
  m.Record("GET", "/healthz", 200, 9);
  m.Record("POST", "other", 413, -1);  // no timing: counted, not in the histogram
  std::string out;
  m.Write(out);
  EXPECT_NE(out.find("sluice_http_requests_total{method=\"GET\",route=\"/healthz\",code=\"200\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("sluice_http_requests_total{method=\"POST\",route=\"other\",code=\"413\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.0005\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"0.025\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"2.5\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("sluice_http_request_duration_seconds_count{route=\"/healthz\"} 3\n"), std::string::npos);
  EXPECT_EQ(out.find("route=\"other\",le="), std::string::npos);
}

}  // namespace
}  // namespace sluice::manager
