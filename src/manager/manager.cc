#include "manager/manager.h"

#include <signal.h>

#include <charconv>
#include <cstring>

#include "core/error.h"
#include "core/json_writer.h"
#include "manager/pipeline.h"

namespace sluice::manager {
namespace {
// Bounds the deps rows one submit writes: an array's tasks each become a row of the deps table, and a
// dependent array's tasks each get all of them.
constexpr size_t kMaxDependencyRows = 100000;

std::string DescribeExit(const ExitStatus& s) {
  if (s.kind == ExitStatus::kSignaled) return fmt::format("killed by signal {} ({})", s.value, strsignal(s.value));
  return fmt::format("exit code {}", s.value);
}
}  // namespace

std::vector<GpuDevice> ServerGpus(Env* env, std::string* note) {
  std::vector<GpuDevice> out = InheritedGpus(env, note);
  std::erase_if(out, [](const GpuDevice& d) { return d.uuid.empty(); });  // assigned by UUID only
  if (out.empty() && note->empty()) *note = "NVML reports no GPU UUIDs";
  return out;
}

Manager::Manager(Env* env, Processes* procs, ManagerOptions opt) : env_(env), procs_(procs), opt_(std::move(opt)) {
  env_->CreateDirs(opt_.data_dir + "/jobs");
  lock_ = env_->LockFile(opt_.data_dir + "/server.lock", false);
  if (!lock_) Fail(ErrorKind::kState, "another sluice server is using {}", opt_.data_dir);
  store_ = std::make_unique<Store>(opt_.data_dir + "/state.db");
  for (const auto& [id, given] : store_->PipelineJobDirs()) {
    std::string dir = NormalJobDir(given);
    sluice_names_[SluiceJobId(dir)].try_emplace(dir, id);
  }
  rng_.seed(opt_.seed ? opt_.seed : std::random_device{}());
}

Manager::~Manager() { Stop(); }

void Manager::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    Reconcile();
    last_tick_ = env_->MonotonicSeconds();
  }
  thread_ = std::thread([this] { Loop(); });
}

void Manager::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Manager::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    try {
      l.unlock();
      RefreshGpuMemory();
      Tick();
      l.lock();
    } catch (const std::exception& e) {
      // A failed write (full disk) leaves the transition undone; the next tick retries it.
      fmt::print(stderr, "sluice server: supervisor: {}\n", e.what());
      if (!l.owns_lock()) l.lock();
    }
    cv_.wait_for(l, std::chrono::duration<double>(opt_.tick_seconds), [this] { return stop_ || wake_; });
    wake_ = false;
  }
}

// NVML's free memory of the server's GPUs, re-read at most every 10 s while a pending job asks for a minimum
// (a probe loads NVML, so it runs without the lock). Devices keep their identity; only memory_free moves.
void Manager::RefreshGpuMemory() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!gpu_memory_wanted_ || env_->MonotonicSeconds() - gpu_probed_at_ < 10) return;
    gpu_probed_at_ = env_->MonotonicSeconds();
  }
  GpuInventory inv = env_->ListGpus();
  std::lock_guard<std::mutex> l(mu_);
  for (auto& d : opt_.capacity.gpus)
    for (const auto& p : inv.devices)
      if (p.uuid == d.uuid) d.memory_free = p.memory_free;
}

std::vector<Holding> Manager::Holdings(std::vector<int64_t>* ids) {
  std::vector<Holding> out;
  for (const auto& [id, a] : active_) {
    if (!a.run) continue;
    double limit = a.spec.run_timeout > 0 ? a.spec.run_timeout + a.spec.kill_grace : 0;
    out.push_back({a.spec.resources, a.run->gpus, limit > 0 ? a.run->started_at + limit : 0, a.run->cpus});
    if (ids) ids->push_back(id);
  }
  return out;
}

void Manager::SetExportPath(Active& a, const std::string& tmpl) {
  int64_t id = a.row.id;
  a.export_path = PipelineExport(tmpl, a.spec.cwd.empty() ? JobFilesDir(id) : a.spec.cwd, PipelineJobDir(env_, a.spec, opt_.data_dir, id));
}

std::string Manager::ExportTemplate(const PipelineSpec& p) {
  if (opt_.on_recipe_read) opt_.on_recipe_read(p.recipe);
  return PipelineExportPath(p);
}

std::string Manager::RetryExportTemplate(int64_t id) {
  std::optional<JobRow> row;
  {
    std::lock_guard<std::mutex> l(mu_);
    row = store_->GetJob(id);
  }
  if (!row) return "";
  JobSpec spec = ParseJobSpec(row->spec_json, SpecSource::kStored);  // immutable: the same when the retry applies
  return spec.kind == "pipeline" ? ExportTemplate(spec.pipeline) : "";
}

std::string Manager::JobFilesDir(int64_t id) const { return fmt::format("{}/jobs/{}", opt_.data_dir, id); }

std::string Manager::AttemptFile(int64_t id, int n, const char* ext) const {
  return fmt::format("{}/attempt-{}.{}", JobFilesDir(id), n, ext);
}

