// bench_manager_load: load on a running `sluice server` over loopback (docs/benchmarks.md, "Job manager").
//
//   bench_manager_load HOST:PORT [--jobs 10000] [--clients 16] [--resource NAME] [--readers 4]
//
// `--clients` threads, each with its own keep-alive connection, submit `--jobs` jobs in all as fast as the
// server answers (each answer comes after the job is durable: the daemon commits before it replies).
// Every job requests one unit of the custom resource NAME (the script holds it with a blocker job, so
// the jobs queue). Meanwhile `--readers` threads loop over GET /v1/jobs/{id} and GET /v1/jobs?limit=100
// to measure read latency under the submit load. Prints submissions/s and latency percentiles (ms) of
// submits and reads as `key=value` lines. Exits 1 if any request failed.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {
using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  return v[i];
}

void Report(const char* what, const std::vector<double>& ms) {
  std::printf("%s_count=%zu %s_p50_ms=%.2f %s_p90_ms=%.2f %s_p99_ms=%.2f %s_max_ms=%.2f\n", what, ms.size(), what, Percentile(ms, 50), what,
              Percentile(ms, 90), what, Percentile(ms, 99), what, ms.empty() ? 0.0 : *std::max_element(ms.begin(), ms.end()));
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_manager_load HOST:PORT [--jobs N] [--clients N] [--readers N] [--resource NAME]\n");
    return 2;
  }
  std::string server = argv[1];
  int jobs = 10000, clients = 16, readers = 4;
  std::string resource = "slot";
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--jobs") jobs = std::atoi(argv[i + 1]);
    else if (k == "--clients") clients = std::atoi(argv[i + 1]);
    else if (k == "--readers") readers = std::atoi(argv[i + 1]);
    else if (k == "--resource") resource = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const std::string body = R"({"name":"load","command":["true"],"resources":{"cpus":0,"custom":{")" + resource + R"(":1}}})";
  std::atomic<int> next{0}, failures{0};
  std::atomic<bool> submitting{true};
  std::atomic<long> last_id{1};
  std::mutex mu;
  std::vector<double> submit_ms, read_ms;

  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      httplib::Client cli("http://" + server);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      std::vector<double> mine;
      while (next.fetch_add(1) < jobs) {
        auto s = Clock::now();
        auto r = cli.Post("/v1/jobs", body, "application/json");
        mine.push_back(Ms(Clock::now() - s));
        if (!r || r->status != 201) {
          ++failures;
          continue;
        }
        long id = std::atol(r->body.c_str() + r->body.find(':') + 1);
        long seen = last_id.load();
        while (id > seen && !last_id.compare_exchange_weak(seen, id)) {
        }
      }
      std::lock_guard<std::mutex> l(mu);
      submit_ms.insert(submit_ms.end(), mine.begin(), mine.end());
    });
  }
  std::vector<std::thread> reader_threads;
  for (int t = 0; t < readers; ++t) {
    reader_threads.emplace_back([&, t] {
      httplib::Client cli("http://" + server);
      cli.set_keep_alive(true);
      cli.set_tcp_nodelay(true);
      std::vector<double> mine;
      for (unsigned n = t; submitting.load(); ++n) {
        std::string path = n % 2 ? "/v1/jobs/" + std::to_string(1 + n % last_id.load()) : "/v1/jobs?limit=100&after_id=" + std::to_string(n % last_id.load());
        auto s = Clock::now();
        auto r = cli.Get(path);
        mine.push_back(Ms(Clock::now() - s));
        if (!r || r->status != 200) ++failures;
      }
      std::lock_guard<std::mutex> l(mu);
      read_ms.insert(read_ms.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  submitting = false;
  for (auto& t : reader_threads) t.join();
  std::printf("jobs=%d clients=%d readers=%d seconds=%.2f submits_per_s=%.0f failures=%d\n", jobs, clients, readers, seconds, jobs / seconds,
              failures.load());
  Report("submit", submit_ms);
  Report("read", read_ms);
  return failures.load() ? 1 : 0;
}
