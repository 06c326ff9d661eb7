#include "manager/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/json_writer.h"
#include "manager/dashboard_html.h"
#include "manager/http_server.h"
#include "manager/log_range.h"
#include "manager/manager.h"
#include "manager/sse.h"
#include "manager/stats.h"

namespace sluice::manager {
namespace {
constexpr size_t kMaxBody = 1 << 20;
constexpr uint64_t kMaxLogResponse = 64ull << 20;  // one response; a client pages with offset

void JsonError(httplib::Response& res, int status, const std::string& msg) {
  res.status = status;
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Field("code", status).Field("message", msg).EndObject().EndObject();
  res.set_content(w.Take() + "\n", "application/json");
}

// A client's text as an error message quotes it: control bytes escaped (a NUL would end the message, which
// travels as a C string) and at most 100 bytes.
std::string Shown(std::string_view v) {
  std::string out;
  for (unsigned char c : v.substr(0, 100)) {
    if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += static_cast<char>(c);
  }
  if (v.size() > 100) out += "...";
  return out;
}

// A query parameter as a non-negative integer; `def` when absent. Throws Error(kUsage) when malformed.
uint64_t UintParam(const httplib::Request& req, const char* name, uint64_t def) {
  if (!req.has_param(name)) return def;
  std::string v = req.get_param_value(name);
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) Fail(ErrorKind::kUsage, "query parameter {}: '{}' is not a non-negative integer", name, Shown(v));
  return out;
}

// The path's job reference ("ID" or "ID_K"), resolved; kNone answers 404 at the caller.
Resolved PathRef(const httplib::Request& req, Manager& m) {
  const std::string s = req.matches[1];
  auto ref = ParseJobRef(s);
  if (!ref) Fail(ErrorKind::kUsage, "'{}' is not a job id (ID or ID_K)", Shown(s));
  return m.Resolve(*ref);
}

// The one job a path names; an array's id is refused where one job is needed (its logs).
std::optional<int64_t> PathJob(const httplib::Request& req, Manager& m) {
  Resolved r = PathRef(req, m);
  if (r.kind == Resolved::kNone) return std::nullopt;
  if (r.kind == Resolved::kArray) Fail(ErrorKind::kUsage, "job {} is an array of {} tasks; name one as {}_K", r.id, r.size, r.id);
  return r.id;
}

bool ConstantTimeEqual(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

std::string DefaultDataDir(Env* env) {
  if (auto x = env->GetEnvVar("XDG_STATE_HOME"); x && !x->empty()) return *x + "/sluice";
  auto home = env->GetEnvVar("HOME");
  if (!home || home->empty()) Fail(ErrorKind::kUsage, "no --data-dir and no $HOME to default to");
  return *home + "/.local/state/sluice";
}

std::string ReadToken(const std::string& path) {
  std::ifstream in(path);
  if (!in) Fail(ErrorKind::kUsage, "cannot read --token-file {}", path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 16) Fail(ErrorKind::kUsage, "--token-file {}: the token must be at least 16 characters", path);
  return token;
}

// Request timing for /metrics: httplib runs the pre-routing handler, the route and the post-routing handler
// of one request on one thread, and calls the logger after the body (a whole stream) was written.
thread_local double t_arrived = -1, t_ready = -1;

// GET requests that may carry the token as ?token= (docs/api.md): EventSource cannot set headers, and the
// dashboard page is opened by URL.
bool TokenQueryAllowed(const httplib::Request& req) {
  if (req.method != "GET") return false;
  if (req.path == "/" || req.path == "/v1/events") return true;
  return RouteLabel(req.path) == "/v1/jobs/{id}/logs" && req.get_param_value("follow") == "1";
}

// Refuses (400) a query parameter the endpoint does not take, naming it and the ones it takes (docs/api.md),
// so that a misspelt one (`?stauts=running`) is not silently ignored. `token` is taken where a query token
// is (TokenQueryAllowed).
void OnlyParams(const httplib::Request& req, std::initializer_list<std::string_view> accepted) {
  for (const auto& [name, value] : req.params) {
    if (std::find(accepted.begin(), accepted.end(), name) != accepted.end()) continue;
    if (name == "token" && TokenQueryAllowed(req)) continue;
    std::string takes;
    for (std::string_view a : accepted) takes += (takes.empty() ? "" : ", ") + std::string(a);
    Fail(ErrorKind::kUsage, "unknown query parameter '{}': {} {} takes {}", Shown(name), req.method, RouteLabel(req.path),
         takes.empty() ? "none" : takes);
  }
}

// Last-Event-ID of a log stream: "ATTEMPT:OFFSET".
std::optional<std::pair<uint64_t, uint64_t>> ParseLogEventId(const std::string& s) {
  size_t colon = s.find(':');
  if (colon == std::string::npos) return std::nullopt;
  uint64_t a = 0, o = 0;
  auto [p1, e1] = std::from_chars(s.data(), s.data() + colon, a);
  auto [p2, e2] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), o);
  if (e1 != std::errc() || p1 != s.data() + colon || e2 != std::errc() || p2 != s.data() + s.size() || colon == 0 || colon + 1 == s.size())
    return std::nullopt;
  return std::make_pair(a, o);
}

