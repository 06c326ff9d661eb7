#include "manager/client.h"

#include <httplib.h>
#include <simdjson.h>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "core/json_writer.h"
#include "manager/job_spec.h"
#include "manager/sse.h"

namespace sluice::manager {
namespace dom = simdjson::dom;

namespace {
constexpr int kNoSuchJob = 7;

// Why `server` ("http://HOST:PORT") cannot be connected to, as the system says it ("Connection refused",
// "Name or service not known"): httplib reports only that connecting failed, so one connect is tried here.
std::string ConnectError(const std::string& server) {
  std::string hostport = server.substr(server.find("://") + 3);
  size_t colon = hostport.rfind(':');
  std::string host = hostport.substr(0, colon), port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
  if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{}, *res = nullptr;
  hints.ai_socktype = SOCK_STREAM;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) return ::gai_strerror(rc);
  int err = 0;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = errno;
      continue;
    }
    err = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      err = ::poll(&pfd, 1, 5000) == 1 ? 0 : ETIMEDOUT;
      socklen_t len = sizeof err;
      if (err == 0 && ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    ::close(fd);
    if (err == 0) break;
  }
  ::freeaddrinfo(res);
  return err == 0 ? "connection failed" : std::strerror(err);
}

}  // namespace

std::string ServerAddress(Env* env, const ClientOptions& c) {
  return !c.server.empty() ? c.server : env->GetEnvVar("SLUICE_SERVER").value_or("127.0.0.1:19001");
}

namespace {

// A connection to the server with the bearer token attached.
class Api {
 public:
  Api(Env* env, const ClientOptions& c) {
    std::string server = ServerAddress(env, c);
    if (server.rfind("http://", 0) != 0) server = "http://" + server;
    while (!server.empty() && server.back() == '/') server.pop_back();
    cli_ = std::make_unique<httplib::Client>(server);
    cli_->set_connection_timeout(5, 0);
    cli_->set_read_timeout(60, 0);
    cli_->set_tcp_nodelay(true);  // a request is headers then body: no Nagle wait for the server's ACK
    std::string tf = c.token_file.empty() ? env->GetEnvVar("SLUICE_TOKEN_FILE").value_or("") : c.token_file;
    if (!tf.empty()) {
      std::ifstream in(tf);
      std::string token;
      if (!in || !std::getline(in, token)) Fail(ErrorKind::kUsage, "cannot read token file {}", tf);
      while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
      headers_.emplace("Authorization", "Bearer " + token);
    }
    server_ = server;
  }

  httplib::Result Get(const std::string& path) { return Check(cli_->Get(path, headers_)); }
  httplib::Result Post(const std::string& path, const std::string& body) {
    return Check(cli_->Post(path, headers_, body, "application/json"));
  }
  // Reads an SSE stream, passing each message to `on_message` until it returns false or the server ends the
  // stream. Returns the response status (the error body, if any, in `*error_body`), or 0 if the connection
  // failed or broke before a status or after one (the caller may resume).
  int Stream(const std::string& path, const std::function<bool(const SseMessageParsed&)>& on_message, std::string* error_body) {
    SseParser parser;
    int status = 0;
    bool stopped = false;
    auto r = cli_->Get(
        path, headers_,
        [&](const httplib::Response& res) {
          status = res.status;
          return true;
        },
        [&](const char* data, size_t n) {
          if (status != 200) {
            error_body->append(data, n);
            return true;
          }
          parser.Feed(std::string_view(data, n), [&](const SseMessageParsed& m) {
            if (!stopped && !on_message(m)) stopped = true;
          });
          return !stopped;
        });
    if (!r && !stopped) return status == 200 ? 0 : status;
    return status;
  }
  // Breaks a Stream() running on another thread.
  void Stop() { cli_->stop(); }