void Manager::Reconcile() {
  double now = env_->NowSeconds();
  std::map<std::string, std::string> exports;  // by spec: an array's tasks load their recipe once
  for (JobRow& row : store_->ActiveJobs()) {
    Active a;
    a.spec = ParseJobSpec(row.spec_json, SpecSource::kStored);
    a.deps = store_->Deps(row.id);
    a.row = std::move(row);
    if (a.spec.kind == "pipeline") {
      auto [e, fresh] = exports.try_emplace(a.row.spec_json);
      if (fresh) e->second = ExportTemplate(a.spec.pipeline);
      SetExportPath(a, e->second);
    }
    int64_t id = a.row.id;
    auto& slot = active_[id] = std::move(a);
    if (slot.row.state == State::kSubmitted) {  // cannot happen (Submit is one transaction); be total anyway
      store_->SetState(id, State::kPending, "", now);
      slot.row.state = State::kPending;
    }
    if (slot.row.state != State::kRunning) continue;
    auto attempts = store_->Attempts(id);
    if (attempts.empty() || attempts.back().state == "LAUNCHING") {
      // The wrapper (if it was forked at all) saw the go pipe close and ran nothing.
      const std::string reason = "daemon restarted before the attempt started";
      if (!attempts.empty()) store_->DropAttempt(id, attempts.back().n, reason, now);
      if (!attempts.empty() && opt_.limits) opt_.limits->Release(id, attempts.back().n);
      else store_->SetState(id, State::kPending, reason, now);
      slot.row = *store_->GetJob(id);
      continue;
    }
    const AttemptRow& at = attempts.back();
    Running r;
    r.n = at.n;
    r.id = {at.pid, at.start_ticks, at.boot_id};
    r.own_child = false;
    r.started_at = at.started_at;
    r.kill_reason = at.kill_reason;
    r.kill_sent_at = at.kill_sent_at;
    r.gpus = at.gpus;  // a re-adopted job keeps its GPUs and CPUs
    r.cpus = at.cpus;
    slot.run = r;
    if (!procs_->Alive(r.id)) Finish(slot, ReadStatusFile(AttemptFile(id, at.n, "status"), at.pid), now);
  }
  for (auto it = active_.begin(); it != active_.end();)
    it = IsTerminal(it->second.row.state) ? active_.erase(it) : std::next(it);
}

// A submit waiting in the group commit queue; `done` once its fate is durable (or it failed).
struct Manager::QueuedSubmit {
  const JobSpec* spec = nullptr;
  std::vector<int64_t> indices;  // an array's
  std::string why;  // non-empty: REJECTED
  std::string export_path;  // a pipeline's (CheckPipeline)
  SubmitResult result;
  std::exception_ptr error;
  bool done = false;
};

// Group commit: each caller queues its submit; whoever finds no commit in progress takes the whole queue
// and writes it in one transaction (one fsync), then answers everyone in it. A caller returns only after
// the commit that holds its job, so what a client is told is durable; under load one fsync serves many.
SubmitResult Manager::Submit(const JobSpec& spec) {
  QueuedSubmit q;
  q.spec = &spec;
  JobSpec with_np;  // a pipeline that declares no cpus asks for its recipe's np: it is pinned to that many
  if (spec.kind == "pipeline") {
    PipelineCheck c = CheckPipeline(spec.pipeline);  // reads files: not under a lock
    q.why = c.error;
    q.export_path = c.export_path;
    if (c.np > 0 && !spec.resources.cpus_given) {
      with_np = spec;
      with_np.resources.cpus = c.np;
      q.spec = &with_np;
    }
    // The tasks would each write the whole export to one path, one after another (admission runs one
    // writer of an export at a time): pointless, and each would replace the last one's export.
    if (q.why.empty() && spec.array.count > 1 && c.export_path.find("{job_id}") == std::string::npos &&
        c.export_path.find("{work_dir}") == std::string::npos)
      q.why = fmt::format("every task of the pipeline array would write the same export '{}': put {{job_id}} or {{work_dir}} in the "
                          "recipe's export_path (or override it) to give each task its own", c.export_path);
  }
  if (q.why.empty()) q.why = ExceedsMachine(q.spec->resources, opt_.capacity);
  if (spec.array.count > 0) {
    ArrayInfo info;
    q.indices = ParseArraySpec(spec.array.spec, &info);
  }
  std::unique_lock<std::mutex> l(submit_mu_);
  submit_queue_.push_back(&q);
  while (!q.done) {
    if (committing_) {
      submit_cv_.wait(l);
      continue;
    }
    committing_ = true;
    std::vector<QueuedSubmit*> batch;
    batch.swap(submit_queue_);
    l.unlock();
    try {
      CommitSubmits(batch);
    } catch (...) {  // after its commit (reading a job back failed): the next leader must still come
      for (QueuedSubmit* b : batch) {
        if (b->done) continue;
        b->error = std::current_exception();
        b->done = true;
      }
    }
    l.lock();
    committing_ = false;
    submit_cv_.notify_all();
  }
  if (q.error) std::rethrow_exception(q.error);
  return q.result;
}

