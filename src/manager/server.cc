#include "manager/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/error.h"
#include "core/json_writer.h"
#include "manager/log_range.h"
#include "manager/manager.h"

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

// A query parameter as a non-negative integer; `def` when absent. Throws Error(kUsage) when malformed.
uint64_t UintParam(const httplib::Request& req, const char* name, uint64_t def) {
  if (!req.has_param(name)) return def;
  std::string v = req.get_param_value(name);
  uint64_t out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) Fail(ErrorKind::kUsage, "query parameter {}: '{}' is not a non-negative integer", name, v);
  return out;
}

int64_t PathId(const httplib::Request& req) {
  const std::string s = req.matches[1];
  int64_t id = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec != std::errc() || p != s.data() + s.size() || id <= 0) Fail(ErrorKind::kUsage, "'{}' is not a job id", s);
  return id;
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

void Routes(httplib::Server& srv, Manager& m, Env* env) {
  srv.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("{\"status\":\"ok\"}\n", "application/json"); });
  srv.Get("/readyz", [&m](const httplib::Request&, httplib::Response& res) {
    if (m.Ready()) res.set_content("{\"status\":\"ready\"}\n", "application/json");
    else JsonError(res, 503, "not ready: the database is not writable or the supervisor is stalled");
  });
  srv.Post("/v1/jobs", [&m](const httplib::Request& req, httplib::Response& res) {
    JobSpec spec = ParseJobSpec(req.body);
    SubmitResult r = m.Submit(spec);
    JsonWriter w;
    w.BeginObject().Field("id", r.id).Field("state", StateName(r.state));
    if (!r.reason.empty()) w.Field("reason", r.reason);
    w.EndObject();
    res.status = r.state == State::kRejected ? 422 : 201;
    res.set_content(w.Take() + "\n", "application/json");
  });
  srv.Get("/v1/jobs", [&m](const httplib::Request& req, httplib::Response& res) {
    JobFilter f;
    if (req.has_param("state")) {
      auto s = ParseState(req.get_param_value("state"));
      if (!s) Fail(ErrorKind::kUsage, "query parameter state: '{}' is not a state", req.get_param_value("state"));
      f.state = s;
    }
    if (req.has_param("name")) f.name = req.get_param_value("name");
    f.after_id = static_cast<int64_t>(std::min<uint64_t>(UintParam(req, "after_id", 0), INT64_MAX));
    f.limit = static_cast<int>(std::clamp<uint64_t>(UintParam(req, "limit", 100), 1, 1000));
    res.set_content(m.ListJson(f) + "\n", "application/json");
  });
  srv.Get(R"(/v1/jobs/([^/]+))", [&m](const httplib::Request& req, httplib::Response& res) {
    auto j = m.JobJson(PathId(req));
    if (!j) return JsonError(res, 404, "no such job");
    res.set_content(*j + "\n", "application/json");
  });
  srv.Post(R"(/v1/jobs/([^/]+)/cancel)", [&m](const httplib::Request& req, httplib::Response& res) {
    int64_t id = PathId(req);
    CancelResult r = m.Cancel(id);
    if (r == CancelResult::kNotFound) return JsonError(res, 404, "no such job");
    if (r == CancelResult::kAlreadyTerminal) return JsonError(res, 409, "the job has already ended");
    res.status = r == CancelResult::kCancelled ? 200 : 202;
    res.set_content(*m.JobJson(id) + "\n", "application/json");
  });
  // Queue control (docs/api.md): 200 with the job, 404 unknown, 409 when its state does not allow it.
  for (const char* verb : {"retry", "hold", "release"}) {
    srv.Post(fmt::format(R"(/v1/jobs/([^/]+)/{})", verb), [&m, verb = std::string(verb)](const httplib::Request& req, httplib::Response& res) {
      int64_t id = PathId(req);
      ActionResult r = verb == "retry" ? m.Retry(id) : verb == "hold" ? m.Hold(id) : m.Release(id);
      if (r.status != ActionResult::kDone) return JsonError(res, r.status == ActionResult::kNotFound ? 404 : 409, r.message);
      res.set_content(*m.JobJson(id) + "\n", "application/json");
    });
  }
  srv.Get(R"(/v1/jobs/([^/]+)/logs)", [&m, env](const httplib::Request& req, httplib::Response& res) {
    int64_t id = PathId(req);
    std::string stream = req.has_param("stream") ? req.get_param_value("stream") : "stdout";
    if (stream != "stdout" && stream != "stderr") Fail(ErrorKind::kUsage, "query parameter stream: must be stdout or stderr");
    uint64_t attempt = UintParam(req, "attempt", 0);
    if (attempt > 1000000) Fail(ErrorKind::kUsage, "query parameter attempt: too large");
    if (req.has_param("tail") && req.has_param("offset")) Fail(ErrorKind::kUsage, "give tail or offset, not both");
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
    const char* msg = res.status == 404 ? "no such endpoint" : res.status == 413 ? "request body too large (limit 1 MiB)"
                    : res.status == 405 ? "method not allowed" : "bad request";
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
  std::error_code exe_err;
  mo.sluice_exe = std::filesystem::read_symlink("/proc/self/exe", exe_err).string();
  if (exe_err) mo.sluice_exe = "/proc/self/exe";
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

  httplib::Server srv;
  int threads = opt.threads;
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  srv.set_payload_max_length(kMaxBody);
  srv.set_read_timeout(30, 0);
  // A response is written as headers then body: without TCP_NODELAY, Nagle holds the body until the
  // client's delayed ACK (40 ms), which capped one connection at ~12 requests/s.
  srv.set_tcp_nodelay(true);
  if (!token.empty()) {
    srv.set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
      std::string auth = req.get_header_value("Authorization");
      if (auth.rfind("Bearer ", 0) == 0 && ConstantTimeEqual(auth.substr(7), token)) return httplib::Server::HandlerResponse::Unhandled;
      res.set_header("WWW-Authenticate", "Bearer");
      JsonError(res, 401, "missing or wrong bearer token");
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  Routes(srv, manager, env);
  int bound = port == 0 ? srv.bind_to_any_port(host) : (srv.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) Fail(ErrorKind::kOutput, "cannot listen on {}: {}", opt.listen, std::strerror(errno));
  fmt::print("sluice server: listening on {}:{}, data in {}, capacity {} cpus, {} bytes, {} GPUs{}\n", host, bound, mo.data_dir,
             mo.capacity.cpus, mo.capacity.memory, mo.capacity.gpus.size(), gpu_note.empty() ? "" : " (" + gpu_note + ")");
  fmt::print("sluice server: memory limits: {}; jobs pinned within CPUs {}\n",
             limits->memory() ? fmt::format("enforced, cgroup v{} under {}", limits->cgroup_version(), limits->memory_base())
                              : "not enforced (" + limits_note + ")",
             fmt::join(limits->cpus(), ","));
  std::fflush(stdout);

  std::thread waiter([&srv, &stop_set] {
    int sig = 0;
    sigwait(&stop_set, &sig);
    srv.stop();
  });
  srv.listen_after_bind();
  // listen_after_bind also returns if the listening socket fails; make the waiter return either way.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  manager.Stop();
  fmt::print(stderr, "sluice server: stopped; running jobs keep running and are re-adopted at the next start\n");
  return 0;
}

}  // namespace sluice::manager