 private:
  httplib::Result Check(httplib::Result r) {
    if (!r)
      Fail(ErrorKind::kInput, "cannot reach sluice server at {}: {}", server_,
           r.error() == httplib::Error::Connection ? ConnectError(server_) : httplib::to_string(r.error()));
    return r;
  }
  std::unique_ptr<httplib::Client> cli_;
  httplib::Headers headers_;
  std::string server_;
};

// The server's {"error": {"message"}} text, or the raw body.
std::string ErrorMessage(const httplib::Response& r) {
  dom::parser p;
  dom::element e;
  std::string_view msg;
  if (!p.parse(r.body).get(e) && !e.at_pointer("/error/message").get(msg)) return std::string(msg);
  return r.body;
}

// Prints the server's refusal; 404 → exit 7, other 4xx → 2, 5xx → 70.
int Report(const httplib::Response& r) {
  fmt::print(stderr, "sluice: error: {} (HTTP {})\n", ErrorMessage(r), r.status);
  if (r.status == 404) return kNoSuchJob;
  return r.status >= 500 ? 70 : 2;
}

int ReportStatus(int status, const std::string& body) {
  httplib::Response r;
  r.status = status;
  r.body = body;
  return Report(r);
}

// A job reference checked before it goes into a path: "ID" or "ID_K".
JobRef ParseRef(const std::string& s) {
  auto ref = ParseJobRef(s);
  if (!ref) Fail(ErrorKind::kUsage, "'{}' is not a job id (ID, or ID_K for task K of array ID)", s);
  return *ref;
}

std::string Str(dom::element e, const char* ptr) {
  std::string_view s;
  return e.at_pointer(ptr).get(s) ? std::string() : std::string(s);
}
int64_t Int(dom::element e, const char* ptr, int64_t def) {
  int64_t i;
  return e.at_pointer(ptr).get(i) ? def : i;
}
double Num(dom::element e, const char* ptr) {
  double d;
  return e.at_pointer(ptr).get(d) ? 0 : d;
}
}  // namespace

std::pair<std::string, std::string> SplitAssignment(const std::string& kv, const char* flag) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) Fail(ErrorKind::kUsage, "{} {}: expected NAME=VALUE", flag, kv);
  return {kv.substr(0, eq), kv.substr(eq + 1)};
}

std::pair<std::string, double> ParseResourceFlag(const std::string& kv) {
  auto [name, text] = SplitAssignment(kv, "--resource");
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end || !(v >= 0)) Fail(ErrorKind::kUsage, "--resource {}: the amount is not a non-negative number", kv);
  return {name, v};
}

std::string SubmitBody(const SubmitOptions& s) {
  if (s.argv.empty() && s.recipe.empty()) Fail(ErrorKind::kUsage, "no command given (sluice submit [options] -- CMD ARGS..., or --recipe R.yaml)");
  if (!s.argv.empty() && !s.recipe.empty()) Fail(ErrorKind::kUsage, "give a command or --recipe, not both");
  if (!s.job_dir.empty() && s.recipe.empty()) Fail(ErrorKind::kUsage, "--job-dir is for a --recipe job");
  JsonWriter w;
  w.BeginObject();
  if (!s.name.empty()) w.Field("name", s.name);
  if (!s.recipe.empty()) {
    // The daemon runs it from the client's directory, so the recipe's relative paths mean what they mean here.
    namespace fs = std::filesystem;
    w.Field("kind", "pipeline").Key("pipeline").BeginObject().Field("recipe", fs::absolute(s.recipe).lexically_normal().string());
    if (!s.job_dir.empty()) w.Field("job_dir", fs::absolute(s.job_dir).lexically_normal().string());
    w.EndObject();
    if (s.cwd.empty()) w.Field("cwd", fs::current_path().string());
  } else if (s.shell) {
    std::string text;
    for (const auto& a : s.argv) text += (text.empty() ? "" : " ") + a;
    w.Field("shell", true).Field("command", text);
  } else {
    w.Key("command").BeginArray();
    for (const auto& a : s.argv) w.String(a);
    w.EndArray();
  }
  // The daemon runs in a directory of its own: a relative --cwd means one below the client's.
  if (!s.cwd.empty()) w.Field("cwd", std::filesystem::absolute(s.cwd).lexically_normal().string());
  if (!s.env.empty()) {
    w.Key("env").BeginObject();
    for (const auto& kv : s.env) {
      auto [k, v] = SplitAssignment(kv, "--env");
      w.Field(k, v);
    }
    w.EndObject();
  }
  w.Field("priority", s.priority);
  w.Key("resources").BeginObject();
  if (s.cpus) w.Field("cpus", *s.cpus);
  if (!s.memory.empty()) w.Field("memory", s.memory);
  if (s.gpus < 0) Fail(ErrorKind::kUsage, "--gpus must not be negative");
  if (!s.gpu_memory.empty() && s.gpus == 0) Fail(ErrorKind::kUsage, "--gpu-mem needs --gpus N");
  if (s.gpus > 0) {
    w.Key("gpus").BeginObject().Field("count", s.gpus);
    if (!s.gpu_memory.empty()) w.Field("min_free_memory", s.gpu_memory);
    w.EndObject();
  }
  if (!s.resources.empty()) {
    w.Key("custom").BeginObject();
    for (const auto& kv : s.resources) {
      auto [name, amount] = ParseResourceFlag(kv);
      w.Field(name, amount);
    }
    w.EndObject();
  }
  w.EndObject();
  if (!s.after.empty()) {
    w.Key("depends_on").BeginArray();
    for (const auto& a : s.after) {
      size_t colon = a.find(':');
      std::string cond = colon == std::string::npos ? "ok" : a.substr(0, colon);
      std::string id = colon == std::string::npos ? a : a.substr(colon + 1);
      if (!ParseDepCondition(cond)) Fail(ErrorKind::kUsage, "--after {}: condition must be ok, any, notok or start", a);
      JobRef ref = ParseRef(id);
      w.BeginObject();
      if (ref.index >= 0) w.Field("job", ref.ToString());
      else w.Field("job", ref.id);
      w.Field("condition", DepConditionName(*ParseDepCondition(cond))).EndObject();
    }
    w.EndArray();
  }
  if (s.retries < 0) Fail(ErrorKind::kUsage, "--retries must not be negative");
  w.Key("retry").BeginObject().Field("max_attempts", s.retries + 1);
  if (!s.backoff.empty()) {
    // INITIAL[,xMULT[,MAX]]
    std::vector<std::string> parts;
    size_t from = 0;
    for (size_t i = 0; i <= s.backoff.size(); ++i)
      if (i == s.backoff.size() || s.backoff[i] == ',') parts.push_back(s.backoff.substr(from, i - from)), from = i + 1;
    if (parts.size() > 3) Fail(ErrorKind::kUsage, "--backoff {}: expected INITIAL[,xMULT[,MAX]]", s.backoff);
    w.Key("backoff").BeginObject().Field("initial", ParseDurationText(parts[0]));
    if (parts.size() > 1) {
      std::string m = parts[1];
      if (!m.empty() && (m[0] == 'x' || m[0] == '*')) m = m.substr(1);
      char* end = nullptr;
      double mult = std::strtod(m.c_str(), &end);
      if (m.empty() || *end) Fail(ErrorKind::kUsage, "--backoff {}: the multiplier is not a number", s.backoff);
      w.Field("multiplier", mult);
    }
    if (parts.size() > 2) w.Field("max", ParseDurationText(parts[2]));
    w.EndObject();
  }
  w.EndObject();
  if (!s.timeout.empty() || !s.queue_timeout.empty() || !s.kill_grace.empty()) {
    w.Key("timeout").BeginObject();
    if (!s.timeout.empty()) w.Field("run", ParseDurationText(s.timeout));
    if (!s.queue_timeout.empty()) w.Field("queue", ParseDurationText(s.queue_timeout));
    if (!s.kill_grace.empty()) w.Field("kill_grace", ParseDurationText(s.kill_grace));
    w.EndObject();
  }
  if (!s.array.empty()) {
    ArrayInfo info;
    ParseArraySpec(s.array, &info, "--array");
    w.Field("array", info.spec);
  }
  w.EndObject();
  return w.Take();
}