// A pipeline job's sluice job id is its job directory's basename (SluiceJobId), and it names what the sluice
// job writes outside that directory: the export's journal <export>.<id>.partial, {job_id} in the recipe's
// paths, and its directories under the recipe's checkpoint_dir and event_log_dir. Two directories of one
// name would share those, so a second one is refused; the same directory again is the same sluice job (a
// resubmit resumes it). Default directories are named after their job (sluice-TAG-job<id>): an explicit one
// of that form is refused unless it is that existing job's own.
void Manager::CheckSluiceJobId(const std::string& dir, const SluiceNames& pending) {
  std::string name = SluiceJobId(dir);
  std::string reserved = fmt::format("sluice-{}-job", DataDirTag(opt_.data_dir));
  if (name.starts_with(reserved)) {
    int64_t job = 0;
    std::string_view digits = std::string_view(name).substr(reserved.size());
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), job);
    if (ec == std::errc() && end == digits.data() + digits.size()) {
      if (dir == NormalJobDir(fmt::format("{}/jobs/{}/{}", opt_.data_dir, job, name)) && store_->GetJob(job)) return;
      Fail(ErrorKind::kUsage, "pipeline.job_dir {}: '{}' is the sluice job id of job {}'s default job directory: give the directory another name",
           dir, name, job);
    }
  }
  for (const SluiceNames* names : std::initializer_list<const SluiceNames*>{&sluice_names_, &pending}) {
    auto it = names->find(name);
    if (it == names->end() || it->second.count(dir)) continue;
    const auto& [other, job] = *it->second.begin();
    Fail(ErrorKind::kUsage,
         "pipeline.job_dir {}: job {}'s directory {} has the same name '{}', which would be the sluice job id of both (it names the "
         "export's journal, {{job_id}} and the recipe's checkpoint and event log directories): give the directory another name, or {} "
         "itself to resume that sluice job",
         dir, job, other, name, other);
  }
}

void Manager::CommitSubmits(const std::vector<QueuedSubmit*>& batch) {
  std::unique_lock<std::mutex> l(mu_);
  double now = env_->NowSeconds();
  std::vector<QueuedSubmit*> ok;
  SluiceNames names;  // taken by this batch: sluice_names_ once it has committed
  try {
    Store::Txn t(store_.get());
    for (QueuedSubmit* q : batch) {
      std::vector<Dependency> deps;
      const std::string dir = q->spec->pipeline.job_dir.empty() ? "" : NormalJobDir(q->spec->pipeline.job_dir);
      try {
        if (!dir.empty()) CheckSluiceJobId(dir, names);
        deps = ResolveDeps(q->spec->depends_on);
        // Each task of a dependent array gets every dependency row (and an in-memory copy): the bound is on
        // the product, or a 10,000-task array after another would write 10^8 rows.
        if (size_t tasks = std::max<size_t>(1, q->indices.size()); deps.size() * tasks > kMaxDependencyRows)
          Fail(ErrorKind::kUsage, "depends_on: {} dependencies for each of {} array tasks make {} dependency rows, more than {}",
               deps.size(), tasks, deps.size() * tasks, kMaxDependencyRows);
      } catch (...) {
        q->error = std::current_exception();
        continue;
      }
      State state = q->why.empty() ? State::kPending : State::kRejected;
      if (q->indices.empty()) {
        q->result = {store_->Submit(*q->spec, state, q->why, now, deps), state, q->why, {}};
        if (!dir.empty() && state == State::kPending) names[SluiceJobId(dir)].try_emplace(dir, q->result.id);
      } else {
        std::vector<int64_t> ids = store_->SubmitArray(*q->spec, q->indices, state, q->why, now, deps);
        q->result = {ids.front(), state, q->why, std::move(ids)};
      }
      ok.push_back(q);
    }
    t.Commit();
  } catch (...) {
    for (QueuedSubmit* q : batch)  // nothing of the batch was committed
      if (!q->error) q->error = std::current_exception();
    ok.clear();
  }
  if (!ok.empty())
    for (const auto& [name, dirs] : names) sluice_names_[name].insert(dirs.begin(), dirs.end());
  for (QueuedSubmit* q : ok) {
    if (q->result.state != State::kPending) continue;
    // The rows as stored: what a restarted daemon will see, exactly (an array's in one query).
    std::vector<JobRow> rows = q->result.task_ids.empty() ? std::vector<JobRow>{*store_->GetJob(q->result.id)} : store_->ArrayTasks(q->result.id);
    JobSpec spec = ParseJobSpec(rows.front().spec_json, SpecSource::kStored);
    std::vector<Dependency> deps = store_->Deps(rows.front().id);
    for (JobRow& row : rows) {
      Active a;
      a.spec = spec;
      a.deps = deps;
      int64_t id = row.id;
      a.row = std::move(row);
      if (spec.kind == "pipeline") SetExportPath(a, q->export_path);
      active_[id] = std::move(a);
    }
    wake_ = true;
  }
  for (QueuedSubmit* q : batch) q->done = true;
  l.unlock();
  cv_.notify_all();
}

std::vector<Dependency> Manager::ResolveDeps(const std::vector<Dependency>& given) {
  std::vector<Dependency> out;
  for (const auto& d : given) {
    JobRef ref{d.job, d.index};
    Resolved r = ResolveLocked(ref);
    if (r.kind == Resolved::kNone) Fail(ErrorKind::kUsage, "depends_on: job {} does not exist", ref.ToString());
    if (r.kind == Resolved::kJob) {
      out.push_back({r.id, d.condition});
    } else {
      for (int64_t task : store_->ArrayTaskIds(r.id)) out.push_back({task, d.condition});
    }
    if (out.size() > kMaxDependencyRows)
      Fail(ErrorKind::kUsage, "depends_on: more than {} dependencies once arrays are counted task by task", kMaxDependencyRows);
  }
  return out;
}