// Streams `follow` (LogFollow or EventFollow) as the response body, holding `slot` until it ends.
template <typename Follow>
void Stream(httplib::Response& res, std::unique_ptr<StreamHub::Slot> slot, std::shared_ptr<Follow> follow) {
  res.set_header("Cache-Control", "no-store");
  std::shared_ptr<StreamHub::Slot> held(std::move(slot));
  res.set_chunked_content_provider("text/event-stream", [follow, held](size_t, httplib::DataSink& sink) {
    std::string out;
    bool more;
    try {
      more = follow->Next(&out);
    } catch (const std::exception& e) {
      // Mid-stream there is no status to send: say why in a comment and close, the client reconnects.
      out = fmt::format(": error: {}\n\n", e.what());
      more = false;
    }
    if (!out.empty() && !sink.write(out.data(), out.size())) return false;
    if (!more) sink.done();
    return true;
  });
}

bool FlagParam(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return false;
  std::string v = req.get_param_value(name);
  if (v == "1" || v == "true") return true;
  if (v == "0" || v == "false") return false;
  Fail(ErrorKind::kUsage, "query parameter {}: '{}' is not 1 or 0", name, Shown(v));
}

struct Observability {
  StreamHub* hub;
  HttpMetrics* http;
};

void Routes(httplib::Server& srv, Manager& m, Env* env, Observability obs) {
  srv.Get("/healthz", [](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {});
    res.set_content("{\"status\":\"ok\"}\n", "application/json");
  });
  srv.Get("/readyz", [&m](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {});
    if (m.Ready()) res.set_content("{\"status\":\"ready\"}\n", "application/json");
    else JsonError(res, 503, "not ready: the database is not writable or the supervisor is stalled");
  });
  srv.Post("/v1/jobs", [&m](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {});
    JobSpec spec = ParseJobSpec(req.body);
    SubmitResult r = m.Submit(spec);
    JsonWriter w;
    w.BeginObject().Field("id", r.id).Field("state", StateName(r.state));
    if (!r.reason.empty()) w.Field("reason", r.reason);
    if (!r.task_ids.empty()) {
      w.Key("array").BeginObject().Field("id", r.id).Field("size", static_cast<int64_t>(r.task_ids.size())).Field("spec", spec.array.spec);
      w.Key("task_ids").BeginArray();
      for (int64_t id : r.task_ids) w.Int(id);
      w.EndArray().EndObject();
    }
    w.EndObject();
    res.status = r.state == State::kRejected ? 422 : 201;
    res.set_content(w.Take() + "\n", "application/json");
  });
  srv.Get("/v1/jobs", [&m](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {"state", "name", "array", "after_id", "limit"});
    JobFilter f;
    if (req.has_param("state")) {
      auto s = ParseState(req.get_param_value("state"));
      if (!s) Fail(ErrorKind::kUsage, "query parameter state: '{}' is not a state", Shown(req.get_param_value("state")));
      f.state = s;
    }
    if (req.has_param("name")) f.name = req.get_param_value("name");
    f.array_id = static_cast<int64_t>(std::min<uint64_t>(UintParam(req, "array", 0), INT64_MAX));
    f.after_id = static_cast<int64_t>(std::min<uint64_t>(UintParam(req, "after_id", 0), INT64_MAX));
    f.limit = static_cast<int>(std::clamp<uint64_t>(UintParam(req, "limit", 100), 1, 1000));
    res.set_content(m.ListJson(f) + "\n", "application/json");
  });
  srv.Get(R"(/v1/jobs/([^/]+))", [&m](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {});
    Resolved r = PathRef(req, m);
    auto j = r.kind == Resolved::kArray ? m.ArrayJson(r.id) : r.kind == Resolved::kJob ? m.JobJson(r.id) : std::nullopt;
    if (!j) return JsonError(res, 404, "no such job");
    res.set_content(*j + "\n", "application/json");
  });
  // An action on a whole array: 200 with how many tasks it applied to, 409 when none was in a state it
  // applies to.
  auto array_action = [&m](Verb verb, const char* name, int64_t array_id, httplib::Response& res) {
    ArrayActionResult r = m.ArrayAction(verb, array_id);
    if (r.applied == 0)
      return JsonError(res, 409, fmt::format("{} applies to no task of array {} ({} tasks, none in a state it applies to)", name, array_id, r.tasks));
    JsonWriter w;
    w.BeginObject().Field("id", array_id).Field("action", name).Field("tasks", r.tasks).Field("applied", r.applied);
    if (verb == Verb::kCancel) w.Field("stopping", r.stopping);
    w.EndObject();
    res.set_content(w.Take() + "\n", "application/json");
  };
  srv.Post(R"(/v1/jobs/([^/]+)/cancel)", [&m, array_action](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {});
    Resolved ref = PathRef(req, m);
    if (ref.kind == Resolved::kArray) return array_action(Verb::kCancel, "cancel", ref.id, res);
    CancelResult r = ref.kind == Resolved::kNone ? CancelResult::kNotFound : m.Cancel(ref.id);
    if (r == CancelResult::kNotFound) return JsonError(res, 404, "no such job");
    if (r == CancelResult::kAlreadyTerminal) return JsonError(res, 409, "the job has already ended");
    res.status = r == CancelResult::kCancelled ? 200 : 202;
    res.set_content(*m.JobJson(ref.id) + "\n", "application/json");
  });
  // Queue control (docs/api.md): 200 with the job, 404 unknown, 409 when its state does not allow it.
  for (const char* verb : {"retry", "hold", "release"}) {
    srv.Post(fmt::format(R"(/v1/jobs/([^/]+)/{})", verb), [&m, array_action, name = std::string(verb)](const httplib::Request& req, httplib::Response& res) {
      OnlyParams(req, {});
      Verb v = name == "retry" ? Verb::kRetry : name == "hold" ? Verb::kHold : Verb::kRelease;
      Resolved ref = PathRef(req, m);
      if (ref.kind == Resolved::kNone) return JsonError(res, 404, "no such job");
      if (ref.kind == Resolved::kArray) return array_action(v, name.c_str(), ref.id, res);
      ActionResult r = v == Verb::kRetry ? m.Retry(ref.id) : v == Verb::kHold ? m.Hold(ref.id) : m.Release(ref.id);
      if (r.status != ActionResult::kDone) return JsonError(res, r.status == ActionResult::kNotFound ? 404 : 409, r.message);
      res.set_content(*m.JobJson(ref.id) + "\n", "application/json");
    });
  }
  srv.Get(R"(/v1/jobs/([^/]+)/logs)", [&m, env, obs](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {"stream", "attempt", "offset", "length", "tail", "follow"});
    auto named = PathJob(req, m);
    if (!named) return JsonError(res, 404, "no such job");
    int64_t id = *named;
    std::string stream = req.has_param("stream") ? req.get_param_value("stream") : "stdout";
    if (stream != "stdout" && stream != "stderr") Fail(ErrorKind::kUsage, "query parameter stream: must be stdout or stderr");
    uint64_t attempt = UintParam(req, "attempt", 0);
    if (attempt > 1000000) Fail(ErrorKind::kUsage, "query parameter attempt: too large");
    if (req.has_param("tail") && req.has_param("offset")) Fail(ErrorKind::kUsage, "give tail or offset, not both");
    if (FlagParam(req, "follow")) {
      if (req.has_param("length")) Fail(ErrorKind::kUsage, "length does not apply to follow=1");
      uint64_t offset = UintParam(req, "offset", 0);
      if (req.has_header("Last-Event-ID")) {  // a reconnecting client: exactly where it left off
        auto resume = ParseLogEventId(req.get_header_value("Last-Event-ID"));
        if (!resume || resume->first == 0 || resume->first > 1000000) Fail(ErrorKind::kUsage, "Last-Event-ID: expected ATTEMPT:OFFSET");
        attempt = resume->first;
        offset = resume->second;
      }
      auto job = m.GetJob(id);
      if (!job) return JsonError(res, 404, "no such job");
      // The next attempt may be asked for (a follower waiting out a retry's backoff), unless none can come.
      if (attempt > static_cast<uint64_t>(job->attempts) + (IsTerminal(job->state) ? 0 : 1)) return JsonError(res, 404, "no such attempt");
      if (attempt == 0 && job->attempts > 0) attempt = job->attempts;
      if (attempt > 0 && attempt <= static_cast<uint64_t>(job->attempts)) {
        std::string path = *m.LogPath(id, static_cast<int>(attempt), stream);
        bool ended = static_cast<int>(attempt) != job->attempts || job->state != State::kRunning;
        uint64_t size = env->FileExists(path) ? env->FileSize(path) : 0;
        if (req.has_param("tail")) offset = TailRange(env, path, UintParam(req, "tail", 0), kMaxLogResponse).offset;
        if (ended && offset > size) return JsonError(res, 416, fmt::format("offset {} is past the end of the log ({} bytes)", offset, size));
      }
      auto slot = obs.hub->Open();
      if (!slot) return JsonError(res, 503, fmt::format("too many open streams (limit {})", obs.hub->limits().max_streams));
      return Stream(res, std::move(slot), std::make_shared<LogFollow>(obs.hub, id, static_cast<int>(attempt), stream, offset));
    }
    auto path = m.LogPath(id, static_cast<int>(attempt), stream);
    if (!path) {
      if (!m.GetJob(id)) return JsonError(res, 404, "no such job");
      if (attempt != 0) return JsonError(res, 404, "no such attempt");
      res.set_header("X-Log-Size", "0");
      res.set_header("X-Log-Offset", "0");
      return res.set_content("", "text/plain");  // not started yet: an empty log
    }
    LogRange r = req.has_param("tail") ? TailRange(env, *path, UintParam(req, "tail", 0), kMaxLogResponse)
                                       : ByteRange(env, *path, UintParam(req, "offset", 0), UintParam(req, "length", kMaxLogResponse), kMaxLogResponse);
    res.set_header("X-Log-Size", std::to_string(r.file_size));
    res.set_header("X-Log-Offset", std::to_string(r.offset));
    if (r.length == 0) return res.set_content("", "text/plain");
    auto file = std::make_shared<std::string>(*path);
    uint64_t start = r.offset;
    res.set_content_provider(r.length, "text/plain", [env, file, start](size_t off, size_t length, httplib::DataSink& sink) {
      return CopyRange(env, *file, start + off, length, [&sink](const char* p, size_t n) { return sink.write(p, n); });
    });
  });

  srv.Get("/v1/events", [&m, obs](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {"since", "job", "token"});
    int64_t after = -1;  // from now on
    if (req.has_param("since")) after = static_cast<int64_t>(std::min<uint64_t>(UintParam(req, "since", 0), INT64_MAX));
    if (req.has_header("Last-Event-ID")) {
      std::string v = req.get_header_value("Last-Event-ID");
      uint64_t seq = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), seq);
      if (ec != std::errc() || p != v.data() + v.size() || v.empty() || seq > INT64_MAX) Fail(ErrorKind::kUsage, "Last-Event-ID: '{}' is not an event sequence number", Shown(v));
      after = static_cast<int64_t>(seq);
    }
    int64_t job = static_cast<int64_t>(std::min<uint64_t>(UintParam(req, "job", 0), INT64_MAX));
    if (job > 0 && !m.GetJob(job)) return JsonError(res, 404, "no such job");
    auto slot = obs.hub->Open();
    if (!slot) return JsonError(res, 503, fmt::format("too many open streams (limit {})", obs.hub->limits().max_streams));
    Stream(res, std::move(slot), std::make_shared<EventFollow>(obs.hub, after, job));
  });
  srv.Get("/v1/resources", [&m](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {});
    int64_t running = 0;
    m.ReadStore([&](Store& s) {
      auto agg = s.Aggregate(0, 0, {}, false);
      running = agg.jobs_by_state.count("RUNNING") ? agg.jobs_by_state["RUNNING"] : 0;
    });
    res.set_content(ResourcesJson(m.Usage(), running) + "\n", "application/json");
  });
  srv.Get("/v1/stats", [&m, env, obs](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {"window"});
    double window = static_cast<double>(UintParam(req, "window", 0));
    double now = env->NowSeconds();
    std::vector<double> instants;
    for (int w : kSubmitWindows) instants.push_back(now - w);
    Store::Aggregates agg;
    m.ReadStore([&](Store& s) { agg = s.Aggregate(window > 0 ? now - window : 0, now, instants, true); });
    res.set_content(StatsJson(std::move(agg), now, window, obs.hub->open_streams()) + "\n", "application/json");
  });
  srv.Get("/metrics", [&m, env, obs](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {});
    double now = env->NowSeconds();
    Store::Aggregates agg;
    m.ReadStore([&](Store& s) { agg = s.Aggregate(0, now, {}, false); });
    res.set_content(MetricsText(agg, m.Usage(), obs.hub->open_streams(), *obs.http), "text/plain; version=0.0.4");
  });
  srv.Get("/", [](const httplib::Request& req, httplib::Response& res) {
    OnlyParams(req, {"token"});
    // Everything the page needs is in it (no external assets); it reads data only through the API.
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:");
    res.set_header("Cache-Control", "no-store");
    res.set_content(std::string(kDashboardHtml), "text/html; charset=utf-8");
  });

  srv.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    try {
      std::rethrow_exception(ep);
    } catch (const Error& e) {
      JsonError(res, e.kind() == ErrorKind::kUsage ? 400 : 500, e.what());
    } catch (const std::exception& e) {
      JsonError(res, 500, e.what());
    } catch (...) {
      JsonError(res, 500, "unknown error");
    }
  });
  srv.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const char* msg = res.status == 404   ? "no such endpoint"
                      : res.status == 413 ? "request body too large (limit 1 MiB)"
                      : res.status == 414 ? "request target too long (limit 8192 bytes)"
                      : res.status == 405 ? "method not allowed"
                                          : "bad request: malformed request line, header or body framing";
    JsonError(res, res.status, msg);
    return httplib::Server::HandlerResponse::Handled;
  }));
}
}  // namespace

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