namespace {
SubmitReply ParseSubmitReply(const std::string& body) {
  dom::parser p;
  dom::element e;
  if (p.parse(body).get(e)) Fail(ErrorKind::kInternal, "unexpected answer from the server: {}", body);
  SubmitReply reply{Int(e, "/id", 0), Str(e, "/state"), Str(e, "/reason"), {}};
  dom::array ids;
  if (!e.at_pointer("/array/task_ids").get(ids))
    for (dom::element id : ids) reply.task_ids.push_back(int64_t(id));
  return reply;
}
}  // namespace

SubmitReply SubmitJob(Env* env, const ClientOptions& c, const SubmitOptions& s) {
  std::string body = SubmitBody(s);
  Api api(env, c);
  auto r = api.Post("/v1/jobs", body);
  if (r->status == 201 || r->status == 422) return ParseSubmitReply(r->body);  // 422: recorded as REJECTED
  if (r->status >= 400 && r->status < 500) Fail(ErrorKind::kUsage, "{} (HTTP {})", ErrorMessage(*r), r->status);
  Fail(ErrorKind::kInternal, "sluice server answered the submit with HTTP {}: {}", r->status, ErrorMessage(*r));
}

std::optional<std::string> FetchJobJson(Env* env, const ClientOptions& c, const std::string& ref) {
  ParseRef(ref);
  Api api(env, c);
  auto r = api.Get("/v1/jobs/" + ref);
  if (r->status == 404) return std::nullopt;
  if (r->status >= 400 && r->status < 500) Fail(ErrorKind::kUsage, "{} (HTTP {})", ErrorMessage(*r), r->status);
  if (r->status != 200) Fail(ErrorKind::kInternal, "sluice server answered GET /v1/jobs/{} with HTTP {}: {}", ref, r->status, ErrorMessage(*r));
  return r->body;
}