Resolved Manager::Resolve(const JobRef& ref) {
  std::lock_guard<std::mutex> l(mu_);
  return ResolveLocked(ref);
}

Resolved Manager::ResolveLocked(const JobRef& ref) {
  std::optional<JobRow> row = ref.index >= 0 ? store_->ArrayTask(ref.id, ref.index) : store_->GetJob(ref.id);
  if (!row) return {};
  if (ref.index < 0 && row->array_id == row->id) return {Resolved::kArray, row->id, store_->ArraySize(row->id)};
  return {Resolved::kJob, row->id, 0};
}

Manager::Step Manager::Plan(Verb verb, int64_t id, double now, const std::string& export_template) {
  auto refuse = [](auto status, std::string why) { return Step{{status, std::move(why)}, false, nullptr}; };
  auto it = active_.find(id);
  if (verb == Verb::kRetry) {
    if (it != active_.end()) return refuse(ActionResult::kConflict, "the job has not ended (cancel it first, or wait)");
    auto row = store_->GetJob(id);
    if (!row) return refuse(ActionResult::kNotFound, "no such job");
    if (row->state != State::kFailed && row->state != State::kCancelled)
      return refuse(ActionResult::kConflict, fmt::format("only a FAILED or CANCELLED job can be retried; this one is {}", StateName(row->state)));
    store_->Requeue(id, "retried by request", now);
    return {{}, false, [this, id, &export_template] {
              Active a;
              a.row = *store_->GetJob(id);
              a.spec = ParseJobSpec(a.row.spec_json, SpecSource::kStored);
              a.deps = store_->Deps(id);
              if (a.spec.kind == "pipeline") SetExportPath(a, export_template);
              active_[id] = std::move(a);
              finished_.erase(id);  // no longer terminal
            }};
  }
  if (it == active_.end()) {
    if (!store_->GetJob(id)) return refuse(ActionResult::kNotFound, "no such job");
    return refuse(ActionResult::kConflict, verb == Verb::kRelease ? "the job is not held" : "the job has already ended");
  }
  Active& a = it->second;
  switch (verb) {
    case Verb::kCancel:
      if (!a.run) {
        store_->SetState(id, State::kCancelled, "cancelled by request", now);
        return {{}, false, [this, id] {
                  finished_[id] = {State::kCancelled, active_.at(id).row.attempts > 0};
                  active_.erase(id);
                  ++jobs_ended_;
                }};
      }
      // Running: durable intent first; the supervisor signals (and re-signals after a restart) from it.
      store_->SetCancelRequested(id);
      return {{}, true, [&a] { a.row.cancel_requested = true; }};
    case Verb::kHold: {
      if (a.row.state != State::kPending) return refuse(ActionResult::kConflict, "only a PENDING job can be held; this one is RUNNING");
      if (a.row.held) return refuse(ActionResult::kConflict, "the job is already held");
      const std::string reason = "held by request";
      store_->SetHeld(id, true, reason, now);
      return {{}, false, [&a, reason] {
                a.row.held = true;
                a.row.reason = reason;
              }};
    }
    case Verb::kRelease: {
      if (!a.row.held) return refuse(ActionResult::kConflict, "the job is not held");
      const std::string reason = "released by request";
      store_->SetHeld(id, false, reason, now);
      return {{}, false, [&a, reason, now] {
                a.row.held = false;
                a.row.reason = reason;
                a.row.queued_at = now;
              }};
    }
    case Verb::kRetry: break;  // handled above
  }
  return refuse(ActionResult::kConflict, "unknown action");
}

ActionResult Manager::Act(Verb verb, int64_t id, bool* stopping) {
  const std::string export_template = verb == Verb::kRetry ? RetryExportTemplate(id) : "";
  std::unique_lock<std::mutex> l(mu_);
  Store::Txn t(store_.get());
  Step step = Plan(verb, id, env_->NowSeconds(), export_template);
  if (!step.apply) return step.result;
  t.Commit();
  step.apply();
  if (stopping) *stopping = step.stopping;
  wake_ = true;
  l.unlock();
  cv_.notify_all();
  return {};
}

ArrayActionResult Manager::ArrayAction(Verb verb, int64_t array_id) {
  const std::string export_template = verb == Verb::kRetry ? RetryExportTemplate(array_id) : "";  // every task's
  std::unique_lock<std::mutex> l(mu_);
  ArrayActionResult out;
  double now = env_->NowSeconds();
  std::vector<Step> steps;
  Store::Txn t(store_.get());
  for (int64_t task : store_->ArrayTaskIds(array_id)) {
    ++out.tasks;
    Step step = Plan(verb, task, now, export_template);
    if (!step.apply) continue;  // a task in a state the action does not apply to
    ++out.applied;
    out.stopping += step.stopping;
    steps.push_back(std::move(step));
  }
  t.Commit();
  for (Step& step : steps) step.apply();
  wake_ = true;
  l.unlock();
  cv_.notify_all();
  return out;
}

CancelResult Manager::Cancel(int64_t id) {
  bool stopping = false;
  ActionResult r = Act(Verb::kCancel, id, &stopping);
  if (r.status == ActionResult::kNotFound) return CancelResult::kNotFound;
  if (r.status == ActionResult::kConflict) return CancelResult::kAlreadyTerminal;
  return stopping ? CancelResult::kCancelling : CancelResult::kCancelled;
}

