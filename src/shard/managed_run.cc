#include "shard/managed_run.h"

#include <filesystem>

#include <fmt/format.h>
#include <simdjson.h>

#include "core/error.h"
#include "core/json_writer.h"
#include "io/atomic_file.h"
#include "io/process.h"
#include "manager/client.h"
#include "manager/job_spec.h"

namespace sluice::shard {
namespace {

std::string ManagerFile(const std::string& dir) { return dir + "/manager.json"; }

manager::ClientOptions Client(const ShardOptions& opt, const std::optional<ManagedRun>& recorded) {
  manager::ClientOptions c;
  c.server = !opt.server.empty() || !recorded ? opt.server : recorded->server;
  c.token_file = opt.token_file;
  return c;
}

// The job's state as the manager reports it ("" when the manager does not know the job).
std::string JobState(Env* env, const manager::ClientOptions& c, int64_t id) {
  auto json = manager::FetchJobJson(env, c, std::to_string(id));
  if (!json) return "";
  simdjson::dom::parser p;
  std::string_view state;
  if (p.parse(*json)["state"].get(state)) Fail(ErrorKind::kInternal, "the job manager's answer for job {} has no state", id);
  return std::string(state);
}

}  // namespace

std::string ManagedRun::ToJson() const {
  JsonWriter w;
  w.BeginObject().Field("server", server).Field("array_id", array_id).Field("merge_id", merge_id);
  w.Key("shards").BeginArray();
  for (int s : shards) w.Int(s);
  w.EndArray().Field("submitted_at", submitted_at).EndObject();
  return w.Take() + "\n";
}

std::optional<ManagedRun> ReadManagedRun(Env* env, const std::string& dir) {
  std::string path = ManagerFile(dir);
  if (!env->FileExists(path)) return std::nullopt;
  std::string text = ReadFile(env, path);
  simdjson::dom::parser p;
  simdjson::dom::element root;
  ManagedRun r;
  std::string_view server;
  simdjson::dom::array shards;
  if (p.parse(text).get(root) || root["server"].get(server) || root["array_id"].get(r.array_id) ||
      root["merge_id"].get(r.merge_id) || root["shards"].get(shards) || root["submitted_at"].get(r.submitted_at))
    Fail(ErrorKind::kState, "{}: not a record of a job-manager submission (written by sluice shard --submit)", path);
  r.server = server;
  for (simdjson::dom::element e : shards) {
    int64_t v = 0;
    if (e.get(v)) Fail(ErrorKind::kState, "{}: shards must be integers", path);
    r.shards.push_back(static_cast<int>(v));
  }
  return r;
}

void CheckManagedRunOver(Env* env, const std::string& dir, const ShardOptions& opt) {
  auto run = ReadManagedRun(env, dir);
  if (!run) return;
  // The submission's own merge job is started by the manager only once the array has ended (its
  // dependency), and is itself the job still running; nor need the daemon's environment name the manager.
  if (run->merge_id > 0 && env->GetEnvVar("SLUICE_JOB_ID") == std::to_string(run->merge_id)) return;
  auto c = Client(opt, run);
  for (auto [what, id] : {std::pair{"array job", run->array_id}, std::pair{"merge job", run->merge_id}}) {
    if (id == 0) continue;
    std::string state;
    try {
      state = JobState(env, c, id);
    } catch (const Error& e) {
      Fail(ErrorKind::kState,
           "{} was submitted to the job manager{} as {} {}, and the manager cannot be asked whether it still runs ({}); start "
           "the manager (or name it with --server), or remove {} if those jobs are gone for good",
           dir, run->server.empty() ? "" : " at " + run->server, what, id, e.what(), ManagerFile(dir));
    }
    if (auto parsed = manager::ParseState(state); !state.empty() && !(parsed && manager::IsTerminal(*parsed)))
      Fail(ErrorKind::kState,
           "{} was submitted to the job manager as {} {}, which is still {}: wait for it (`sluice wait {}`) or cancel it "
           "(`sluice cancel {}`) before running this directory again",
           dir, what, id, state, id, id);
  }
}

ManagedRun SubmitManagedRun(Env* env, const std::string& dir, const ShardOptions& opt, const std::vector<int>& shards) {
  ManagedRun run;
  auto c = Client(opt, std::nullopt);
  run.server = manager::ServerAddress(env, c);  // the one asked, --server or $SLUICE_SERVER: later runs ask it again
  run.shards = shards;
  run.submitted_at = env->NowSeconds();
  std::string exe = SelfExecutablePath();
  std::string cwd = WorkingDirectory();
  std::string name = "shard " + std::filesystem::path(dir).filename().string();
  auto common = [&](manager::SubmitOptions& s) {
    s.cwd = cwd;  // the worker command's relative paths mean what they meant to the submitter
    if (auto path = env->GetEnvVar("PATH")) s.env.push_back("PATH=" + *path);  // and its commands are found the same way
  };
  if (!shards.empty()) {
    manager::SubmitOptions a;
    common(a);
    a.name = name;
    a.argv = {exe, "shard", "task", dir};
    for (int s : shards) a.array += (a.array.empty() ? "" : ",") + std::to_string(s);
    a.array += "%" + std::to_string(opt.max_parallel_workers);
    a.gpus = opt.gpus_per_worker;
    if (opt.gpus_per_worker > 0 && opt.min_gpu_memory_gib > 0) a.gpu_memory = fmt::format("{}GiB", opt.min_gpu_memory_gib);
    a.retries = opt.max_attempts - 1;
    a.backoff = fmt::format("{}s,x2,{}s", opt.retry_backoff_seconds, kMaxBackoffSeconds);
    a.kill_grace = fmt::format("{}s", opt.kill_grace_seconds + 5);  // the task stops its worker's group first
    auto reply = manager::SubmitJob(env, c, a);
    if (reply.state == "REJECTED") Fail(ErrorKind::kUsage, "the job manager rejected the shard array: {}", reply.reason);
    run.array_id = reply.id;
    WriteFileAtomic(env, ManagerFile(dir), run.ToJson());  // before anything else can fail: these tasks will run
  }
  if (!opt.no_merge) {
    manager::SubmitOptions m;
    common(m);
    m.name = name + " merge";
    m.argv = {exe, "shard", "merge", dir};
    if (opt.allow_partial) m.argv.push_back("--allow-partial");
    if (run.array_id) m.after = {fmt::format("{}:{}", opt.allow_partial ? "any" : "ok", run.array_id)};
    auto reply = manager::SubmitJob(env, c, m);
    if (reply.state == "REJECTED") Fail(ErrorKind::kUsage, "the job manager rejected the merge job: {}", reply.reason);
    run.merge_id = reply.id;
  }
  WriteFileAtomic(env, ManagerFile(dir), run.ToJson());
  return run;
}

}  // namespace sluice::shard