int SubmitCommand(Env* env, const ClientOptions& c, const SubmitOptions& s, bool json) {
  SubmitReply r = SubmitJob(env, c, s);
  if (json) {
    JsonWriter w;
    w.BeginObject().Field("id", r.id).Field("state", r.state);
    if (!r.reason.empty()) w.Field("reason", r.reason);
    if (!r.task_ids.empty()) {
      w.Field("array_size", static_cast<int64_t>(r.task_ids.size())).Key("task_ids").BeginArray();
      for (int64_t id : r.task_ids) w.Int(id);
      w.EndArray();
    }
    w.EndObject();
    fmt::print("{}\n", w.Take());
  }
  if (r.state == "REJECTED") {
    fmt::print(stderr, "sluice: {} {} REJECTED: {}\n", r.task_ids.empty() ? "job" : "array", r.id, r.reason);
    return 2;
  }
  if (json) return 0;
  fmt::print("{}\n", r.id);
  // The id alone goes to stdout (scripts take it as it is); the size of an array is for the reader.
  if (!r.task_ids.empty())
    fmt::print(stderr, "sluice: array {} of {} tasks, job ids {}..{} (name a task as {}_INDEX)\n", r.id, r.task_ids.size(), r.task_ids.front(),
               r.task_ids.back(), r.id);
  return 0;
}

namespace {
// GETs `path` for a verb with --json: prints the answer as it is and returns 0 when `json`; else parses it
// into `*e` (backed by `p`) and returns nullopt. A refusal is reported and its exit code returned.
std::optional<int> GetJson(Api& api, const std::string& path, bool json, dom::parser& p, dom::element* e) {
  auto r = api.Get(path);
  if (r->status != 200) return Report(*r);
  if (json) {
    fmt::print("{}", r->body);
    return 0;
  }
  if (p.parse(r->body).get(*e)) Fail(ErrorKind::kInternal, "unexpected answer from the server: {}", r->body);
  return std::nullopt;
}
}  // namespace

namespace {
// "ID_K" for an array's task, else the id.
std::string JobLabel(dom::element j) {
  int64_t array_id = Int(j, "/array_id", 0);
  return array_id > 0 ? JobRef{array_id, Int(j, "/array_index", 0)}.ToString() : std::to_string(Int(j, "/id", 0));
}

void PrintArrayStatus(dom::element e) {
  std::string counts;
  dom::object states;
  if (!e.at_pointer("/array/states").get(states))
    for (auto [state, n] : states) counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", int64_t(n), state);
  fmt::print("array {} {}: {}, {} tasks ({}): {}\n", Int(e, "/id", 0), Str(e, "/name"), Str(e, "/state"), Int(e, "/array/size", 0),
             Str(e, "/array/spec"), counts);
  dom::array tasks;
  if (e.at_pointer("/array/tasks").get(tasks)) return;
  for (dom::element t : tasks) {
    std::string reason = Str(t, "/reason");
    fmt::print("  {}  job {}  {}  attempts {}{}\n", JobRef{Int(e, "/id", 0), Int(t, "/index", 0)}.ToString(), Int(t, "/id", 0), Str(t, "/state"),
               Int(t, "/attempts", 0), reason.empty() ? "" : "  (" + reason + ")");
  }
}
}  // namespace

int StatusCommand(Env* env, const ClientOptions& c, const std::string& ref, bool json) {
  ParseRef(ref);
  Api api(env, c);
  dom::parser p;
  dom::element e;
  if (auto done = GetJson(api, "/v1/jobs/" + ref, json, p, &e)) return *done;
  if (e["array"].is_object()) {
    PrintArrayStatus(e);
    return 0;
  }
  std::string label = JobLabel(e);
  std::string name = Str(e, "/name");
  fmt::print("job {}{}{}: {}", label, label == std::to_string(Int(e, "/id", 0)) ? "" : fmt::format(" (job {})", Int(e, "/id", 0)),
             name.empty() ? "" : " " + name, Str(e, "/state"));
  std::string reason = Str(e, "/reason");
  if (!reason.empty()) fmt::print(" ({})", reason);
  fmt::print(", attempts {}\n", Int(e, "/attempts", 0));
  dom::array attempts;
  if (!e["attempts_detail"].get(attempts) && attempts.size() > 0) {
    dom::element last = attempts.at(attempts.size() - 1);
    // What the latest attempt holds: its GPUs (UUIDs) and the numbers of the CPUs it is pinned to.
    for (auto [what, label] : {std::pair{"gpus", "gpus"}, std::pair{"cpus", "pinned cpus"}}) {
      dom::array items;
      std::string list;
      if (!last[what].get(items))
        for (dom::element x : items) list += (list.empty() ? "" : ",") + (x.is_string() ? std::string(std::string_view(x)) : std::to_string(int64_t(x)));
      if (!list.empty()) fmt::print("  {}: {}\n", label, list);
    }
  }
  if (std::string dir = Str(e, "/pipeline/job_dir"); !dir.empty())
    fmt::print("  pipeline job dir: {}\n  snapshot: {}, {:.1f}% ({} of {} partitions, {} failed)\n", dir, Str(e, "/pipeline/snapshot/status"),
               Num(e, "/pipeline/snapshot/progress_percentage"), Int(e, "/pipeline/snapshot/completed_partitions", 0),
               Int(e, "/pipeline/snapshot/total_partitions", 0), Int(e, "/pipeline/snapshot/failed_partitions", 0));
  return 0;
}