ActionResult Manager::Hold(int64_t id) { return Act(Verb::kHold, id); }
ActionResult Manager::Release(int64_t id) { return Act(Verb::kRelease, id); }
ActionResult Manager::Retry(int64_t id) { return Act(Verb::kRetry, id); }

ResourceUse Manager::Usage() {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<int64_t> ids;
  std::vector<Holding> h = Holdings(&ids);
  ResourceUse u{opt_.capacity, InUse(h), {}};
  for (size_t i = 0; i < h.size(); ++i)
    for (const auto& g : h[i].gpus) u.gpu_holder[g] = ids[i];
  return u;
}

std::optional<DepState> Manager::DependencyState(int64_t dep_id) {
  auto a = active_.find(dep_id);
  if (a != active_.end()) return DepState{a->second.row.state, a->second.row.attempts > 0};
  auto f = finished_.find(dep_id);
  if (f != finished_.end()) return f->second;
  auto row = store_->GetJob(dep_id);
  if (!row) return std::nullopt;
  DepState s{row->state, row->attempts > 0};
  if (IsTerminal(s.state)) finished_[dep_id] = s;
  return s;
}

void Manager::Tick() {
  std::lock_guard<std::mutex> l(mu_);
  double now = env_->NowSeconds();
  last_tick_ = env_->MonotonicSeconds();
  std::vector<int64_t> ended;
  // 1. Running attempts: ended ones, requested cancels, timeouts, SIGKILL after the grace period.
  for (auto& [id, a] : active_) {
    if (!a.run) continue;
    Running& r = *a.run;
    std::optional<ExitStatus> reaped;
    bool done = false;
    if (r.own_child) {
      reaped = procs_->Reap(r.id.pid);
      done = reaped.has_value();
    }
    if (!done && !procs_->Alive(r.id)) {
      if (r.own_child) reaped = procs_->Reap(r.id.pid);  // exited between the two checks
      done = true;
    }
    if (done) {
      // The wrapper's file is exact; the reaped status is the wrapper's own (it dies with SIGKILL too).
      std::optional<ExitStatus> status = ReadStatusFile(AttemptFile(id, r.n, "status"), r.id.pid);
      if (!status && reaped) status = reaped;
      Finish(a, status, now);
      continue;
    }
    std::string want;
    if (a.row.cancel_requested) want = "cancel";
    else if (a.spec.run_timeout > 0 && now - r.started_at >= a.spec.run_timeout) want = "timeout";
    if (!want.empty() && r.kill_reason.empty()) {
      store_->RecordKill(id, r.n, want, now);
      r.kill_reason = want;
      r.kill_sent_at = now;
      procs_->SignalGroup(r.id, SIGTERM);
    } else if (!r.kill_reason.empty() && !r.sigkill_sent && now - r.kill_sent_at >= a.spec.kill_grace) {
      procs_->SignalGroup(r.id, SIGKILL);
      r.sigkill_sent = true;
    }
  }
  // 2. Pending jobs: dependencies, backoff, then admission. Their reason updates and cancels share one
  // commit (they are acted on only in memory); each launch commits on its own before its process exists.
  std::vector<Candidate> candidates;
  std::vector<int64_t> touched;  // rows changed in memory ahead of the commit
  // If the commit does not happen (a write fails), memory follows what is durable again. Declared before
  // the transaction, so it runs after the rollback.
  struct Undo {
    Manager* m;
    const std::vector<int64_t>& ids;
    bool committed = false;
    ~Undo() {
      if (committed) return;
      for (int64_t id : ids) {
        try {
          if (auto row = m->store_->GetJob(id)) m->active_.at(id).row = *row;
        } catch (const std::exception&) {
          // unreadable too: the next tick (or a restart's reconcile) starts from the database
        }
      }
    }
  } undo{this, touched};
  Store::Txn pending_txn(store_.get());
  gpu_memory_wanted_ = false;
  // Tasks of each array running or made candidates this tick, against its %M limit.
  std::map<int64_t, int64_t> array_taken;
  // Each export is written by one pipeline job at a time (the running one, else the first candidate): two at
  // once would each rename a whole export onto the path, and which one is left there would be chance.
  std::map<std::string, int64_t> export_taken;
  for (const auto& [id, a] : active_) {
    if (a.run && a.spec.array.max_running > 0) ++array_taken[a.row.array_id];
    if (a.run && !a.export_path.empty()) export_taken.emplace(a.export_path, id);
  }
  for (auto& [id, a] : active_) {
    if (a.row.state != State::kPending) continue;
    if (a.spec.queue_timeout > 0 && !a.row.held && now - std::max(a.row.queued_at, a.row.not_before) >= a.spec.queue_timeout) {
      std::string why = fmt::format("queue timeout: pending longer than {} s", a.spec.queue_timeout);
      store_->SetState(id, State::kCancelled, why, now);
      touched.push_back(id);
      a.row.state = State::kCancelled;
      a.row.reason = why;
      ++jobs_ended_;
      ended.push_back(id);
      continue;
    }
    if (a.row.held) continue;  // its reason says "held"
    std::string reason;
    bool never = false;
    // A dependency can only become unsatisfiable when a job ends: unless one has since this job's last full
    // scan found none, the scan stops at the first dependency still waiting (an array's thousands of task
    // rows are not all looked at every tick).
    bool full = a.deps_scanned_at != jobs_ended_;
    for (const auto& d : a.deps) {
      auto ds = DependencyState(d.job);
      DepVerdict v = ds ? EvaluateDependency(d.condition, *ds) : DepVerdict::kNeverSatisfied;
      if (v == DepVerdict::kNeverSatisfied) {
        reason = fmt::format("dependency {} {} can never be satisfied: job {} is {}", DepConditionName(d.condition), d.job, d.job,
                             ds ? StateName(ds->state) : "gone");
        never = true;
        break;
      }
      if (v == DepVerdict::kWaiting && reason.empty()) {
        reason = fmt::format("waiting for dependency {} {}", DepConditionName(d.condition), d.job);
        if (!full) break;
      }
    }
    a.deps_scanned_at = jobs_ended_;
    if (never) {
      store_->SetState(id, State::kCancelled, reason, now);
      touched.push_back(id);
      a.row.state = State::kCancelled;
      ++jobs_ended_;
      ended.push_back(id);
      continue;
    }
    if (reason.empty() && a.row.not_before > now) reason = a.row.reason;  // keeps the backoff text
    // A job accepted by a daemon with more capacity (restarted with less) must not take the reservation
    // and block every job behind it: it waits, saying why, until a restart gives the capacity back.
    if (std::string why = reason.empty() ? ExceedsMachine(a.spec.resources, opt_.capacity) : ""; !why.empty())
      reason = "exceeds this server's capacity: " + why;
    if (int64_t m = a.spec.array.max_running; reason.empty() && m > 0) {
      // The limit counts the tasks ahead of this one that are candidates too: Admit may start them all.
      if (int64_t& taken = array_taken[a.row.array_id]; taken < m) ++taken;
      else reason = fmt::format("array {}: {} of {} tasks running or next to start (%{})", a.row.array_id, taken, m, m);
    }
    if (reason.empty() && !a.export_path.empty()) {
      auto [e, mine] = export_taken.emplace(a.export_path, id);
      if (!mine) reason = fmt::format("waiting for job {}, which writes the same export {}", e->second, a.export_path);
    }
    if (reason.empty()) {
      double limit = a.spec.run_timeout > 0 ? a.spec.run_timeout + a.spec.kill_grace : 0;
      candidates.push_back({id, a.spec.priority, a.spec.resources, limit});
      gpu_memory_wanted_ |= a.spec.resources.gpus > 0 && a.spec.resources.gpu_memory > 0;
      reason = "waiting for resources";
    }
    if (reason != a.row.reason) {
      store_->SetReason(id, reason);
      touched.push_back(id);
      a.row.reason = reason;
    }
  }
  pending_txn.Commit();
  undo.committed = true;
  for (Admission& ad : Admit(candidates, opt_.capacity, Holdings(), now)) Launch(active_.at(ad.id), std::move(ad.gpus), now);
  for (auto& [id, a] : active_)
    if (IsTerminal(a.row.state)) ended.push_back(id);
  for (int64_t id : ended) {
    auto it = active_.find(id);
    if (it == active_.end()) continue;
    finished_[id] = {it->second.row.state, it->second.row.attempts > 0};
    active_.erase(it);
  }
}

