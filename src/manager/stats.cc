#include "manager/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/json_writer.h"
#include "manager/job_spec.h"

namespace sluice::manager {
namespace {
constexpr State kAllStates[] = {State::kSubmitted, State::kPending, State::kRunning, State::kCompleted,
                                State::kFailed, State::kCancelled, State::kRejected};

int64_t Count(const Store::Aggregates& a, State s) {
  auto it = a.jobs_by_state.find(StateName(s));
  return it == a.jobs_by_state.end() ? 0 : it->second;
}

void Summary(JsonWriter& w, std::string_view key, std::vector<double> v) {
  w.Key(key).BeginObject().Field("count", static_cast<int64_t>(v.size()));
  if (!v.empty()) {
    std::sort(v.begin(), v.end());
    w.Field("mean", std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()))
        .Field("p50", Percentile(v, 50)).Field("p90", Percentile(v, 90)).Field("p99", Percentile(v, 99))
        .Field("max", v.back());
  }
  w.EndObject();
}

void Triple(JsonWriter& w, std::string_view key, double capacity, double allocated) {
  w.Key(key).BeginObject().Field("capacity", capacity).Field("allocated", allocated).Field("free", std::max(0.0, capacity - allocated)).EndObject();
}

// Prometheus label values escape backslash, quote and newline.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string Num(double v) {
  std::string s;
  AppendJsonDouble(s, v);
  return s;
}

void Metric(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}
}  // namespace

double Percentile(const std::vector<double>& sorted, double p) {
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

std::string StatsJson(Store::Aggregates agg, double now, double window, int open_streams) {
  JsonWriter w;
  w.BeginObject().Field("now", now);
  if (window > 0) w.Field("window_s", window);
  else w.Key("window_s").Null();
  w.Key("jobs").BeginObject();
  int64_t total = 0;
  for (State s : kAllStates) {
    w.Field(StateName(s), Count(agg, s));
    total += Count(agg, s);
  }
  w.EndObject().Key("submitted").BeginObject().Field("total", total);
  for (size_t i = 0; i < kSubmitWindows.size() && i < agg.submitted_since.size(); ++i)
    w.Field(fmt::format("last_{}s", kSubmitWindows[i]), agg.submitted_since[i]);
  w.EndObject().Key("submit_rate_per_s").BeginObject();
  for (size_t i = 0; i < kSubmitWindows.size() && i < agg.submitted_since.size(); ++i)
    w.Field(fmt::format("{}s", kSubmitWindows[i]), static_cast<double>(agg.submitted_since[i]) / kSubmitWindows[i]);
  w.EndObject().Field("attempts", agg.attempts_total);
  Summary(w, "queue_wait_s", std::move(agg.queue_waits));
  Summary(w, "run_time_s", std::move(agg.run_times));
  w.Field("gpu_hours", agg.gpu_seconds / 3600).Field("open_streams", open_streams).EndObject();
  return w.Take();
}

std::string ResourcesJson(const ResourceUse& use, int64_t running_jobs) {
  const Capacity& capacity = use.capacity;
  const Capacity& allocated = use.used;
  JsonWriter w;
  w.BeginObject();
  Triple(w, "cpus", capacity.cpus, allocated.cpus);
  w.Key("memory").BeginObject().Field("capacity", capacity.memory).Field("allocated", allocated.memory)
      .Field("free", capacity.memory > allocated.memory ? capacity.memory - allocated.memory : uint64_t{0}).EndObject();
  w.Key("custom").BeginObject();
  for (const auto& [name, amount] : capacity.custom) {
    auto it = allocated.custom.find(name);
    Triple(w, name, amount, it == allocated.custom.end() ? 0 : it->second);
  }
  w.EndObject();
  Triple(w, "gpu_count", static_cast<double>(capacity.gpus.size()), static_cast<double>(use.gpu_holder.size()));
  w.Key("gpus").BeginArray();
  for (const auto& g : capacity.gpus) {
    w.BeginObject().Field("index", g.index).Field("uuid", g.uuid).Field("name", g.name).Field("memory_total", g.memory_total)
        .Field("memory_free", g.memory_free);  // as last probed
    auto holder = use.gpu_holder.find(g.uuid);
    if (holder != use.gpu_holder.end()) w.Field("job", holder->second);
    else w.Key("job").Null();
    w.EndObject();
  }
  w.EndArray().Field("running_jobs", running_jobs).EndObject();
  return w.Take();
}

std::string RouteLabel(std::string_view path) {
  static constexpr std::string_view kJobs = "/v1/jobs/";
  if (path.substr(0, kJobs.size()) == kJobs) {
    size_t slash = path.find('/', kJobs.size());
    return "/v1/jobs/{id}" + std::string(slash == std::string_view::npos ? "" : path.substr(slash));
  }
  return std::string(path);
}

void HttpMetrics::Record(std::string_view method, std::string_view route, int status, double seconds) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[{std::string(method), std::string(route), status}];
  if (seconds < 0) return;
  Histogram& h = latency_[std::string(route)];
  size_t b = std::lower_bound(kBuckets.begin(), kBuckets.end(), seconds) - kBuckets.begin();
  if (b < kBuckets.size()) ++h.counts[b];
  ++h.count;
  h.sum += seconds;
}