int ListCommand(Env* env, const ClientOptions& c, const std::string& state, bool json) {
  Api api(env, c);
  int64_t after = 0;
  std::string all = "[";
  bool first = true;
  while (true) {
    std::string path = fmt::format("/v1/jobs?limit=1000&after_id={}", after);
    if (!state.empty()) path += "&state=" + state;
    auto r = api.Get(path);
    if (r->status != 200) return Report(*r);
    // The header only once the server has answered: a failed list prints nothing on stdout.
    if (!json && after == 0) fmt::print("{:>8}  {:<10}  {:>8}  {:<24}  {}\n", "ID", "STATE", "ATTEMPTS", "NAME", "REASON");
    dom::parser p;
    dom::element e;
    if (p.parse(r->body).get(e)) Fail(ErrorKind::kInternal, "unexpected answer from the server");
    dom::array jobs;
    if (e["jobs"].get(jobs)) Fail(ErrorKind::kInternal, "unexpected answer from the server");
    for (dom::element j : jobs) {
      if (json) {
        all += (first ? "" : ",") + simdjson::minify(j);
        first = false;
      } else {
        fmt::print("{:>8}  {:<10}  {:>8}  {:<24}  {}\n", JobLabel(j), Str(j, "/state"), Int(j, "/attempts", 0), Str(j, "/name"), Str(j, "/reason"));
      }
    }
    after = Int(e, "/next_after_id", 0);
    if (after == 0) break;
  }
  if (json) fmt::print("{}]\n", all);
  return 0;
}

namespace {
// `sluice logs -f`: the SSE follow of one attempt, then of the next while the job retries (attempt 0).
int FollowLog(Env* env, Api& api, const std::string& id, int attempt, const char* stream, int64_t tail) {
  int n = attempt;
  uint64_t offset = 0;
  bool first = true;
  int broken = 0;  // connections lost in a row
  while (true) {
    std::string path = fmt::format("/v1/jobs/{}/logs?follow=1&stream={}&attempt={}", id, stream, n);
    path += first && tail >= 0 ? fmt::format("&tail={}", tail) : fmt::format("&offset={}", offset);
    std::string end, error;
    int status = api.Stream(
        path,
        [&](const SseMessageParsed& m) {
          if (m.event == "attempt") {
            dom::parser p;
            dom::element e;
            if (!p.parse(m.data).get(e) && Int(e, "/attempt", 0) != n) {
              n = static_cast<int>(Int(e, "/attempt", 0));
              offset = 0;
            }
          } else if (m.event == "log") {
            auto bytes = Base64Decode(m.data);
            if (!bytes) Fail(ErrorKind::kInternal, "unexpected log message from the server");
            std::fwrite(bytes->data(), 1, bytes->size(), stdout);
            std::fflush(stdout);
            size_t colon = m.id.find(':');
            if (colon != std::string::npos) offset = std::stoull(m.id.substr(colon + 1));
          } else if (m.event == "truncated") {
            dom::parser p;
            dom::element e;
            if (!p.parse(m.data).get(e))
              fmt::print(stderr, "sluice: the log of attempt {} was truncated at byte {} (now {} bytes); following it from its start\n", n,
                         Int(e, "/offset", 0), Int(e, "/size", 0));
            offset = 0;
          } else if (m.event == "end") {
            end = m.data;
            return false;
          }
          broken = 0;
          return true;
        },
        &error);
    if (status != 0 && status != 200) return ReportStatus(status, error);
    first = false;
    if (end.empty()) {  // the connection broke (a daemon restart): resume where it stopped
      if (++broken > 20) Fail(ErrorKind::kInput, "lost the connection to sluice server while following job {}", id);
      env->SleepSeconds(0.5);
      continue;
    }
    dom::parser p;
    dom::element e;
    if (p.parse(end).get(e)) Fail(ErrorKind::kInternal, "unexpected end message from the server: {}", end);
    auto state = ParseState(Str(e, "/job_state"));
    // A pinned attempt ends here; otherwise a job that will run again is followed into its next attempt.
    if (attempt != 0 || !state || IsTerminal(*state) || Int(e, "/attempt", 0) == 0) return 0;
    fmt::print(stderr, "sluice: attempt {} of job {} ended; waiting for attempt {} ({})\n", n, id, n + 1, Str(e, "/reason"));
    n = static_cast<int>(Int(e, "/attempt", n)) + 1;
    offset = 0;
  }
}
}  // namespace