void Manager::Launch(Active& a, std::vector<std::string> gpus, double now) {
  int64_t id = a.row.id;
  std::vector<int> cpus = opt_.limits ? PickCpus(opt_.limits->cpus(), Holdings(), a.spec.resources.cpus) : std::vector<int>{};
  int n = store_->BeginAttempt(id, now, gpus, cpus);  // RUNNING, its GPUs and CPUs, durable before any process exists
  a.row.state = State::kRunning;
  a.row.attempts = n;
  a.row.reason.clear();
  Running r;
  r.n = n;
  r.started_at = now;
  r.gpus = gpus;
  r.cpus = cpus;
  a.run = r;
  std::string dir = JobFilesDir(id);
  LaunchRequest req;
  req.argv = a.spec.kind == "pipeline" ? PipelineArgv(a.spec, PipelineJobDir(env_, a.spec, opt_.data_dir, id), opt_.sluice_exe) : a.spec.argv;
  req.cwd = a.spec.cwd.empty() ? dir : a.spec.cwd;
  req.env = a.spec.env;
  req.env["SLUICE_JOB_ID"] = std::to_string(id);
  req.env["SLUICE_ATTEMPT"] = std::to_string(n);
  if (a.row.array_id > 0) {
    req.env["SLUICE_ARRAY_JOB_ID"] = std::to_string(a.row.array_id);
    req.env["SLUICE_ARRAY_TASK_ID"] = std::to_string(a.row.array_index);
    req.env["SLUICE_ARRAY_TASK_COUNT"] = std::to_string(a.spec.array.count);
    req.env["SLUICE_ARRAY_TASK_MIN"] = std::to_string(a.spec.array.min);
    req.env["SLUICE_ARRAY_TASK_MAX"] = std::to_string(a.spec.array.max);
  }
  // Its GPUs by UUID, which names one device whatever the numbering; PCI bus order makes the indices CUDA
  // shows the job match nvidia-smi's. A job that asked for none sees none while the server manages GPUs.
  if (!gpus.empty() || !opt_.capacity.gpus.empty()) {
    std::string mask;
    for (const auto& g : gpus) mask += (mask.empty() ? "" : ",") + g;
    req.env["CUDA_VISIBLE_DEVICES"] = mask;
    req.env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID";
  }
  req.stdout_path = AttemptFile(id, n, "stdout");
  req.stderr_path = AttemptFile(id, n, "stderr");
  req.status_path = AttemptFile(id, n, "status");
  int go_fd = -1;
  try {
    env_->CreateDirs(dir);
    env_->RemoveFile(req.status_path);
    a.run->id = procs_->Spawn(req, &go_fd);
  } catch (const Error& e) {
    // Nothing ran: record it as a failed attempt (a full disk or fork failure), retried like one.
    a.run->id = {};
    Finish(a, ExitStatus{ExitStatus::kExited, 126}, now);
    store_->SetReason(id, fmt::format("{} (launch failed: {})", a.row.reason, e.what()));
    a.row.reason = fmt::format("{} (launch failed: {})", a.row.reason, e.what());
    return;
  }
  store_->RecordLaunch(id, n, a.run->id.pid, a.run->id.start_ticks, a.run->id.boot_id);
  try {
    if (opt_.limits && opt_.limits->memory() && a.spec.resources.memory > 0)
      opt_.limits->Confine(id, n, a.spec.resources.memory, a.run->id.pid);
    if (!cpus.empty()) opt_.limits->Pin(a.run->id.pid, cpus);
  } catch (const Error& e) {
    // Unbound it must not run: the held wrapper is killed; the attempt ends as a failed launch.
    a.run->launch_error = fmt::format("launch failed: cannot apply its limits: {}", e.what());
    procs_->SignalGroup(a.run->id, SIGKILL);
  }
  procs_->Release(go_fd);
}