void HttpMetrics::Write(std::string& out) {
  std::lock_guard<std::mutex> l(mu_);
  Metric(out, "sluice_http_requests_total", "counter", "HTTP requests answered, by method, route and status code.");
  for (const auto& [key, n] : requests_)
    out += fmt::format("sluice_http_requests_total{{method=\"{}\",route=\"{}\",code=\"{}\"}} {}\n", Label(std::get<0>(key)),
                       Label(std::get<1>(key)), std::get<2>(key), n);
  Metric(out, "sluice_http_request_duration_seconds", "histogram",
         "Time from a request's arrival to its response being ready (to the first byte of a stream), by route.");
  for (const auto& [route, h] : latency_) {
    uint64_t cum = 0;
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      cum += h.counts[i];
      out += fmt::format("sluice_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", Label(route), Num(kBuckets[i]), cum);
    }
    out += fmt::format("sluice_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", Label(route), h.count);
    out += fmt::format("sluice_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n", Label(route), Num(h.sum));
    out += fmt::format("sluice_http_request_duration_seconds_count{{route=\"{}\"}} {}\n", Label(route), h.count);
  }
}

std::string MetricsText(const Store::Aggregates& agg, const ResourceUse& use, int open_streams, HttpMetrics& http) {
  const Capacity& capacity = use.capacity;
  const Capacity& allocated = use.used;
  std::string out;
  Metric(out, "sluice_jobs", "gauge", "Jobs by state.");
  int64_t total = 0;
  for (State s : kAllStates) {
    out += fmt::format("sluice_jobs{{state=\"{}\"}} {}\n", StateName(s), Count(agg, s));
    total += Count(agg, s);
  }
  Metric(out, "sluice_queue_depth", "gauge", "Jobs waiting to run (PENDING).");
  out += fmt::format("sluice_queue_depth {}\n", Count(agg, State::kPending));
  Metric(out, "sluice_jobs_running", "gauge", "Jobs with a running attempt.");
  out += fmt::format("sluice_jobs_running {}\n", Count(agg, State::kRunning));
  Metric(out, "sluice_jobs_submitted_total", "counter", "Jobs submitted (REJECTED ones included).");
  out += fmt::format("sluice_jobs_submitted_total {}\n", total);
  Metric(out, "sluice_attempts_total", "counter", "Attempts started (retries included).");
  out += fmt::format("sluice_attempts_total {}\n", agg.attempts_total);
  Metric(out, "sluice_gpu_seconds_total", "counter", "GPU-seconds held by attempts (declared GPUs x run time).");
  out += fmt::format("sluice_gpu_seconds_total {}\n", Num(agg.gpu_seconds));
  Metric(out, "sluice_capacity", "gauge", "What admission may hand out, by resource (memory in bytes).");
  out += fmt::format("sluice_capacity{{resource=\"cpus\"}} {}\n", Num(capacity.cpus));
  out += fmt::format("sluice_capacity{{resource=\"memory\"}} {}\n", capacity.memory);
  out += fmt::format("sluice_capacity{{resource=\"gpus\"}} {}\n", capacity.gpus.size());
  for (const auto& [name, v] : capacity.custom) out += fmt::format("sluice_capacity{{resource=\"{}\"}} {}\n", Label(name), Num(v));
  Metric(out, "sluice_allocated", "gauge", "What running jobs hold, by resource (memory in bytes).");
  out += fmt::format("sluice_allocated{{resource=\"cpus\"}} {}\n", Num(allocated.cpus));
  out += fmt::format("sluice_allocated{{resource=\"memory\"}} {}\n", allocated.memory);
  out += fmt::format("sluice_allocated{{resource=\"gpus\"}} {}\n", use.gpu_holder.size());
  for (const auto& [name, v] : capacity.custom) {
    auto it = allocated.custom.find(name);
    out += fmt::format("sluice_allocated{{resource=\"{}\"}} {}\n", Label(name), Num(it == allocated.custom.end() ? 0 : it->second));
  }
  Metric(out, "sluice_open_streams", "gauge", "Server-Sent Event streams open (log followers and event subscribers).");
  out += fmt::format("sluice_open_streams {}\n", open_streams);
  http.Write(out);
  return out;
}

}  // namespace sluice::manager