int LogsCommand(Env* env, const ClientOptions& c, const std::string& id, int attempt, bool stderr_stream, int64_t tail, bool follow) {
  ParseRef(id);
  Api api(env, c);
  if (follow) return FollowLog(env, api, id, attempt, stderr_stream ? "stderr" : "stdout", tail);
  std::string base = fmt::format("/v1/jobs/{}/logs?stream={}&attempt={}", id, stderr_stream ? "stderr" : "stdout", attempt);
  uint64_t offset = 0;
  std::string path = tail >= 0 ? fmt::format("{}&tail={}", base, tail) : fmt::format("{}&offset=0", base);
  while (true) {
    auto r = api.Get(path);
    if (r->status != 200) return Report(*r);
    std::fwrite(r->body.data(), 1, r->body.size(), stdout);
    auto header = [&r](const char* name) {
      std::string v = r->get_header_value(name);
      return v.empty() ? uint64_t{0} : std::stoull(v);
    };
    uint64_t size = header("X-Log-Size");
    offset = header("X-Log-Offset") + r->body.size();
    // One response holds at most 64 MiB: page on until the size seen at the first request.
    if (r->body.empty() || offset >= size) break;
    path = fmt::format("{}&offset={}", base, offset);
  }
  std::fflush(stdout);
  return 0;
}

namespace {
// An action's answer on a whole array (`applied` of `tasks`); false if the answer is a single job's.
bool PrintArrayAction(const std::string& body) {
  dom::parser p;
  dom::element e;
  if (p.parse(body).get(e) || !e["action"].is_string()) return false;
  fmt::print("array {}: {} applied to {} of {} tasks", Int(e, "/id", 0), Str(e, "/action"), Int(e, "/applied", 0), Int(e, "/tasks", 0));
  if (int64_t stopping = Int(e, "/stopping", 0); stopping > 0) fmt::print(" ({} running: SIGTERM sent to their process groups)", stopping);
  fmt::print("\n");
  return true;
}
}  // namespace

int CancelCommand(Env* env, const ClientOptions& c, const std::string& id) {
  ParseRef(id);
  Api api(env, c);
  auto r = api.Post(fmt::format("/v1/jobs/{}/cancel", id), "");
  if (r->status != 200 && r->status != 202) return Report(*r);
  if (PrintArrayAction(r->body)) return 0;
  fmt::print("job {}: {}\n", id, r->status == 200 ? "CANCELLED" : "cancelling (SIGTERM sent to its process group)");
  return 0;
}

int JobActionCommand(Env* env, const ClientOptions& c, const std::string& id, const std::string& verb) {
  ParseRef(id);
  Api api(env, c);
  auto r = api.Post(fmt::format("/v1/jobs/{}/{}", id, verb), "");
  if (r->status != 200) return Report(*r);
  if (PrintArrayAction(r->body)) return 0;
  fmt::print("job {}: {}\n", id, verb == "retry" ? "PENDING again (retried)" : verb == "hold" ? "held" : "released");
  return 0;
}