void Manager::Finish(Active& a, std::optional<ExitStatus> status, double now) {
  int64_t id = a.row.id;
  Running r = *a.run;
  a.run.reset();
  bool oom = opt_.limits && a.spec.resources.memory > 0 && opt_.limits->Release(id, r.n);
  if (status && status->kind == ExitStatus::kNotStarted) {
    store_->DropAttempt(id, r.n, "daemon restarted before the attempt started", now);
    a.row = *store_->GetJob(id);
    return;
  }
  std::optional<int> exit_code, sig;
  if (status && status->kind == ExitStatus::kExited) exit_code = status->value;
  if (status && status->kind == ExitStatus::kSignaled) sig = status->value;
  Outcome o;
  std::string what;
  if (r.kill_reason == "cancel") {
    o = Outcome::kCancelled;
    what = "cancelled by request";
  } else if (r.kill_reason == "timeout") {
    o = Outcome::kTimeout;
    what = fmt::format("timeout: ran longer than {} s", a.spec.run_timeout);
  } else if (!r.launch_error.empty()) {
    o = Outcome::kFailed;
    what = r.launch_error;
  } else if (oom && exit_code != 0) {  // a subprocess killed while the command itself succeeded is no OOM of the job
    o = Outcome::kOom;
    what = fmt::format("OOM: killed by the kernel at its memory limit of {} bytes{}", a.spec.resources.memory,
                       status ? " (" + DescribeExit(*status) + ")" : "");
  } else if (!status) {
    o = Outcome::kLost;
    what = "lost: the process vanished without an exit status";
  } else if (exit_code == 0) {
    o = Outcome::kCompleted;
    what = "exit code 0";
  } else {
    o = Outcome::kFailed;
    what = DescribeExit(*status);
  }
  State next;
  std::string reason = what;
  double not_before = 0;
  if (o == Outcome::kCompleted) {
    next = State::kCompleted;
  } else if (o == Outcome::kCancelled) {
    next = State::kCancelled;
  } else if (int k = r.n - a.row.retry_base; ShouldRetry(a.spec.retry, k, o, exit_code)) {
    double delay = BackoffSeconds(a.spec.retry, k, std::uniform_real_distribution<double>(0, 1)(rng_));
    next = State::kPending;
    not_before = now + delay;
    reason = fmt::format("backoff {:.3g} s before attempt {} of {} (attempt {}: {})", delay, k + 1, a.spec.retry.max_attempts, k, what);
  } else {
    next = State::kFailed;
    if (a.spec.retry.max_attempts > 1) reason = fmt::format("{} (attempt {} of {})", what, k, a.spec.retry.max_attempts);
  }
  store_->EndAttempt(id, r.n, OutcomeName(o), exit_code, sig, next, reason, not_before, now);
  if (IsTerminal(next)) ++jobs_ended_;
  a.row.state = next;
  a.row.reason = reason;
  a.row.not_before = not_before;
  if (next == State::kPending) a.row.queued_at = now;
  a.row.exit_code = exit_code;
  a.row.signal = sig;
}

std::optional<JobRow> Manager::GetJob(int64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  return store_->GetJob(id);
}

namespace {
void WriteJob(JsonWriter& w, const JobRow& j) {
  w.Field("id", j.id).Field("name", j.name).Field("state", StateName(j.state)).Field("reason", j.reason)
      .Field("priority", j.priority).Field("submitted_at", j.submitted_at).Field("updated_at", j.updated_at)
      .Field("attempts", j.attempts);
  if (j.not_before > 0 && j.state == State::kPending) w.Field("not_before", j.not_before);
  if (j.exit_code) w.Field("exit_code", *j.exit_code);
  if (j.signal) w.Field("signal", *j.signal);
  if (j.cancel_requested) w.Field("cancel_requested", true);
  if (j.held) w.Field("held", true);
  if (j.array_id > 0) w.Field("array_id", j.array_id).Field("array_index", j.array_index);
}
}  // namespace