int RunServer(Env* env, const ServerOptions& opt) {
  size_t colon = opt.listen.rfind(':');
  if (colon == std::string::npos) Fail(ErrorKind::kUsage, "--listen {}: expected HOST:PORT", opt.listen);
  std::string host = opt.listen.substr(0, colon);
  int port = 0;
  std::string port_s = opt.listen.substr(colon + 1);
  auto [p, ec] = std::from_chars(port_s.data(), port_s.data() + port_s.size(), port);
  if (ec != std::errc() || p != port_s.data() + port_s.size() || port < 0 || port > 65535)
    Fail(ErrorKind::kUsage, "--listen {}: bad port", opt.listen);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string token = opt.token_file.empty() ? "" : ReadToken(opt.token_file);
  if (token.empty() && !IsLoopbackHost(host))
    Fail(ErrorKind::kUsage, "--listen {} is not a loopback address: give --token-file so requests are authenticated", opt.listen);

  ManagerOptions mo;
  // Absolute: jobs run in <data-dir>/jobs/<id> and the wrappers' status paths must not depend on a cwd.
  mo.data_dir = std::filesystem::absolute(opt.data_dir.empty() ? DefaultDataDir(env) : opt.data_dir).lexically_normal().string();
  mo.capacity.cpus = opt.cpus > 0 ? opt.cpus : env->AffinityCpuCount();
  mo.capacity.memory = opt.memory.empty() ? env->PhysicalMemoryBytes() : ParseBytesText(opt.memory);
  mo.capacity.custom = opt.resources;
  std::string gpu_note;
  mo.capacity.gpus = ServerGpus(env, &gpu_note);
  mo.sluice_exe = SelfExecutablePath();
  std::string limits_note;
  std::unique_ptr<JobLimits> limits = OpenJobLimits(env, mo.data_dir, &limits_note);
  mo.limits = limits.get();

  // Signals are taken by one thread with sigwait; blocked before any other thread exists so none of
  // them gets SIGTERM/SIGINT (the job wrappers unblock them again). SIGPIPE: a client that hangs up.
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGTERM);
  sigaddset(&stop_set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  PosixProcesses procs(env);
  Manager manager(env, &procs, mo);
  manager.Start();

  StreamHub hub(&manager, env, opt.streams);
  HttpMetrics http;
  HttpLimits limits_http;
  limits_http.max_body = kMaxBody;
  limits_http.max_workers = static_cast<size_t>(opt.threads);
  ApiServer srv(limits_http);
  srv.set_payload_max_length(kMaxBody);
  srv.set_keep_alive_max_count(100);
  srv.set_refusal_observer([&http](int status) { http.Record("-", "other", status, -1); });
  srv.set_pre_routing_handler([token, env](const httplib::Request& req, httplib::Response& res) {
    t_arrived = env->MonotonicSeconds();
    t_ready = -1;
    // Every body is read as JSON whatever its declared type: httplib would parse an
    // application/x-www-form-urlencoded one (curl -d's default) as a form and refuse it above 8 KiB, and a
    // multipart one as files. The request is process_request's own, so dropping the header is safe.
    if (req.method == "POST") const_cast<httplib::Request&>(req).headers.erase("Content-Type");
    if (token.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0 && ConstantTimeEqual(auth.substr(7), token)) return httplib::Server::HandlerResponse::Unhandled;
    if (auth.empty() && TokenQueryAllowed(req) && ConstantTimeEqual(req.get_param_value("token"), token))
      return httplib::Server::HandlerResponse::Unhandled;
    res.set_header("WWW-Authenticate", "Bearer");
    JsonError(res, 401, req.path == "/" ? "missing or wrong token: open the dashboard as /?token=<token>" : "missing or wrong bearer token");
    return httplib::Server::HandlerResponse::Handled;
  });
  srv.set_post_routing_handler([env](const httplib::Request&, httplib::Response&) { t_ready = env->MonotonicSeconds(); });
  srv.set_logger([&http, env](const httplib::Request& req, const httplib::Response& res) {
    double end = t_ready >= 0 ? t_ready : env->MonotonicSeconds();
    http.Record(req.method, req.matches.empty() ? "other" : RouteLabel(req.path), res.status, t_arrived >= 0 ? end - t_arrived : -1);
    t_arrived = t_ready = -1;
  });
  Routes(srv, manager, env, {&hub, &http});
  int bound = srv.Bind(host, port);
  if (bound <= 0) Fail(ErrorKind::kOutput, "cannot listen on {}: {}", opt.listen, std::strerror(errno));
  fmt::print("sluice server: listening on {}:{}, data in {}, capacity {} cpus, {} bytes, {} GPUs{}\n", host, bound, mo.data_dir,
             mo.capacity.cpus, mo.capacity.memory, mo.capacity.gpus.size(), gpu_note.empty() ? "" : " (" + gpu_note + ")");
  fmt::print("sluice server: memory limits: {}; jobs pinned within CPUs {}\n",
             limits->memory() ? fmt::format("enforced, cgroup v{} under {}, job groups {}", limits->cgroup_version(),
                                          limits->memory_base(), limits->JobGroupsGlob())
                              : "not enforced (" + limits_note + ")",
             fmt::join(limits->cpus(), ","));
  std::fflush(stdout);

  std::thread waiter([&srv, &hub, &stop_set] {
    int sig = 0;
    sigwait(&stop_set, &sig);
    hub.Stop();  // open streams end, so their workers can be joined
    srv.Stop();
  });
  bool served = srv.Serve();
  // Serve also returns if the listening socket fails; make the waiter return either way.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  hub.Stop();
  manager.Stop();
  if (!served) Fail(ErrorKind::kOutput, "the listening socket on {} failed: {}; running jobs keep running and are re-adopted at the next start", opt.listen, std::strerror(errno));
  fmt::print(stderr, "sluice server: stopped; running jobs keep running and are re-adopted at the next start\n");
  return 0;
}

}  // namespace sluice::manager