namespace {
// The exit code `sluice wait` returns for a job that has ended; nullopt while it has not. `e` is a job, or
// an array's task (the same fields).
std::optional<int> EndedExitCode(const std::string& label, dom::element e) {
  auto state = ParseState(Str(e, "/state"));
  if (!state || !IsTerminal(*state)) return std::nullopt;
  fmt::print(stderr, "sluice: job {} {}{}\n", label, StateName(*state), Str(e, "/reason").empty() ? "" : ": " + Str(e, "/reason"));
  switch (*state) {
    case State::kCompleted: return 0;
    case State::kCancelled: return 9;
    case State::kRejected: return 10;
    default: break;
  }
  int64_t code = Int(e, "/exit_code", -1), sig = Int(e, "/signal", -1);
  if (Str(e, "/reason").rfind("timeout", 0) == 0) return 124;
  if (code > 0) return static_cast<int>(code);
  if (sig > 0) return static_cast<int>(128 + sig);
  return 1;
}

// An array has ended when every task has: 0 if all COMPLETED, else the code of its first task (by index)
// that did not complete. nullopt while a task has not ended.
std::optional<int> ArrayEndedExitCode(dom::element e) {
  auto state = ParseState(Str(e, "/state"));
  if (!state || !IsTerminal(*state)) return std::nullopt;
  int64_t array_id = Int(e, "/id", 0);
  dom::array tasks;
  if (!e.at_pointer("/array/tasks").get(tasks))
    for (dom::element t : tasks)
      if (Str(t, "/state") != "COMPLETED") {
        fmt::print(stderr, "sluice: array {} {}; its first task that did not complete:\n", array_id, Str(e, "/state"));
        return EndedExitCode(JobRef{array_id, Int(t, "/index", 0)}.ToString(), t);
      }
  fmt::print(stderr, "sluice: array {} COMPLETED ({} tasks)\n", array_id, Int(e, "/array/size", 0));
  return 0;
}

// Reads an SSE stream of `path` on a second thread until `stop_on` (given each message) says so, the stream
// ends or breaks, or `deadline` (monotonic; 0: none) passes. Each message that `stop_on` does not end on
// may ask (through `*recheck`) for the main thread to look at the job again: `check` runs there, outside
// the lock, and ends the wait when it returns a value. Returns that value, 8 for the deadline (after
// `on_timeout`), or nullopt when the stream ended without an answer (the caller reconnects).
std::optional<int> WatchEvents(Env* env, Api& api, const std::string& path, double deadline,
                               const std::function<int(const SseMessageParsed&)>& classify,
                               const std::function<std::optional<int>()>& check, const std::function<void()>& on_timeout, int* status,
                               std::string* error) {
  // classify: 0 ignore, 1 look at the job again, 2 the job has ended (check once more and stop).
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int pending = 0;  // the strongest classification not yet acted on
  std::thread reader([&] {
    int st = api.Stream(
        path,
        [&](const SseMessageParsed& m) {
          int k = classify(m);
          if (k == 0) return true;
          std::lock_guard<std::mutex> l(mu);
          pending = std::max(pending, k);
          cv.notify_all();
          return k < 2;
        },
        error);
    std::lock_guard<std::mutex> l(mu);
    *status = st;
    done = true;
    cv.notify_all();
  });
  std::optional<int> answer;
  bool timed_out = false;
  while (true) {
    std::unique_lock<std::mutex> l(mu);
    auto ready = [&] { return done || pending > 0; };
    if (deadline > 0) timed_out = !cv.wait_for(l, std::chrono::duration<double>(std::max(0.0, deadline - env->MonotonicSeconds())), ready);
    else cv.wait(l, ready);
    if (timed_out) break;
    bool act = pending > 0, stream_over = done;
    pending = 0;
    l.unlock();
    if (act && (answer = check())) break;
    if (stream_over) break;
  }
  if (!done) api.Stop();
  reader.join();
  if (answer) return answer;
  if (timed_out) {
    on_timeout();
    return 8;
  }
  return std::nullopt;
}
}  // namespace

int WaitCommand(Env* env, const ClientOptions& c, const std::string& ref, double timeout_seconds) {
  ParseRef(ref);
  Api api(env, c), events(env, c);
  double deadline = timeout_seconds > 0 ? env->MonotonicSeconds() + timeout_seconds : 0;
  int broken = 0;
  while (true) {
    auto r = api.Get("/v1/jobs/" + ref);
    if (r->status != 200) return Report(*r);
    dom::parser p;
    dom::element e;
    if (p.parse(r->body).get(e)) Fail(ErrorKind::kInternal, "unexpected answer from the server");
    bool array = e["array"].is_object();
    std::string last_state = Str(e, "/state");
    if (auto code = array ? ArrayEndedExitCode(e) : EndedExitCode(ref, e)) return *code;
    int64_t id = Int(e, "/id", 0);
    auto on_timeout = [&] { fmt::print(stderr, "sluice: job {} still {} after {} s\n", ref, last_state, timeout_seconds); };
    // The job's own events from its first (none is missed between the read above and the subscription)
    // until a terminal one. An array's tasks have consecutive ids: every event from the subscription on
    // (its hello included, which covers the gap since the read above) of a task there makes the array be
    // read again, until all have ended.
    std::string path = fmt::format("/v1/events?job={}&since=0", id);
    int64_t lo = id, hi = id;
    if (array) {
      path = "/v1/events";
      dom::array tasks;
      if (!e.at_pointer("/array/tasks").get(tasks))
        for (dom::element t : tasks) hi = std::max(hi, Int(t, "/id", id));
    }
    auto classify = [&](const SseMessageParsed& m) {
      if (!m.event.empty()) return array ? 1 : 0;  // hello
      dom::parser ep;
      dom::element ev;
      if (ep.parse(m.data).get(ev)) return 0;
      int64_t job = Int(ev, "/job", 0);
      if (job < lo || job > hi) return 0;
      if (array) return 1;
      auto s = ParseState(Str(ev, "/state"));
      return s && IsTerminal(*s) ? 2 : 0;
    };
    double checked_at = 0;  // the first look (at the hello) is at once
    // Reads the job again: its exit code once it (every task of an array) has ended, else nullopt.
    auto check = [&]() -> std::optional<int> {
      if (array) {
        // The array's view grows with its tasks: read it at most twice a second, however many tasks change.
        double next = checked_at + 0.5;
        if (deadline > 0) next = std::min(next, deadline);
        if (double now = env->MonotonicSeconds(); now < next) env->SleepSeconds(next - now);
        checked_at = env->MonotonicSeconds();
      }
      auto again = api.Get("/v1/jobs/" + ref);
      if (again->status != 200) return Report(*again);
      dom::parser ap;
      dom::element ae;
      if (ap.parse(again->body).get(ae)) Fail(ErrorKind::kInternal, "unexpected answer from the server");
      last_state = Str(ae, "/state");
      return array ? ArrayEndedExitCode(ae) : EndedExitCode(ref, ae);
    };
    int status = 0;
    std::string error;
    if (auto answer = WatchEvents(env, events, path, deadline, classify, check, on_timeout, &status, &error)) return *answer;
    if (status != 0 && status != 200) return ReportStatus(status, error);
    // The stream broke (a daemon restart): read the job again and resubscribe.
    if (++broken > 20) Fail(ErrorKind::kInput, "lost the connection to sluice server while waiting for job {}", ref);
    env->SleepSeconds(0.5);
  }
}