std::optional<std::string> Manager::JobJson(int64_t id) {
  std::unique_lock<std::mutex> l(mu_);
  auto j = store_->GetJob(id);
  if (!j) return std::nullopt;
  JsonWriter w;
  w.BeginObject();
  WriteJob(w, *j);
  JobSpec spec = ParseJobSpec(j->spec_json, SpecSource::kStored);
  w.Key("spec").Raw(j->spec_json);
  w.Key("dependencies").BeginArray();
  for (const auto& d : store_->Deps(id)) {
    auto s = DependencyState(d.job);
    w.BeginObject().Field("job", d.job).Field("condition", DepConditionName(d.condition)).Field("state", s ? StateName(s->state) : "gone").EndObject();
  }
  w.EndArray().Key("attempts_detail").BeginArray();
  for (const auto& a : store_->Attempts(id)) {
    w.BeginObject().Field("n", a.n).Field("state", a.state).Field("pid", a.pid).Field("started_at", a.started_at);
    if (a.ended_at > 0) w.Field("ended_at", a.ended_at);
    if (!a.outcome.empty()) w.Field("outcome", a.outcome);
    if (a.exit_code) w.Field("exit_code", *a.exit_code);
    if (a.signal) w.Field("signal", *a.signal);
    if (!a.kill_reason.empty()) w.Field("kill_reason", a.kill_reason);
    if (!a.gpus.empty()) {
      w.Key("gpus").BeginArray();
      for (const auto& g : a.gpus) w.String(g);
      w.EndArray();
    }
    if (!a.cpus.empty()) {
      w.Key("cpus").BeginArray();
      for (int c : a.cpus) w.Int(c);
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  l.unlock();  // the snapshot reads the sluice job's files
  if (spec.kind == "pipeline") {
    w.Key("pipeline").BeginObject().Field("recipe", spec.pipeline.recipe);
    WritePipelineStatus(env_, PipelineJobDir(env_, spec, opt_.data_dir, id), w);
    w.EndObject();
  }
  w.EndObject();
  return w.Take();
}

std::optional<std::string> Manager::ArrayJson(int64_t array_id) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<JobRow> tasks = store_->ArrayTasks(array_id);
  if (tasks.empty()) return std::nullopt;
  const JobRow& first = tasks.front();
  JobSpec spec = ParseJobSpec(first.spec_json, SpecSource::kStored);
  std::map<State, int64_t> counts;
  for (const JobRow& t : tasks) ++counts[t.state];
  JsonWriter w;
  w.BeginObject().Field("id", array_id).Field("name", first.name).Field("state", StateName(AggregateState(counts)))
      .Field("priority", first.priority).Field("submitted_at", first.submitted_at);
  w.Key("array").BeginObject().Field("id", array_id).Field("size", static_cast<int64_t>(tasks.size()))
      .Field("max_running", spec.array.max_running).Field("spec", spec.array.spec);
  w.Key("states").BeginObject();
  for (const auto& [state, n] : counts) w.Field(StateName(state), n);
  w.EndObject().Key("tasks").BeginArray();
  for (const JobRow& t : tasks) {
    w.BeginObject().Field("index", t.array_index).Field("id", t.id).Field("state", StateName(t.state)).Field("reason", t.reason);
    if (t.exit_code) w.Field("exit_code", *t.exit_code);
    if (t.signal) w.Field("signal", *t.signal);
    w.Field("attempts", t.attempts).EndObject();
  }
  w.EndArray().EndObject();
  w.Key("spec").Raw(first.spec_json);
  w.EndObject();
  return w.Take();
}

std::string Manager::ListJson(const JobFilter& f) {
  std::lock_guard<std::mutex> l(mu_);
  JsonWriter w;
  w.BeginObject().Key("jobs").BeginArray();
  auto rows = store_->ListJobs(f);
  for (const auto& j : rows) {
    w.BeginObject();
    WriteJob(w, j);
    w.EndObject();
  }
  w.EndArray();
  if (static_cast<int>(rows.size()) == f.limit && !rows.empty()) w.Field("next_after_id", rows.back().id);
  w.EndObject();
  return w.Take();
}

std::optional<std::string> Manager::LogPath(int64_t id, int attempt, const std::string& stream) {
  std::lock_guard<std::mutex> l(mu_);
  auto j = store_->GetJob(id);
  if (!j || j->attempts == 0) return std::nullopt;
  int n = attempt == 0 ? j->attempts : attempt;
  if (n < 1 || n > j->attempts) return std::nullopt;
  return AttemptFile(id, n, stream == "stderr" ? "stderr" : "stdout");
}

void Manager::ReadStore(const std::function<void(Store&)>& f) {
  std::lock_guard<std::mutex> l(mu_);
  f(*store_);
}

bool Manager::Ready() {
  std::lock_guard<std::mutex> l(mu_);
  return env_->MonotonicSeconds() - last_tick_ < 10 * opt_.tick_seconds + 5 && store_->Writable();
}

}  // namespace sluice::manager
