// What the job manager reports about itself (docs/api.md): `GET /v1/resources` (capacity, allocated and free
// per resource), `GET /v1/stats` (counts by state, submit rates, queue-wait and run-time percentiles,
// GPU-hours) and `GET /metrics` (the same counts as Prometheus text, plus the HTTP request counters and the
// latency histogram HttpMetrics keeps). The numbers come from the store's aggregates (store.h) and the
// manager's bookkeeping; here they are only summarized and written out.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "manager/manager.h"
#include "manager/store.h"

namespace sluice::manager {

// Nearest-rank percentile (p in (0, 100]) of `v`, which is sorted ascending and not empty.
double Percentile(const std::vector<double>& sorted, double p);

// The submit-rate windows /v1/stats and /metrics report, in seconds.
inline constexpr std::array<int, 3> kSubmitWindows = {60, 300, 900};

// `agg` from Store::Aggregate(since, now, {now - w for w in kSubmitWindows}); `window` is what the client
// asked for (0: the whole history), `open_streams` the SSE streams open now.
std::string StatsJson(Store::Aggregates agg, double now, double window, int open_streams);
// Capacity, allocated and free per resource; GPUs one by one with the job holding each.
std::string ResourcesJson(const ResourceUse& use, int64_t running_jobs);

// Request counts by (method, route, status) and a latency histogram by route, for /metrics. Routes are
// labels (RouteLabel), never raw paths, so a client cannot grow the label set.
class HttpMetrics {
 public:
  void Record(std::string_view method, std::string_view route, int status, double seconds);
  void Write(std::string& out);

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};  // not cumulative; summed when written
    uint64_t count = 0;
    double sum = 0;
  };
  std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
};

// The route a request path belongs to, e.g. "/v1/jobs/{id}/logs"; "other" for a path no route serves.
std::string RouteLabel(std::string_view path);

// The whole /metrics page: job counts by state, queue depth, running, attempts and submissions so far,
// GPU-seconds, capacity and allocation, open streams, then `http`'s counters.
std::string MetricsText(const Store::Aggregates& agg, const ResourceUse& use, int open_streams, HttpMetrics& http);

}  // namespace sluice::manager