int HealthCommand(Env* env, const ClientOptions& c, bool json) {
  Api api(env, c);
  auto h = api.Get("/healthz");
  if (h->status != 200) return Report(*h);
  auto ready = api.Get("/readyz");
  auto res = api.Get("/v1/resources");
  if (res->status != 200) return Report(*res);
  bool ok = ready->status == 200;
  if (json) {
    JsonWriter w;
    w.BeginObject().Field("serving", true).Field("ready", ok);
    if (!ok) w.Field("why", ErrorMessage(*ready));
    std::string body = res->body;
    while (!body.empty() && body.back() == '\n') body.pop_back();
    w.Key("resources").Raw(body).EndObject();
    fmt::print("{}\n", w.Take());
    return ok ? 0 : 1;
  }
  dom::parser p;
  dom::element e;
  if (p.parse(res->body).get(e)) Fail(ErrorKind::kInternal, "unexpected answer from the server");
  fmt::print("sluice server: serving, {}\n", ok ? "ready" : "NOT READY: " + ErrorMessage(*ready));
  fmt::print("running jobs: {}\n", Int(e, "/running_jobs", 0));
  fmt::print("cpus: {} of {} allocated\n", Num(e, "/cpus/allocated"), Num(e, "/cpus/capacity"));
  fmt::print("memory: {:.1f} of {:.1f} GiB allocated\n", Num(e, "/memory/allocated") / (1 << 30), Num(e, "/memory/capacity") / (1 << 30));
  dom::object custom;
  if (!e["custom"].get(custom))
    for (auto [name, v] : custom) fmt::print("{}: {} of {} allocated\n", name, Num(v, "/allocated"), Num(v, "/capacity"));
  return ok ? 0 : 1;
}

int StatsCommand(Env* env, const ClientOptions& c, double window_seconds, bool json) {
  Api api(env, c);
  dom::parser p;
  dom::element e;
  if (auto done = GetJson(api, fmt::format("/v1/stats?window={}", static_cast<uint64_t>(window_seconds)), json, p, &e)) return *done;
  std::string counts;
  for (const char* s : {"PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "REJECTED"})
    counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", s, Int(e, fmt::format("/jobs/{}", s).c_str(), 0));
  fmt::print("jobs: {}\n", counts);
  fmt::print("submitted: {} in all; {} in the last minute ({:.2f}/s), {} in 5 min, {} in 15 min\n", Int(e, "/submitted/total", 0),
             Int(e, "/submitted/last_60s", 0), Num(e, "/submit_rate_per_s/60s"), Int(e, "/submitted/last_300s", 0),
             Int(e, "/submitted/last_900s", 0));
  fmt::print("attempts: {}\n", Int(e, "/attempts", 0));
  for (const auto& [key, label] : {std::pair{"queue_wait_s", "queue wait"}, std::pair{"run_time_s", "run time"}}) {
    std::string base = std::string("/") + key;
    int64_t n = Int(e, (base + "/count").c_str(), 0);
    if (n == 0) fmt::print("{}: no samples\n", label);
    else
      fmt::print("{}: {} samples, p50 {:.3f} s, p90 {:.3f} s, p99 {:.3f} s, max {:.3f} s\n", label, n, Num(e, (base + "/p50").c_str()),
                 Num(e, (base + "/p90").c_str()), Num(e, (base + "/p99").c_str()), Num(e, (base + "/max").c_str()));
  }
  fmt::print("GPU-hours: {:.3f}\n", Num(e, "/gpu_hours"));
  if (window_seconds > 0) fmt::print("(durations over the last {} s)\n", window_seconds);
  return 0;
}

}  // namespace sluice::manager
